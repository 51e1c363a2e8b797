"""Chaos tier: each test gets a stack of its OWN (PostgreSQL, Redis, api and realtime
processes built from the devstack classes), so killing or exhausting them never touches the rest
of the session. Load is bounded in count and time, loopback only; figures are printed
(``pytest -s`` shows them)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync
from scoreboard_common.keys import BoardKeys
from scoreboard_devstack.servers import PostgresServer, RedisServer, ServiceProcess, free_port

from tests.conftest import cli, migrate
from tests.integration.api.conftest import User, make_board, register_user

# Limits out of the way: the faults are the subject here, not the rate limiter.
CHAOS_API_ENV = {
    "HEALTH_CHECK_INTERVAL_SECONDS": "0.2",
    "FALLBACK_RATE_LIMIT_PER_MINUTE": "1000000",
    "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until true; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except (httpx.HTTPError, redis_sync.RedisError):
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
        except (httpx.HTTPError, redis_sync.RedisError):
            pass
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s: {what}"
        await asyncio.sleep(0.05)


def figures(title: str, **values: Any) -> None:
    """One line of figures for the report (visible with ``pytest -s``)."""
    text = " ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    print(f"\n[chaos] {title}: {text}", flush=True)


@dataclass
class Stack:
    """PostgreSQL + Redis + services of one test."""

    root: Path
    base_env: dict[str, str]
    log_dir: Path
    admin_key: str
    postgres: PostgresServer = field(init=False)
    redis: RedisServer = field(init=False)
    database_url: str = field(init=False)
    services: list[ServiceProcess] = field(default_factory=list)

    def start(self, redis_args: Sequence[str] = ()) -> None:
        self.postgres = PostgresServer(self.root / "postgres", durable=False)
        self.postgres.start()
        self.database_url = self.postgres.create_database("chaos")
        migrate({**self.base_env, "DATABASE_URL": self.database_url})
        self.redis = RedisServer(self.root / "redis", durable=False, extra_args=redis_args)
        self.redis.start()

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.redis.stop()
        self.postgres.stop()

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def _service(self, name: str, env: dict[str, str]) -> ServiceProcess:
        port = free_port()
        argv = [cli(f"scoreboard-{name}"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = ServiceProcess(name, argv, port, env, self.log_dir)
        self.services.append(process)
        process.start()
        return process

    def start_api(self, **overrides: str) -> ServiceProcess:
        env = {
            **self.base_env,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            **CHAOS_API_ENV,
            **overrides,
        }
        return self._service("api", env)

    def start_realtime(self, **overrides: str) -> ServiceProcess:
        return self._service(
            "realtime", {**self.base_env, "REDIS_URL": self.redis.url, **overrides}
        )

    def sql(self, query: str) -> str:
        return self.postgres.psql("chaos", query).strip()

    def pg_totals(self, board: str) -> dict[str, int]:
        rows = self.sql(f"SELECT user_id, total FROM scores WHERE board = '{board}'")
        return {line.split("|")[0]: int(line.split("|")[1]) for line in rows.splitlines() if line}

    def pg_events(self, board: str) -> dict[str, tuple[str, int]]:
        """action_id → (user_id, increment) of every audit row; asserts none is doubled."""
        rows = self.sql(
            f"SELECT action_id, user_id, increment FROM score_events WHERE board = '{board}'"
        )
        events: dict[str, tuple[str, int]] = {}
        for line in rows.splitlines():
            action_id, user_id, increment = line.split("|")
            assert action_id not in events, f"action {action_id} stored twice"
            events[action_id] = (user_id, int(increment))
        return events

    def redis_totals(self, board: str, client: redis_sync.Redis | None = None) -> dict[str, int]:
        if client is None:
            with redis_sync.Redis.from_url(self.redis.url) as r:
                return self.redis_totals(board, r)
        members = client.zrange(BoardKeys(board).rank, 0, -1, withscores=True)
        return {m.decode().rsplit(":", 1)[1]: int(-score) for m, score in members}


@pytest.fixture
def stack_factory(
    base_env: dict[str, str], log_dir: Path, admin_api_key: str
) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []
    roots: list[Path] = []

    def make(redis_args: Sequence[str] = ()) -> Stack:
        root = Path(tempfile.mkdtemp(prefix="scoreboard-chaos-"))
        root.chmod(0o755)
        roots.append(root)
        stack = Stack(root, base_env, log_dir, admin_api_key)
        stacks.append(stack)
        stack.start(redis_args)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    return stack_factory()


def board_and_users(api: ServiceProcess, stack: Stack, players: int = 4) -> tuple[str, list[User]]:
    with httpx.Client(base_url=api.url, timeout=10) as http:
        board = make_board(http, stack.admin)
        users = [register_user(http, prefix="c") for _ in range(players)]
    return board, users


# ---- write load ---------------------------------------------------------------------------


@dataclass
class Attempt:
    action_id: str
    user_id: str
    increment: int
    statuses: list[int | str] = field(default_factory=list)  # HTTP status or exception name
    acknowledged: bool = False
    retry_after_missing: int = 0
    latencies: list[float] = field(default_factory=list)


class WriteLoad:
    """Threads submitting scores with fresh action_ids at no more than ``rate`` writes per
    second, bounded by ``max_writes`` and ``duration``. The pace makes the load last as long on
    a fast machine as on a slow one, so a test moves through its phases by waiting on what the
    load has done (``count_after``), then calls ``stop()``; the bounds are only a safety net.
    With ``retry``, a failed write (5xx or a broken connection) is resent with the SAME
    action_id, to the next url, until it is acknowledged or ``retries`` are used up."""

    def __init__(
        self,
        urls: Sequence[str],
        board: str,
        users: Sequence[User],
        *,
        workers: int = 4,
        max_writes: int = 2000,
        duration: float = 8.0,
        rate: float = 200.0,
        retry: bool = False,
        retries: int = 40,
        timeout: float = 10.0,
    ) -> None:
        self.urls = list(urls)
        self.board = board
        self.users = list(users)
        self.workers = workers
        self.max_writes = max_writes
        self.duration = duration
        self.interval = workers / rate  # seconds between two writes of one worker
        self.retry = retry
        self.retries = retries
        self.timeout = timeout
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.events: list[tuple[float, int | str]] = []  # (monotonic, status) of every request
        self.started = 0.0

    def __enter__(self) -> WriteLoad:
        self.started = time.monotonic()
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.join()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(self.duration + self.timeout * 3 + 30)
        assert not any(t.is_alive() for t in self._threads), "load threads did not finish"

    def stop(self) -> None:
        self._stop.set()

    def _next(self, index: int) -> Attempt | None:
        with self._lock:
            if len(self.attempts) >= self.max_writes:
                return None
            user = self.users[len(self.attempts) % len(self.users)]
            attempt = Attempt(f"chaos-{uuid.uuid4().hex}", user.user_id, 1 + index % 5)
            attempt.user_id = user.user_id
            self.attempts.append(attempt)
            return attempt

    def _run(self, index: int) -> None:
        clients = [httpx.Client(base_url=url, timeout=self.timeout) for url in self.urls]
        try:
            target = index % len(clients)
            next_at = time.monotonic()
            while not self._stop.is_set() and time.monotonic() - self.started < self.duration:
                if self._stop.wait(max(0.0, next_at - time.monotonic())):
                    return
                next_at = max(next_at + self.interval, time.monotonic() - self.interval)
                attempt = self._next(index)
                if attempt is None:
                    return
                user = next(u for u in self.users if u.user_id == attempt.user_id)
                body = {
                    "action_id": attempt.action_id,
                    "score_increment": attempt.increment,
                    "timestamp": datetime.now(UTC).isoformat(),
                }
                for _try in range(self.retries if self.retry else 1):
                    status = self._post(clients[target], attempt, user, body)
                    if status == 200:
                        break
                    target = (target + 1) % len(clients)  # next replica
                    time.sleep(0.05)
        finally:
            for client in clients:
                client.close()

    def _post(
        self, client: httpx.Client, attempt: Attempt, user: User, body: dict[str, Any]
    ) -> int | str:
        started = time.monotonic()
        status: int | str
        try:
            response = client.post(
                f"/api/v1/leaderboards/{self.board}/scores", json=body, headers=user.headers
            )
            status = response.status_code
            if status == 200:
                data = response.json()
                assert data["action_id"] == attempt.action_id
                assert data["increment"] == attempt.increment
                attempt.acknowledged = True
            elif status == 503 and "retry-after" not in response.headers:
                attempt.retry_after_missing += 1
        except httpx.HTTPError as error:
            status = type(error).__name__
        attempt.statuses.append(status)
        attempt.latencies.append(time.monotonic() - started)
        with self._lock:
            self.events.append((time.monotonic(), status))
        return status

    # ---- figures ----

    @property
    def acknowledged(self) -> list[Attempt]:
        return [a for a in list(self.attempts) if a.acknowledged]

    def status_counts(self) -> Counter[int | str]:
        return Counter(status for _, status in self.events)

    def count_after(self, mark: float) -> int:
        """How many requests finished after a ``time.monotonic()`` mark."""
        with self._lock:
            return sum(1 for at, _ in self.events if at > mark)

    def wait_acknowledged(self, count: int, timeout: float = 30.0) -> float:
        """Wait until ``count`` writes are acknowledged; returns the seconds it took."""
        return wait_for(lambda: len(self.acknowledged) >= count, timeout, f"{count} acks")

    def during(self, start: float, end: float) -> Counter[int | str]:
        """Statuses of the requests that finished between two ``time.monotonic()`` marks."""
        return Counter(status for at, status in self.events if start <= at <= end)

    @property
    def elapsed(self) -> float:
        return (max(at for at, _ in self.events) - self.started) if self.events else 0.0

    def acked_sum_by_user(self) -> dict[str, int]:
        sums: dict[str, int] = {}
        for attempt in self.acknowledged:
            sums[attempt.user_id] = sums.get(attempt.user_id, 0) + attempt.increment
        return sums


def check_postgres_matches(
    stack: Stack, board: str, load: WriteLoad, also_sent: Collection[str] = ()
) -> dict[str, int]:
    """Every acknowledged write is in PostgreSQL exactly once, with its increment; every total
    equals the sum of its audit rows (no partial write). Returns the PostgreSQL totals."""
    events = stack.pg_events(board)
    for attempt in load.acknowledged:
        assert attempt.action_id in events, f"acknowledged write {attempt.action_id} lost"
        assert events[attempt.action_id] == (attempt.user_id, attempt.increment)
    totals = stack.pg_totals(board)
    sums: dict[str, int] = {}
    for user_id, increment in events.values():
        sums[user_id] = sums.get(user_id, 0) + increment
    assert totals == sums, "a total differs from the sum of its audit rows"
    known = {a.action_id for a in load.attempts} | set(also_sent)
    assert set(events) <= known, "a row nobody sent"
    return totals


def psql_background(stack: Stack, sql: str) -> subprocess.Popen[str]:
    """A psql session running ``sql`` in the background (e.g. holding a lock)."""
    return subprocess.Popen(
        [
            str(stack.postgres.bin_dir / "psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-p",
            str(stack.postgres.port),
            "-U",
            "postgres",
            "-d",
            "chaos",
            "-c",
            sql,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
