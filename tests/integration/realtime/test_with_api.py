"""The live feed driven by the real api: a score submitted over HTTP reaches WebSocket clients,
and what they get equals ``GET /top``."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from scoreboard_devstack.servers import ServiceProcess

from tests.support.feeds import Feed, comparable, ws_url

ServiceFactory = Callable[..., ServiceProcess]
PASSWORD = "correct-horse-battery-staple-7"


async def new_board(http: httpx.AsyncClient, admin_token: str, **spec: Any) -> str:
    board = f"rt-{secrets.token_hex(4)}"
    response = await http.put(
        f"/api/v1/admin/leaderboards/{board}",
        json={"displayName": board, "size": 5, "generation": 1, **spec},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 200, response.text
    return board


async def new_player(http: httpx.AsyncClient) -> tuple[str, str]:
    """Register and log in a player; returns ``(user_id, access_token)``."""
    username = f"p{secrets.token_hex(4)}"
    created = await http.post(
        "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    login = await http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return created.json()["user_id"], login.json()["access_token"]


async def submit(http: httpx.AsyncClient, board: str, token: str, points: int) -> dict[str, Any]:
    response = await http.post(
        f"/api/v1/leaderboards/{board}/scores",
        json={
            "action_id": str(uuid.uuid4()),
            "score_increment": points,
            "timestamp": datetime.now(UTC).isoformat(),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def top(http: httpx.AsyncClient, board: str) -> dict[str, Any]:
    response = await http.get(f"/api/v1/leaderboards/{board}/top")
    assert response.status_code == 200, response.text
    return comparable(response.json())


@pytest.fixture
async def http(api: ServiceProcess) -> Any:
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
        yield client


async def test_api_writes_reach_clients_and_equal_get_top(
    realtime: ServiceProcess,
    http: httpx.AsyncClient,
    admin_token: str,
    connect: Callable[..., Any],
) -> None:
    board = await new_board(http, admin_token)
    alice, alice_token = await new_player(http)
    _bob, bob_token = await new_player(http)
    watcher: Feed = await connect(ws_url(realtime, f"/ws/v1/leaderboards/{board}"))
    own: Feed = await connect(
        ws_url(realtime, f"/ws/v1/leaderboards/{board}"), subprotocols=["bearer", alice_token]
    )
    for feed in (watcher, own):
        assert comparable(await feed.wait_for(lambda m: m["type"] == "snapshot")) == await top(
            http, board
        )
    await submit(http, board, bob_token, 5)
    result = await submit(http, board, alice_token, 3)
    await submit(http, board, alice_token, 4)
    expected = await top(http, board)
    for feed in (watcher, own):
        final = await feed.wait_version(expected["version"])
        assert comparable(final) == expected
    rank = await own.wait_for(lambda m: m["type"] == "rank" and m["score"] == 7)
    assert rank == {"type": "rank", "user_id": alice, "rank": 1, "score": 7}
    assert result["new_total_score"] == 3
    assert all(m["type"] == "snapshot" for m in watcher.messages)


async def test_asc_latest_board_with_metadata_reaches_clients_as_get_top(
    realtime: ServiceProcess,
    http: httpx.AsyncClient,
    admin_token: str,
    connect: Callable[..., Any],
) -> None:
    """A time-trial board (lower is better, latest time counts): the live snapshot carries the
    same order and the same metadata as ``GET /top``."""
    board = await new_board(http, admin_token, order="asc", operator="latest")
    alice, alice_token = await new_player(http)
    bob, bob_token = await new_player(http)
    feed: Feed = await connect(ws_url(realtime, f"/ws/v1/leaderboards/{board}"))
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    for token, seconds, car in ((alice_token, 95, "red"), (bob_token, 90, None)):
        body: dict[str, Any] = {
            "action_id": str(uuid.uuid4()),
            "score": seconds,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        if car:
            body["metadata"] = {"car": car}
        response = await http.post(
            f"/api/v1/leaderboards/{board}/scores",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
    expected = await top(http, board)
    final = await feed.wait_version(expected["version"])
    assert comparable(final) == expected
    assert [(e["user_id"], e["score"], e["metadata"]) for e in final["entries"]] == [
        (bob, 90, None),
        (alice, 95, {"car": "red"}),
    ]


async def test_reconnect_gets_what_get_top_returns(
    realtime: ServiceProcess,
    http: httpx.AsyncClient,
    admin_token: str,
    connect: Callable[..., Any],
) -> None:
    board = await new_board(http, admin_token)
    _user, token = await new_player(http)
    feed: Feed = await connect(ws_url(realtime, f"/ws/v1/leaderboards/{board}"))
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    await feed.close()
    await submit(http, board, token, 11)  # while disconnected
    again: Feed = await connect(ws_url(realtime, f"/ws/v1/leaderboards/{board}"))
    first = await again.wait_for(lambda m: m["type"] == "snapshot")
    assert comparable(first) == await top(http, board)


async def test_tokens_verified_through_the_api_jwks(
    api: ServiceProcess,
    start_realtime: ServiceFactory,
    http: httpx.AsyncClient,
    admin_token: str,
    connect: Callable[..., Any],
) -> None:
    service = start_realtime(
        AUTH_PUBLIC_KEY_FILE="", AUTH_JWKS_URL=f"{api.url}/.well-known/jwks.json"
    )
    board = await new_board(http, admin_token, access={"publicRead": True, "anonymousLive": False})
    user, token = await new_player(http)
    anonymous: Feed = await connect(ws_url(service, f"/ws/v1/leaderboards/{board}"))
    assert (await anonymous.wait_closed())[0] == 4403
    signed_in: Feed = await connect(ws_url(service, f"/ws/v1/leaderboards/{board}?token={token}"))
    await signed_in.wait_for(lambda m: m["type"] == "snapshot")
    await submit(http, board, token, 2)
    rank = await signed_in.wait_for(lambda m: m["type"] == "rank")
    assert rank["user_id"] == user and rank["score"] == 2
