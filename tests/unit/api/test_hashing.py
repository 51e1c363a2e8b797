"""The bounded password-hashing pool: caps, fairness between clients, refusals."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from scoreboard_api.domain.errors import ProblemError
from scoreboard_api.services.hashing import BUSY_NICENESS, HashPool
from scoreboard_common.netaddr import client_group


def blocker(gate: threading.Event, started: list[str], name: str) -> str:
    started.append(name)
    assert gate.wait(10)
    return name


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def test_a_flooding_client_leaves_a_thread_for_another_client() -> None:
    pool = HashPool(workers=2, queue_limit=10, per_client=3, max_wait_seconds=5)
    gate, other_gate, started = threading.Event(), threading.Event(), list[str]()
    try:
        flood = [
            asyncio.create_task(pool.run("a", blocker, gate, started, f"a{i}")) for i in range(3)
        ]
        await wait_for(lambda: started == ["a0"] and pool.waiting == 2)
        with pytest.raises(ProblemError) as refused:
            await pool.run("a", blocker, gate, started, "a3")
        assert (refused.value.status, refused.value.code) == (429, "auth_busy")
        assert refused.value.headers["Retry-After"] == "1"
        other = asyncio.create_task(pool.run("b", blocker, other_gate, started, "b0"))
        await wait_for(lambda: "b0" in started)  # b runs while a's queue still waits
        assert pool.running == 2
        other_gate.set()
        assert await other == "b0"
        gate.set()
        assert sorted(await asyncio.gather(*flood)) == ["a0", "a1", "a2"]
        assert (pool.running, pool.waiting) == (0, 0)
    finally:
        gate.set()
        other_gate.set()
        pool.close()


async def test_full_queue_and_long_waits_are_503() -> None:
    pool = HashPool(workers=1, queue_limit=1, per_client=5, max_wait_seconds=0.2)
    gate, started = threading.Event(), list[str]()
    try:
        first = asyncio.create_task(pool.run("a", blocker, gate, started, "a0"))
        await wait_for(lambda: started == ["a0"])
        waiting = asyncio.create_task(pool.run("b", blocker, gate, started, "b0"))
        await wait_for(lambda: pool.waiting == 1)
        with pytest.raises(ProblemError) as full:
            await pool.run("c", blocker, gate, started, "c0")
        assert (full.value.status, full.value.code) == (503, "auth_overloaded")
        with pytest.raises(ProblemError) as timed_out:
            await waiting
        assert (timed_out.value.status, timed_out.value.code) == (503, "auth_overloaded")
        gate.set()
        assert await first == "a0"
        assert await pool.run("c", lambda: "done") == "done"
        assert (pool.running, pool.waiting) == (0, 0)
    finally:
        gate.set()
        pool.close()


def test_client_groups_ipv6_by_64() -> None:
    assert client_group("2001:db8:1:2:aaaa::1") == client_group("2001:db8:1:2:ffff::9")
    assert client_group("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_group("2001:db8:1:3::1") != client_group("2001:db8:1:2::1")
    assert client_group("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_group("192.0.2.7") == "192.0.2.7"
    assert client_group(None) == "-"


def own_niceness(gate: threading.Event | None = None) -> int:
    if gate is not None:
        assert gate.wait(10)
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def test_a_busy_clients_hashes_run_at_lower_os_priority() -> None:
    pool = HashPool(workers=2, queue_limit=10, per_client=4, max_wait_seconds=5)
    gate = threading.Event()
    try:
        base = own_niceness()
        lone = await pool.run("b", own_niceness)
        # Three sign-ins of one client: while one runs, the others wait; the second starts while
        # the third still waits, so it is a busy client's hash.
        tasks = [asyncio.create_task(pool.run("a", own_niceness, gate)) for _ in range(3)]
        await wait_for(lambda: pool.running == 1 and pool.waiting == 2)
        gate.set()
        first, second, _third = await asyncio.gather(*tasks)
        assert lone == base and first == base
        assert second >= min(base + BUSY_NICENESS, 19), (base, second)
    finally:
        gate.set()
        pool.close()
