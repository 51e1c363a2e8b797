"""Helpers shared by the api integration tests: HTTP clients, users, boards."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from scoreboard_devstack.servers import ServiceProcess


@dataclass
class User:
    user_id: str
    username: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def new_board_name(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_action() -> str:
    return f"act-{uuid.uuid4().hex}"


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


def register_user(http: httpx.Client, prefix: str = "u") -> User:
    username = f"{prefix}{secrets.token_hex(5)}"
    password = secrets.token_urlsafe(12)
    created = http.post("/api/v1/auth/register", json={"username": username, "password": password})
    assert created.status_code == 201, created.text
    login = http.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    tokens = login.json()
    return User(
        created.json()["user_id"],
        username,
        password,
        tokens["access_token"],
        tokens["refresh_token"],
    )


@pytest.fixture
def user(client: httpx.Client) -> User:
    return register_user(client)


# Test boards take writes from users and game servers (the policy's default is users only)
# and have limits out of the way, unless a test says otherwise.
OPEN_LIMITS: dict[str, Any] = {
    "writers": ["users", "services"],
    "rateLimit": {
        "perUser": {"limit": 100000, "windowSeconds": 60},
        "perIP": {"limit": 100000, "windowSeconds": 60},
    },
    "fraud": {"maxPointsPerMinute": 10**12, "burstCount": 10000, "onViolation": "flag"},
}


def put_board(
    http: httpx.Client, headers: dict[str, str], name: str, generation: int = 1, **spec: Any
) -> httpx.Response:
    body = {"size": 10, **OPEN_LIMITS, **spec, "generation": generation}
    return http.put(f"/api/v1/admin/leaderboards/{name}", json=body, headers=headers)


def make_board(http: httpx.Client, headers: dict[str, str], **spec: Any) -> str:
    name = new_board_name()
    response = put_board(http, headers, name, **spec)
    assert response.status_code == 200, response.text
    return name


def submit(
    http: httpx.Client,
    board: str,
    headers: dict[str, str],
    increment: int | None = 1,
    action_id: str | None = None,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"action_id": action_id or new_action(), "timestamp": now_iso()}
    if increment is not None:
        body["score_increment"] = increment
    body.update(extra)
    return http.post(f"/api/v1/leaderboards/{board}/scores", json=body, headers=headers)
