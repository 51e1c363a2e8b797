"""What the test tiers share, imported explicitly (never from a ``conftest.py``).

- :mod:`tests.support.waits`: :func:`wait_for` and :func:`wait_for_async`, the one way a test
  waits for a condition.
"""

from tests.support.waits import wait_for, wait_for_async

__all__ = ["wait_for", "wait_for_async"]
