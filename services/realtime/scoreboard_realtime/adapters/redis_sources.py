"""Reads the live feed needs from Redis: board snapshots (the shared BoardStore, so a pushed
snapshot equals ``GET /top``) and board policies (``sb:{board}:policy``, written by the api)."""

from __future__ import annotations

import logging

import msgspec
from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore, TopSnapshot
from scoreboard_common.keys import BoardKeys
from scoreboard_common.metrics import DEPENDENCY_ERRORS
from scoreboard_common.policy import PublicPolicy, decode_public_policy

log = logging.getLogger("scoreboard.realtime.redis")


class RedisSnapshotSource:
    def __init__(self, redis: Redis) -> None:
        self.store = BoardStore(redis)

    async def top(self, board: str, limit: int) -> TopSnapshot:
        try:
            return await self.store.top(board, limit)
        except Exception:
            DEPENDENCY_ERRORS.labels("redis").inc()
            raise


class RedisPolicySource:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, board: str) -> PublicPolicy | None:
        """The board's policy, or None when the board does not exist."""
        try:
            raw = await self.redis.get(BoardKeys(board).policy)
        except Exception:
            DEPENDENCY_ERRORS.labels("redis").inc()
            raise
        if raw is None:
            return None
        try:
            return decode_public_policy(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.error("unreadable board policy", extra={"board": board, "error": str(error)})
            return PublicPolicy(board=board)
