"""Bounded password hashing: argon2id never starves the api.

Every hash or verification costs PASSWORD_HASH_MEMORY_KIB of memory (7 MiB by default) and
its CPU (~7 ms of one core at the default cost, services/passwords.py). They run on a
dedicated pool of ``workers`` threads (PASSWORD_HASH_CONCURRENCY), never on the default
executor whose size follows the node's CPU count, so the memory they take is bounded by
``workers x memory_cost`` whatever the node. Requests beyond the pool wait in a bounded
queue that is served round-robin by client (address, or /64 for IPv6), and one client never
runs on more than half of the threads (at least one): a client with many logins in flight
delays only itself, another client's login finds a thread free or takes the next one.

Refusals: a client with ``per_client`` hashes already waiting or running gets 429
``auth_busy`` at once; a full queue, or a wait longer than ``max_wait`` seconds, gets 503
``auth_overloaded``. Both carry ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram

from scoreboard_api.domain.errors import ProblemError

T = TypeVar("T")
BUSY_NICENESS = (
    19  # the lowest: a login burst yields the cores to serving (bench/login_isolation.py)
)

HASH_REFUSED = Counter(
    "scoreboard_password_hash_refused_total",
    "Password hashes refused because the bounded pool was busy.",
    ["reason"],
)
HASH_WAITING = Gauge("scoreboard_password_hash_waiting", "Password hashes waiting for a thread.")
HASH_RUNNING = Gauge("scoreboard_password_hash_running", "Password hashes running.")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HASH_SECONDS = Histogram(
    "scoreboard_password_hash_seconds", "Time of one password hash on its thread.", buckets=_BUCKETS
)
HASH_WAIT_SECONDS = Histogram(
    "scoreboard_password_hash_wait_seconds",
    "Time a password hash waited for a thread.",
    buckets=_BUCKETS,
)


class HashPool:
    def __init__(
        self, *, workers: int, queue_limit: int, per_client: int, max_wait_seconds: float
    ) -> None:
        self.workers = workers
        self.queue_limit = queue_limit
        self.per_client = per_client
        self.max_wait = max_wait_seconds
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="argon2")
        # Hashes of a client with more sign-ins in progress (a flood, or a busy NAT) run on
        # threads of lower OS priority, so under CPU contention a lone login keeps its speed.
        # Both pools share the same ``workers`` slots: memory stays bounded the same way.
        self._busy_executor = ThreadPoolExecutor(
            workers, thread_name_prefix="argon2-busy", initializer=_lower_priority
        )
        self._free = workers
        self._waiting = 0
        # Clients with waiters, in round-robin order; each holds its waiters in FIFO order.
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._held: dict[str, int] = {}  # waiting + running per client
        self._running_by: dict[str, int] = {}
        self.per_client_running = max(1, workers // 2)

    @property
    def running(self) -> int:
        return self.workers - self._free

    @property
    def waiting(self) -> int:
        return self._waiting

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._busy_executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, client: str, function: Callable[..., T], *args: object) -> T:
        """Run ``function(*args)`` on the pool on behalf of ``client``."""
        held = self._held.get(client, 0)
        if held >= self.per_client:
            HASH_REFUSED.labels("per_client").inc()
            raise ProblemError(
                429,
                "auth_busy",
                "too many sign-ins from this address are in progress; retry shortly",
                headers={"Retry-After": "1"},
            )
        if self._free == 0 and self._waiting >= self.queue_limit:
            HASH_REFUSED.labels("queue_full").inc()
            raise _overloaded()
        self._held[client] = held + 1
        try:
            queued = time.perf_counter()
            await self._acquire(client)
            HASH_WAIT_SECONDS.observe(time.perf_counter() - queued)
            HASH_RUNNING.set(self.running)
            loop = asyncio.get_running_loop()
            busy = self._held.get(client, 0) > 1
            executor = self._busy_executor if busy else self._executor
            future = loop.run_in_executor(executor, _timed, function, *args)
            # The thread keeps its slot until it has finished, even if the request is gone.
            future.add_done_callback(lambda _: self._release(client))
            return await asyncio.shield(future)
        finally:
            remaining = self._held.get(client, 1) - 1
            if remaining > 0:
                self._held[client] = remaining
            else:
                self._held.pop(client, None)

    def _may_run(self, client: str) -> bool:
        return self._running_by.get(client, 0) < self.per_client_running

    def _grant(self, client: str) -> None:
        self._running_by[client] = self._running_by.get(client, 0) + 1

    async def _acquire(self, client: str) -> None:
        # Invariant: while a thread is free, every waiter belongs to a client at its cap.
        if self._free > 0 and self._may_run(client):
            self._free -= 1
            self._grant(client)
            return
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._queues.setdefault(client, deque()).append(turn)
        self._waiting += 1
        HASH_WAITING.set(self._waiting)
        try:
            done, _ = await asyncio.wait({turn}, timeout=self.max_wait)
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release(client)  # granted just as the request went away: hand it on
            else:
                self._discard(client, turn)
            raise
        finally:
            self._waiting -= 1
            HASH_WAITING.set(self._waiting)
        if not done:
            self._discard(client, turn)
            HASH_REFUSED.labels("wait_timeout").inc()
            raise _overloaded()

    def _discard(self, client: str, turn: asyncio.Future[None]) -> None:
        turn.cancel()
        queue = self._queues.get(client)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(turn)
            if not queue:
                self._queues.pop(client, None)

    def _release(self, client: str) -> None:
        """``client`` finished on a thread: give the thread to the next client in round-robin
        order that is below its running cap, or mark it free."""
        running = self._running_by.get(client, 1) - 1
        if running > 0:
            self._running_by[client] = running
        else:
            self._running_by.pop(client, None)
        for waiting_client in list(self._queues):
            if not self._may_run(waiting_client):
                continue
            queue = self._queues[waiting_client]
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    break
            else:
                del self._queues[waiting_client]
                continue
            if queue:
                self._queues.move_to_end(waiting_client)
            else:
                del self._queues[waiting_client]
            self._grant(waiting_client)
            turn.set_result(None)
            HASH_RUNNING.set(self.running)
            return
        self._free += 1
        HASH_RUNNING.set(self.running)


def _lower_priority() -> None:
    """Thread initializer: raise this thread's nice value (Linux threads have their own;
    raising it needs no privilege). Elsewhere it is a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BUSY_NICENESS)


def _timed(function: Callable[..., T], *args: object) -> T:
    started = time.perf_counter()
    try:
        return function(*args)
    finally:
        HASH_SECONDS.observe(time.perf_counter() - started)


def _overloaded() -> ProblemError:
    return ProblemError(
        503,
        "auth_overloaded",
        "sign-in is busy; retry shortly",
        headers={"Retry-After": "1"},
    )
