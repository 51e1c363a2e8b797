"""What the test tiers share, imported explicitly (never from a ``conftest.py``).

- :mod:`tests.support.waits`: :func:`wait_for`, :func:`seconds_until` and
  :func:`wait_for_async`, the one way a test waits for a condition.
- :mod:`tests.support.load`: :class:`WriteLoad`, a paced, bounded write load (chaos and cluster
  tiers).
"""

from tests.support.waits import seconds_until, wait_for, wait_for_async

__all__ = ["seconds_until", "wait_for", "wait_for_async"]
