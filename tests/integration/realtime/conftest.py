"""Helpers for the live-feed tests: boards written straight into Redis with the shared
BoardStore and events published on the shared channels (that is the api↔realtime contract),
tokens signed with the session's key, and a WebSocket client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from scoreboard_common.auth import jwk_thumbprint
from scoreboard_common.board_store import BoardStore
from scoreboard_common.redis_client import create_redis
from scoreboard_devstack.servers import ServiceProcess

from tests.integration.realtime.redis_boards import Boards, ServiceFactory
from tests.support.feeds import Feed


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


@pytest.fixture
async def boards(redis_url: str) -> AsyncIterator[Boards]:
    redis = create_redis(redis_url)  # one server or a cluster (--redis-cluster)
    yield Boards(redis, BoardStore(redis))
    await redis.aclose()


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


@pytest.fixture
def fresh_redis(redis_factory: Any) -> Any:
    """A Redis (or Redis Cluster) of the test's own, persistent so it can be restarted with
    its data."""
    return redis_factory(durable=True)
