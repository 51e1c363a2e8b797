"""A stack of its own for the seed tests (database, Redis, api, realtime): the seeds play on the
board `default`, which these tests redefine (e.g. signed), so no other test shares it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from scoreboard_devstack.servers import PostgresServer, RedisServer, ServiceProcess

from tests.support.services import migrated_database

ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture(scope="package")
def seed_redis(tmp_root: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_root / f"redis-seeds-{secrets.token_hex(3)}", durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def seed_database(postgres: PostgresServer, base_env: dict[str, str]) -> Iterator[str]:
    with migrated_database(postgres, base_env, "sb_seeds") as url:
        yield url


@pytest.fixture(scope="package")
def seed_api(
    start_api: ServiceFactory, seed_database: str, seed_redis: RedisServer
) -> ServiceProcess:
    return start_api(DATABASE_URL=seed_database, REDIS_URL=seed_redis.url)


@pytest.fixture(scope="package")
def seed_realtime(
    start_realtime: ServiceFactory, seed_api: ServiceProcess, seed_redis: RedisServer
) -> ServiceProcess:
    return start_realtime(REDIS_URL=seed_redis.url, PUBLIC_API_URL=seed_api.url)


@pytest.fixture(scope="package")
def http(seed_api: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=seed_api.url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="package")
def admin(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture(scope="package")
def ws_base(seed_realtime: ServiceProcess) -> str:
    return f"ws://127.0.0.1:{seed_realtime.port}"
