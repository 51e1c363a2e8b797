"""Waiting on conditions, never on the clock.

A test polls the condition it needs and goes on as soon as it holds: a fast machine waits
less, a slow one more. ``timeout`` is only a ceiling that turns a condition that never comes
into a failure naming ``what`` (and the last value seen), instead of a hung run. ``what`` may
be a function, called only on failure, to describe what was seen (e.g. a log's contents).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import redis

T = TypeVar("T")

# What a server that is starting, restarting or moving answers: "not yet", for ``ignoring``.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    httpx.HTTPError,
    redis.RedisError,
    ConnectionError,
)


Described = str | Callable[[], str]


def _timed_out(what: Described, timeout: float, last: object) -> AssertionError:
    text = what() if callable(what) else what
    return AssertionError(f"timed out after {timeout:g} s waiting for {text} (last: {last!r})")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    what: Described = "the condition",
    *,
    interval: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that value.
    ``ignoring``: exceptions that mean "not yet" (a server restarting, say)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignoring as error:
            value = error  # type: ignore[assignment]
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, value)
        time.sleep(interval)


def seconds_until(
    predicate: Callable[[], object],
    timeout: float = 10.0,
    what: Described = "the condition",
    *,
    ignoring: tuple[type[BaseException], ...] = (),
) -> float:
    """``wait_for``, returning how long it took (for the figures a test prints)."""
    started = time.monotonic()
    wait_for(predicate, timeout, what, ignoring=ignoring)
    return time.monotonic() - started


async def wait_for_async(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 10.0,
    what: Described = "the condition",
    *,
    interval: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """The same inside an event loop; ``predicate`` may be a plain or an async function."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            outcome = predicate()
            value: T = await outcome if inspect.isawaitable(outcome) else outcome  # type: ignore[assignment]
        except ignoring as error:
            value = error  # type: ignore[assignment]
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, value)
        await asyncio.sleep(interval)
