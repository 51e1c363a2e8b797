"""The api as the tests drive it over HTTP: players, boards, submissions, problem details.

Sync functions take an ``httpx.Client`` whose ``base_url`` is an api (a process of the session,
a chaos stack's or the cluster's ingress); :func:`board_and_player` is the async set-up.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

PASSWORD = "correct-horse-battery-staple-7"


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


def register_user(http: httpx.Client, prefix: str = "u", password: str | None = None) -> User:
    """Register a new player and sign in."""
    username = f"{prefix}{secrets.token_hex(5)}"
    password = password or secrets.token_urlsafe(12)
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


async def board_and_player(
    http: httpx.AsyncClient, admin_token: str, prefix: str
) -> tuple[str, str, str]:
    """Create a board (size 5) with the admin token and a signed-in player; return
    ``(board, username, access_token)``."""
    board = f"{prefix}-{secrets.token_hex(4)}"
    created = await http.put(
        f"/api/v1/admin/leaderboards/{board}",
        json={"displayName": board, "size": 5, "generation": 1},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert created.status_code == 200, created.text
    username = f"{prefix[0]}{secrets.token_hex(4)}"
    registered = await http.post(
        "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return board, username, str(login.json()["access_token"])


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
