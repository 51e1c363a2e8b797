"""Fixtures of the api integration tests: an HTTP client of the session's api, admin and
service headers, a fresh player. The helpers they use live in :mod:`tests.support.api`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from scoreboard_devstack.servers import ServiceProcess

from tests.support.api import User, register_user


@pytest.fixture(scope="session")
def client(api: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=15.0) as http:
        yield http


@pytest.fixture(scope="session")
def admin_headers(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture(scope="session")
def service_headers(service_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_token}"}


@pytest.fixture
def user(client: httpx.Client) -> User:
    return register_user(client)
