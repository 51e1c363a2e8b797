"""One way for tests to wait: poll a condition until it holds or a deadline passes, and say
what was awaited when it does not. Never sleep-then-assert: wait on what should happen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import redis as redis_sync

# Errors that mean "not yet" while a server starts, restarts or moves.
T = TypeVar("T")

TRANSIENT = (httpx.HTTPError, redis_sync.RedisError, ConnectionError)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until true; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except TRANSIENT:
            pass
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s: {what}"
        time.sleep(0.05)


async def async_wait_for(
    predicate: Callable[[], Awaitable[bool]], timeout: float, what: str
) -> float:
    """``wait_for`` for an async predicate, without blocking the event loop."""
    started = time.monotonic()
    while True:
        try:
            if await predicate():
                return time.monotonic() - started
        except TRANSIENT:
            pass
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s: {what}"
        await asyncio.sleep(0.05)


def wait_for_value(
    produce: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2
) -> T:
    """Poll until ``produce()`` returns something truthy, and return it; an error counts as
    not yet (the last one is in the failure message)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = produce()
            if value:
                return value
            last = value
        except (*TRANSIENT, OSError, KeyError, ValueError, RuntimeError) as error:
            last = error
        assert time.monotonic() < deadline, f"timed out after {timeout}s: {what} (last: {last!r})"
        time.sleep(interval)
