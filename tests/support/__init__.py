"""What the test tiers share, imported explicitly (never from a ``conftest.py``).

- :mod:`tests.support.waits`: :func:`wait_for`, :func:`seconds_until` and
  :func:`wait_for_async`, the one way a test waits for a condition.
- :mod:`tests.support.load`: :class:`WriteLoad`, a paced, bounded write load (chaos and cluster
  tiers).
- :mod:`tests.support.api`: the api over HTTP: :class:`User`, :func:`register_user`,
  :func:`make_board` / :func:`put_board` (limits out of the way), :func:`submit`,
  :func:`board_and_player` (async), :func:`assert_problem`.
- :mod:`tests.support.feeds`: :class:`Feed`, a live-feed client keeping every message;
  :func:`ws_url`, :func:`comparable`.
- :mod:`tests.support.psql`: :func:`psql` and :class:`Ledger` (row counts before/after an attack).
- :mod:`tests.support.services`: :func:`cli`, :func:`migrate`, :func:`migrated_database`,
  :func:`mint_token`, :func:`sync_redis`.

A tier's own helpers live next to its tests (``tests/chaos/stack.py``,
``tests/cluster/release.py``, ``tests/k8s/operator/harness.py``,
``tests/integration/realtime/redis_boards.py``); conftests hold fixtures only, and no module
imports one (``tests/unit/test_support.py`` checks). What the benchmarks share with the tests
lives in ``scoreboard_devstack`` (servers, ports, and :mod:`scoreboard_devstack.metrics` for
Prometheus figures of a running service).
"""

from tests.support.waits import seconds_until, wait_for, wait_for_async

__all__ = ["seconds_until", "wait_for", "wait_for_async"]
