"""The garbage collector in long-running services.

A service imports tens of thousands of long-lived objects (modules, classes, the framework's
routing tables, settings). CPython's full (generation 2) collection walks all of them: tens of
milliseconds during which the event loop serves nothing, i.e. the p99 of every request that
arrives meanwhile (docs/benchmarks.md, "GET /top: the tail"). :func:`settle_heap`, called once
start-up is over, moves everything alive into the permanent generation (``gc.freeze``), so full
collections only walk what was allocated since, and makes them rarer.

Young collections are spaced out too. A young collection walks every young object still alive,
which under load is the state of every request in flight: ~130 µs each on a 2-core machine, and
at CPython's default (700 net allocations) one every ~17 score writes, ~3 % of a write's CPU.
At 10,000 a write load of 30,000 requests triggered none (the in-flight state never reaches
it), and what garbage cycles remain are still collected, 10,000 objects at most later
(docs/benchmarks.md, "Phase 12").
"""

from __future__ import annotations

import gc

# A young collection every this many net allocations of tracked objects (CPython's default is
# 700; 3.13 raised it to 2,000).
YOUNG_COLLECTION_EVERY = 10_000
# A full collection needs this many collections of generation 1 (CPython's default is 10).
FULL_COLLECTION_EVERY = 50


def settle_heap() -> None:
    """Collect once, freeze the survivors, and space out young and full collections.
    Idempotent."""
    gc.collect()
    gc.freeze()
    _, threshold1, _ = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, threshold1, FULL_COLLECTION_EVERY)
