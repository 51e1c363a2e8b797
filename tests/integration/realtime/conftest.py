"""Helpers for the live-feed tests: boards written straight into Redis with the shared
BoardStore and events published on the shared channels (that is the api↔realtime contract),
tokens signed with the session's key, and a WebSocket client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import msgspec
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from redis.asyncio import Redis
from scoreboard_common.auth import jwk_thumbprint
from scoreboard_common.board_store import BoardStore, Standing, TopSnapshot
from scoreboard_common.events import (
    BOARD_CHANNEL,
    SCORE_CHANNEL,
    BoardChanged,
    BoardChangeKind,
    ScoreChanged,
    encode_event,
)
from scoreboard_common.keys import BoardKeys
from scoreboard_common.redis_client import create_redis
from scoreboard_devstack.servers import ServiceProcess

ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture(scope="session")
def rt(start_realtime: ServiceFactory) -> ServiceProcess:
    """The realtime replica most tests use: short stuck-client limit, quick pings."""
    return start_realtime(WS_SEND_TIMEOUT_SECONDS="1", WS_PING_INTERVAL_SECONDS="5")


@pytest.fixture(scope="session")
def mint(jwt_keys: tuple[Path, Path]) -> Callable[..., str]:
    private_key = jwt_keys[0].read_bytes()
    public_key = load_pem_public_key(jwt_keys[1].read_bytes())
    assert isinstance(public_key, EllipticCurvePublicKey)
    kid = jwk_thumbprint(jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True))

    def mint(subject: str, *, ttl: int = 600, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "sub": subject,
            "iss": "scoreboard",
            "aud": "scoreboard",
            "iat": now,
            "nbf": now - 1,
            "exp": now + ttl,
            "preferred_username": subject,
            "scope": "",
            **claims,
        }
        return jwt.encode(payload, private_key, algorithm="ES256", headers={"kid": kid})

    return mint


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


def comparable(snapshot: TopSnapshot | dict[str, Any]) -> dict[str, Any]:
    """A snapshot as JSON without the per-read fields (type, generated_at)."""
    data = snapshot if isinstance(snapshot, dict) else json.loads(msgspec.json.encode(snapshot))
    return {k: v for k, v in data.items() if k not in ("type", "generated_at")}


@pytest.fixture
async def boards(redis_url: str) -> AsyncIterator[Boards]:
    redis = create_redis(redis_url)  # one server or a cluster (--redis-cluster)
    yield Boards(redis, BoardStore(redis))
    await redis.aclose()


def ws_url(service: ServiceProcess, path: str) -> str:
    return f"ws://127.0.0.1:{service.port}{path}"


class Feed:
    """A WebSocket client that keeps every message it receives."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.messages: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self.closed: tuple[int | None, str | None] | None = None
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self.messages.append(json.loads(raw))
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        rcvd = self.connection.protocol.close_rcvd
        self.closed = (rcvd.code, rcvd.reason) if rcvd else (None, None)
        self._new.set()

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "snapshot"]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self.closed is not None:
                raise AssertionError(
                    f"no matching message (closed={self.closed}); got {self.messages[-3:]}"
                )
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def wait_version(self, version: int, timeout: float = 5.0) -> dict[str, Any]:
        """The first snapshot at or above ``version``."""
        return await self.wait_for(
            lambda m: m["type"] == "snapshot" and m["version"] >= version, timeout
        )

    async def wait_closed(self, timeout: float = 5.0) -> tuple[int | None, str | None]:
        """``(code, reason)`` of the close frame the server sent."""
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        assert self.closed is not None
        return self.closed

    async def close(self) -> None:
        await self.connection.close()
        await self._task


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Any]]:
    feeds: list[Feed] = []

    async def open_feed(url: str, **options: Any) -> Feed:
        connection = await websockets.connect(url, open_timeout=5, **options)
        feed = Feed(connection)
        feeds.append(feed)
        return feed

    yield open_feed
    for feed in feeds:
        await feed.close()


def close_code(closed: tuple[int | None, str | None]) -> tuple[int | None, str | None]:
    return closed


def metric_value(service: ServiceProcess, name: str, **labels: str) -> float:
    text = httpx.get(f"{service.url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


@pytest.fixture
def fresh_redis(redis_factory: Any) -> Any:
    """A Redis (or Redis Cluster) of the test's own, persistent so it can be restarted with
    its data."""
    return redis_factory(durable=True)
