"""Security suite helpers: one api replica with a strict CORS list, clients, and a snapshot of
what PostgreSQL holds so every attack can be shown to leave no stray row."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.integration.security import ALLOWED_ORIGIN
from tests.support.api import User, make_board, register_user
from tests.support.psql import Ledger


@pytest.fixture(scope="session")
def sec_api(start_api: Callable[..., ServiceProcess]) -> ServiceProcess:
    return start_api(CORS_ALLOWED_ORIGINS=f'["{ALLOWED_ORIGIN}"]')


@pytest.fixture(scope="session")
def http(sec_api: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sec_api.url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="session")
def admin(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture(scope="session")
def service(service_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_token}"}


@pytest.fixture
def victim(http: httpx.Client) -> User:
    return register_user(http, prefix="v")


@pytest.fixture
def attacker(http: httpx.Client) -> User:
    return register_user(http, prefix="a")


@pytest.fixture
def board(http: httpx.Client, admin: dict[str, str]) -> str:
    return make_board(http, admin)


@pytest.fixture
def ledger(postgres: PostgresServer, database_url: str) -> Ledger:
    return Ledger(postgres, database_url)
