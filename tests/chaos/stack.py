"""Chaos tier helpers: each test gets a stack of its OWN (PostgreSQL, Redis, api and realtime
processes built from the devstack classes), so killing or exhausting them never touches the rest
of the session. Load is bounded in count and time, loopback only; figures are printed
(``pytest -s`` shows them)."""

from __future__ import annotations

import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis as redis_sync
from scoreboard_common.keys import BoardKeys
from scoreboard_devstack.servers import PostgresServer, RedisServer, ServiceProcess, free_port

from tests.support.api import User, make_board, register_user
from tests.support.load import WriteLoad
from tests.support.services import cli, migrate

# Limits out of the way: the faults are the subject here, not the rate limiter.
CHAOS_API_ENV = {
    "HEALTH_CHECK_INTERVAL_SECONDS": "0.2",
    "FALLBACK_RATE_LIMIT_PER_MINUTE": "1000000",
    "AUTH_RATE_LIMIT_PER_MINUTE": "100000",
}


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


def board_and_users(api: ServiceProcess, stack: Stack, players: int = 4) -> tuple[str, list[User]]:
    with httpx.Client(base_url=api.url, timeout=10) as http:
        board = make_board(http, stack.admin)
        users = [register_user(http, prefix="c") for _ in range(players)]
    return board, users


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
