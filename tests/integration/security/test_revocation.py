"""Live sockets and tokens follow their authorisation (DESIGN.md §3 "Abuse resistance"): a
disabled account's open socket closes with 4403 within 5 s and its token opens no new one, a
logout ends its session's access tokens (api 401, socket 4401) within 5 s, and a socket closes
with 4401 when its token expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
import websockets
from scoreboard_api.domain.tokens import TokenIssuer
from scoreboard_devstack.servers import ServiceProcess

from tests.support.api import User, make_board, register_user
from tests.support.feeds import Feed, ws_url

WITHIN = 5.0  # seconds, the contract


@pytest.fixture
def private_board(http: httpx.Client, admin: dict[str, str]) -> str:
    return make_board(http, admin, access={"publicRead": False, "anonymousLive": False})


@pytest.fixture
async def ahttp(sec_api: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sec_api.url, timeout=15.0) as client:
        yield client


@pytest.fixture
async def feeds() -> AsyncIterator[list[Feed]]:
    opened: list[Feed] = []
    yield opened
    for feed in opened:
        await feed.close()


async def open_feed(realtime: ServiceProcess, board: str, token: str, feeds: list[Feed]) -> Feed:
    connection = await websockets.connect(
        ws_url(realtime, f"/ws/v1/leaderboards/{board}"),
        subprotocols=["bearer", token],  # type: ignore[list-item]
        open_timeout=5,
    )
    feed = Feed(connection)
    feeds.append(feed)
    return feed


async def wait_status(
    ahttp: httpx.AsyncClient, path: str, headers: dict[str, str], status: int
) -> float:
    """Seconds until ``GET path`` answers ``status`` (bounded by the contract + margin)."""
    started = time.monotonic()
    while True:
        response = await ahttp.get(path, headers=headers)
        if response.status_code == status:
            return time.monotonic() - started
        assert time.monotonic() - started < WITHIN + 5, (response.status_code, response.text)
        await asyncio.sleep(0.1)


async def test_disabling_an_account_closes_its_sockets_and_refuses_new_ones(
    http: httpx.Client,
    ahttp: httpx.AsyncClient,
    admin: dict[str, str],
    realtime: ServiceProcess,
    private_board: str,
    feeds: list[Feed],
) -> None:
    user = register_user(http, prefix="d")
    bystander = register_user(http, prefix="b")
    feed = await open_feed(realtime, private_board, user.access_token, feeds)
    other = await open_feed(realtime, private_board, bystander.access_token, feeds)
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    started = time.monotonic()
    disabled = await ahttp.put(
        f"/api/v1/admin/users/{user.user_id}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    code, reason = await feed.wait_closed(timeout=WITHIN)
    elapsed = time.monotonic() - started
    print(f"\ndisabled account's socket closed after {elapsed:.2f} s: {code} {reason}")
    assert (code, reason) == (4403, "account disabled")
    assert other.closed is None  # nobody else is touched
    again = await open_feed(realtime, private_board, user.access_token, feeds)
    assert (await again.wait_closed())[0] == 4403
    me = f"/api/v1/leaderboards/{private_board}/me"
    assert (await ahttp.get(me, headers=user.headers)).status_code == 401
    # Enabled again: the same token works again.
    enabled = await ahttp.put(
        f"/api/v1/admin/users/{user.user_id}", json={"disabled": False}, headers=admin
    )
    assert enabled.status_code == 200
    await wait_status(ahttp, me, user.headers, 404)  # no standing yet, but authorised


async def test_logout_ends_the_sessions_access_tokens_and_sockets(
    http: httpx.Client,
    ahttp: httpx.AsyncClient,
    realtime: ServiceProcess,
    private_board: str,
    feeds: list[Feed],
) -> None:
    user = register_user(http, prefix="l")
    second = http.post(
        "/api/v1/auth/login", json={"username": user.username, "password": user.password}
    ).json()  # another session of the same user: it stays valid
    other_headers = {"Authorization": f"Bearer {second['access_token']}"}
    feed = await open_feed(realtime, private_board, user.access_token, feeds)
    other_feed = await open_feed(realtime, private_board, second["access_token"], feeds)
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    me = f"/api/v1/leaderboards/{private_board}/me"
    assert (await ahttp.get(me, headers=user.headers)).status_code == 404
    started = time.monotonic()
    logout = await ahttp.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert logout.status_code == 204
    assert (await feed.wait_closed(timeout=WITHIN)) == (4401, "session ended")
    api_after = await wait_status(ahttp, me, user.headers, 401)
    print(
        f"\nlogout: socket closed after {time.monotonic() - started:.2f} s, api 401 after"
        f" {api_after:.2f} s"
    )
    assert (await ahttp.get(me, headers=user.headers)).json()["code"] == "unauthorized"
    refused = await open_feed(realtime, private_board, user.access_token, feeds)
    assert (await refused.wait_closed())[0] == 4401
    assert (await ahttp.get(me, headers=other_headers)).status_code == 404
    assert other_feed.closed is None


async def test_a_socket_closes_when_its_token_expires(
    http: httpx.Client,
    jwt_keys: tuple[Path, Path],
    realtime: ServiceProcess,
    private_board: str,
    feeds: list[Feed],
) -> None:
    user: User = register_user(http, prefix="e")
    issuer = TokenIssuer(jwt_keys[0].read_bytes(), issuer="scoreboard", audience="scoreboard")
    ttl = 3
    token = issuer.issue(
        subject=user.user_id, username=user.username, scopes=["scores:write:self"], ttl_seconds=ttl
    )
    expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
    feed = await open_feed(realtime, private_board, token, feeds)
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    code_reason = await feed.wait_closed(timeout=ttl + WITHIN)
    late = time.time() - expires
    print(f"\nexpired token's socket closed {late:.2f} s after exp: {code_reason}")
    assert code_reason == (4401, "token expired")
    assert -1.0 <= late <= WITHIN
