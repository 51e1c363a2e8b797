"""A stale cached /top answer is revalidated by one request at a time; the others keep serving
it meanwhile, unless a write through this replica invalidated it."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from scoreboard_api.services import reads


class SlowStore:
    """``version`` blocks until released, counting the calls."""

    def __init__(self, version: int) -> None:
        self.current = version
        self.calls = 0
        self.release = asyncio.Event()

    async def version(self, board: str) -> int:
        self.calls += 1
        await self.release.wait()
        return self.current


def fake(store: SlowStore, checked_ago: float | None) -> Any:
    key = ("b", 10)
    container = SimpleNamespace(
        store=store,
        settings=SimpleNamespace(top_cache_fresh_ms=100),
        top_cache={key: (7, b"cached")},
        top_checked={} if checked_ago is None else {key: time.monotonic() - checked_ago},
        top_revalidating=set(),
        top_epoch=0,
    )
    return container, SimpleNamespace(name="b")


async def test_one_request_revalidates_the_others_serve_the_cached_bytes() -> None:
    store = SlowStore(version=7)
    container, policy = fake(store, checked_ago=1.0)  # past the 100 ms window
    first = asyncio.create_task(reads._top_from_redis(container, policy, 10))
    await asyncio.sleep(0)
    others = await asyncio.wait_for(  # without the feature they all wait on Redis: a timeout
        asyncio.gather(*(reads._top_from_redis(container, policy, 10) for _ in range(9))), 2
    )
    assert others == [b"cached"] * 9 and store.calls == 1
    store.release.set()
    assert await first == b"cached"
    assert container.top_revalidating == set()
    assert time.monotonic() - container.top_checked[("b", 10)] < 1.0  # confirmed again


async def test_after_a_local_write_every_request_asks() -> None:
    store = SlowStore(version=7)
    container, policy = fake(store, checked_ago=None)  # forget_top() dropped the check
    tasks = [asyncio.create_task(reads._top_from_redis(container, policy, 10)) for _ in range(3)]
    await asyncio.sleep(0)
    assert store.calls == 3
    store.release.set()
    assert await asyncio.gather(*tasks) == [b"cached"] * 3


async def test_a_write_during_a_revalidation_leaves_the_answer_unconfirmed() -> None:
    """The version read before a local write must not make the cache fresh after it."""
    store = SlowStore(version=7)
    container, policy = fake(store, checked_ago=1.0)
    first = asyncio.create_task(reads._top_from_redis(container, policy, 10))
    await asyncio.sleep(0)
    container.top_epoch += 1  # what Container.forget_top does, with dropping the check
    container.top_checked.clear()
    store.release.set()
    assert await first == b"cached"
    assert ("b", 10) not in container.top_checked  # the next request asks Redis again
