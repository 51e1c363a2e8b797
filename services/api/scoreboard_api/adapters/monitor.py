"""Watches PostgreSQL and Redis, keeps the ``scoreboard_dependency_up`` gauges, and rebuilds a
board's Redis state from PostgreSQL whenever it may be missing or stale: after Redis comes
back, when its keys vanished (a restart without persistence), or after a failed post-commit
update. A rebuild is ``BoardStore.replace_all`` followed by ``BoardChanged(kind="rebuilt")``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore
from scoreboard_common.events import BoardChanged
from scoreboard_common.keys import BoardKeys
from scoreboard_common.metrics import DEPENDENCY_ERRORS, DEPENDENCY_UP
from scoreboard_common.ranking import decode_score, guard_mode
from scoreboard_common.redis_client import raise_if_cancelled
from scoreboard_common.telemetry import current_traceparent

from scoreboard_api.adapters import pg_boards, pg_scores
from scoreboard_api.adapters.policy_cache import PolicyCache, policy_from_row
from scoreboard_api.adapters.postgres import Database
from scoreboard_api.adapters.redis_side import RedisSide
from scoreboard_api.domain.policy import BoardPolicy
from scoreboard_api.metrics import BOARD_PLAYERS, BOARD_REBUILDS, BOARD_TOP_SCORE

log = logging.getLogger("scoreboard.monitor")

RebuildReason = Literal["created", "reset", "missing", "dirty"]
# Kept dirty when another replica holds the lock: a write that failed here, or a reset, may
# have committed after that rebuild read PostgreSQL. A created or missing board is not: the
# holder is writing its keys, and a later tick that finds them missing again looks again.
_RETRIED: frozenset[RebuildReason] = frozenset({"reset", "dirty"})


class DependencyMonitor:
    def __init__(
        self,
        *,
        db: Database,
        redis: Redis,
        store: BoardStore,
        side: RedisSide,
        policies: PolicyCache,
        interval: float,
    ) -> None:
        self.db = db
        self.redis = redis
        self.store = store
        self.side = side
        self.policies = policies
        self.interval = interval
        self.redis_up = True
        self.postgres_up = True
        self.dirty: set[str] = set()
        self._redis_failures = 0
        self._ticks = 0
        DEPENDENCY_UP.labels("redis").set(1)
        DEPENDENCY_UP.labels("postgres").set(1)

    def redis_failed(self, board: str | None = None) -> None:
        """Called by request paths when a Redis call failed."""
        DEPENDENCY_ERRORS.labels("redis").inc()
        if board is not None:
            self.dirty.add(board)

    async def ping_redis(self) -> bool:
        try:
            await asyncio.wait_for(self.redis.ping(), 1.0)
        except Exception:
            # Drop pooled connections: ones opened while the server refused clients (maxclients)
            # or died can stay broken; the next ping then starts from fresh connections.
            with contextlib.suppress(Exception):
                await self.redis.connection_pool.disconnect()
            return False
        return True

    async def check_once(self) -> None:
        # Two failed pings in a row before degrading: a Redis busy for a second (a big MULTI)
        # is not down. Boards written while it was away are marked dirty by the write path;
        # boards whose keys vanished are found below: only those are rebuilt.
        self._redis_failures = 0 if await self.ping_redis() else self._redis_failures + 1
        redis_ok = self._redis_failures < 2
        postgres_ok = await self.db.ping()
        if redis_ok and not self.redis_up:
            log.info("redis is back", extra={"dirty_boards": len(self.dirty)})
        if not redis_ok and self.redis_up:
            log.warning("redis is unreachable; degrading")
        if postgres_ok != self.postgres_up:
            log.warning("postgres is %s", "back" if postgres_ok else "unreachable")
        self.redis_up = redis_ok
        self.postgres_up = postgres_ok
        DEPENDENCY_UP.labels("redis").set(int(redis_ok))
        DEPENDENCY_UP.labels("postgres").set(int(postgres_ok))
        if redis_ok and postgres_ok and self.policies.loaded:
            missing = await self._find_missing(list(self.policies.boards.values())) - self.dirty
            await self.rebuild_dirty()
            await self._rebuild_missing(missing)
        self._ticks += 1
        if redis_ok and self._ticks % 5 == 0:
            await self._update_board_gauges()

    async def _find_missing(self, boards: list[BoardPolicy]) -> set[str]:
        """Boards whose keys are absent or hold another season than PostgreSQL's."""
        missing: set[str] = set()
        if not boards:
            return missing
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for policy in boards:
                    keys = BoardKeys(policy.name)
                    pipe.exists(keys.version)
                    pipe.get(keys.season)
                    pipe.exists(keys.policy)
                results: list[Any] = await pipe.execute()
        except Exception:
            return missing
        for index, policy in enumerate(boards):
            has_version, season, has_policy = results[index * 3 : index * 3 + 3]
            if not has_version or not has_policy or int(season or 0) != policy.season:
                missing.add(policy.name)
        return missing

    async def _rebuild_missing(self, boards: set[str]) -> None:
        """Rebuild boards whose keys were missing (not retried: see ``_RETRIED``)."""
        for board in sorted(boards):
            try:
                await self.rebuild(board, reason="missing")
            except Exception as error:
                log.warning("rebuild of %s failed: %s", board, error)

    async def _update_board_gauges(self) -> None:
        boards = list(self.policies.boards)
        if not boards:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for board in boards:
                    keys = BoardKeys(board)
                    pipe.zcard(keys.rank)
                    pipe.zrange(keys.rank, 0, 0, withscores=True)
                results: list[Any] = await pipe.execute()
        except Exception:
            return
        for index, board in enumerate(boards):
            players, first = results[index * 2 : index * 2 + 2]
            BOARD_PLAYERS.labels(board).set(int(players))
            BOARD_TOP_SCORE.labels(board).set(decode_score(first[0][1]) if first else 0)

    async def rebuild_dirty(self) -> None:
        for board in sorted(self.dirty):
            self.dirty.discard(board)
            try:
                await self.rebuild(board, reason="dirty")
            except Exception as error:
                log.warning("rebuild of %s failed: %s", board, error)
                self.dirty.add(board)

    async def rebuild(
        self,
        board: str,
        *,
        reason: RebuildReason,
        wait: float = 0.0,
        announce: bool = True,
    ) -> int | None:
        """Make the board's Redis state PostgreSQL's current season; returns the new version.

        One rebuild per board at a time across replicas (a Redis lock). A caller that must see
        its change in Redis (a season reset) waits up to ``wait`` seconds for the lock; the
        season and scoring are read from PostgreSQL under the lock, so a rebuild that started
        before a reset can never write the old season over the new one.
        """
        lock = f"{BoardKeys(board).prefix}:rebuild-lock"
        if not await self._acquire(lock, wait):
            # Another replica is rebuilding it, or a failed attempt could not release the lock
            # (it expires in 10 s).
            if reason in _RETRIED:
                self.dirty.add(board)
            return None
        try:
            if reason == "missing" and not await self._still_missing(board):
                return None  # rebuilt by another replica since this one looked
            version = await self._rebuild_locked(board, announce=announce)
        finally:
            await self.redis.delete(lock)
        if version is not None:
            BOARD_REBUILDS.labels(board, reason).inc()
        return version

    async def _still_missing(self, board: str) -> bool:
        policy = self.policies.get(board)
        return policy is not None and board in await self._find_missing([policy])

    async def _acquire(self, lock: str, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while not await self.redis.set(lock, "1", nx=True, px=10_000):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _rebuild_locked(self, board: str, *, announce: bool) -> int | None:
        row = await pg_boards.get_board(self.db, board)
        if row is None:
            return None
        cached = self.policies.get(board)
        policy = policy_from_row(row, cached.banned if cached else frozenset())
        started = datetime.now(UTC) - timedelta(seconds=1)
        order = policy.spec.order
        guard = guard_mode(order, policy.spec.operator)
        standings = await pg_scores.all_standings(self.db, board, policy.season)
        version = await self.store.replace_all(
            board, policy.season, standings, order=order, guard=guard
        )
        # Writes that committed while we read may have been wiped by replace_all: re-apply
        # them (apply_total never applies a stale standing, so this is safe).
        for standing in await pg_scores.standings_updated_since(
            self.db, board, policy.season, started
        ):
            applied = await self.store.apply_total(board, standing, order=order, guard=guard)
            version = applied.version
        await self.side.write_policy(policy.public())
        if announce:
            await self.side.publish_board(
                BoardChanged(
                    board=board,
                    kind="rebuilt",
                    generation=policy.generation,
                    version=version,
                    traceparent=current_traceparent(),
                )
            )
        log.info(
            "rebuilt board from postgres",
            extra={"board": board, "players": len(standings), "version": version},
        )
        return version

    async def run(self) -> None:
        while True:
            raise_if_cancelled()
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dependency check failed")
            await asyncio.sleep(self.interval)
