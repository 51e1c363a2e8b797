"""Boards written straight into Redis with the shared BoardStore and events published on the shared channels (the api-realtime contract), without an api."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.events import (
    BOARD_CHANNEL,
    SCORE_CHANNEL,
    BoardChanged,
    BoardChangeKind,
    ScoreChanged,
    encode_event,
)
from scoreboard_common.keys import BoardKeys
from scoreboard_devstack.servers import ServiceProcess

from tests.support.feeds import comparable

ServiceFactory = Callable[..., ServiceProcess]


@dataclass
class Boards:
    redis: Redis
    store: BoardStore

    async def create(
        self,
        *,
        size: int = 10,
        anonymous: bool = True,
        interval_ms: int = 50,
        name: str | None = None,
    ) -> str:
        board = name or f"t-{secrets.token_hex(4)}"
        spec = {
            "board": board,
            "displayName": board,
            "size": size,
            "access": {"publicRead": True, "anonymousLive": anonymous},
            "broadcast": {"minIntervalMs": interval_ms},
        }
        await self.redis.set(BoardKeys(board).policy, json.dumps(spec))
        return board

    async def set_policy(self, board: str, **spec: Any) -> None:
        await self.redis.set(BoardKeys(board).policy, json.dumps({"board": board, **spec}))
        await self.changed(board, "policy")

    async def changed(self, board: str, kind: BoardChangeKind) -> None:
        await self.redis.publish(BOARD_CHANNEL, encode_event(BoardChanged(board=board, kind=kind)))

    async def score(
        self, board: str, user: str, total: int, *, publish: bool = True, name: str | None = None
    ) -> int:
        username = name or user.upper()
        result = await self.store.apply_total(
            board,
            Standing(user_id=user, username=username, total=total, reached_at=datetime.now(UTC)),
        )
        if publish:
            event = ScoreChanged(
                board=board,
                season=1,
                version=result.version,
                user_id=user,
                username=username,
                total=total,
                rank=result.rank,
                increment=1,
            )
            await self.redis.publish(SCORE_CHANNEL, encode_event(event))
        return result.version

    async def top(self, board: str, limit: int = 10) -> dict[str, Any]:
        return comparable(await self.store.top(board, limit))
