"""The garbage collector in long-running services.

A service imports tens of thousands of long-lived objects (modules, classes, the framework's
routing tables, settings). CPython's full (generation 2) collection walks all of them: tens of
milliseconds during which the event loop serves nothing, i.e. the p99 of every request that
arrives meanwhile (docs/benchmarks.md, "GET /top: the tail"). :func:`settle_heap`, called once
start-up is over, moves everything alive into the permanent generation (``gc.freeze``), so full
collections only walk what was allocated since, and makes them rarer.
"""

from __future__ import annotations

import gc

# Young collections stay frequent (cheap, they bound memory); a full collection needs this many
# collections of generation 1 (CPython's default is 10).
FULL_COLLECTION_EVERY = 50


def settle_heap() -> None:
    """Collect once, freeze the survivors, and space out full collections. Idempotent."""
    gc.collect()
    gc.freeze()
    threshold0, threshold1, _ = gc.get_threshold()
    gc.set_threshold(threshold0, threshold1, FULL_COLLECTION_EVERY)
