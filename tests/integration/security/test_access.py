"""Horizontal and vertical access control, and rate-limit evasion attempts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from scoreboard_devstack.servers import ServiceProcess

from tests.support import wait_for_async
from tests.support.api import (
    User,
    assert_problem,
    make_board,
    new_action,
    now_iso,
    register_user,
    submit,
)
from tests.support.feeds import Feed, ws_url
from tests.support.psql import Ledger


def test_a_user_cannot_write_or_read_another_users_private_data(
    http: httpx.Client,
    admin: dict[str, str],
    service: dict[str, str],
    victim: User,
    attacker: User,
    ledger: Ledger,
) -> None:
    board = make_board(http, admin, access={"publicRead": True, "anonymousLive": True})
    assert submit(http, board, victim.headers, 7).status_code == 200
    before = ledger.snapshot(board)
    url = f"/api/v1/leaderboards/{board}/scores"
    # Writing the victim's score with the attacker's token: 403, whatever the spelling.
    for user_id in (victim.user_id, victim.user_id.upper(), "{" + victim.user_id + "}"):
        body = {
            "action_id": new_action(),
            "timestamp": now_iso(),
            "score_increment": 50,
            "user_id": user_id,
        }
        response = http.post(url, json=body, headers=attacker.headers)
        assert response.status_code in (400, 403), (user_id, response.text)
    assert_problem(
        submit(http, board, attacker.headers, 50, user_id=victim.user_id), 403, "forbidden"
    )
    # The seed route too.
    seed = http.post(
        "/api/scores/update",
        json={"userId": victim.user_id, "scoreIncrement": 50, "actionId": new_action()},
        headers=attacker.headers,
    )
    assert seed.status_code in (400, 403, 404), seed.text
    # Action ids are scoped per player: the attacker using the victim's action_id (first or
    # after) only writes the attacker's own score, and never blocks or reveals the victim's.
    victim_action, squatted = new_action(), new_action()
    assert submit(http, board, victim.headers, 1, action_id=victim_action).status_code == 200
    for action_id in (victim_action, squatted):
        stolen = submit(http, board, attacker.headers, 1, action_id=action_id)
        assert stolen.status_code == 200, stolen.text
        assert stolen.json()["user_id"] == attacker.user_id and not stolen.json()["replayed"]
        assert victim.user_id not in stolen.text
    claimed = submit(http, board, victim.headers, 1, action_id=squatted)
    assert claimed.status_code == 200 and not claimed.json()["replayed"], claimed.text
    before = ledger.snapshot(board)
    # /me is the caller's own standing, never someone else's.
    me = http.get(f"/api/v1/leaderboards/{board}/me", headers=attacker.headers)
    assert me.status_code == 404 or me.json()["user_id"] == attacker.user_id
    mine = http.get(f"/api/v1/leaderboards/{board}/me", headers=victim.headers).json()
    assert mine["user_id"] == victim.user_id and mine["score"] == 9
    for query in (f"?user_id={victim.user_id}", f"?userId={victim.user_id}"):
        response = http.get(f"/api/v1/leaderboards/{board}/me{query}", headers=attacker.headers)
        assert response.status_code == 404 or response.json()["user_id"] == attacker.user_id
    assert ledger.snapshot(board) == before
    # A game server (scores:write:any) may write for anyone; a user token may not.
    assert submit(http, board, service, 3, user_id=victim.user_id).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/v1/admin/leaderboards/{board}", {"size": 1, "generation": 50}),
        ("DELETE", "/api/v1/admin/leaderboards/{board}", None),
        ("POST", "/api/v1/admin/leaderboards/{board}/reset", {"season": 9}),
        ("GET", "/api/v1/admin/leaderboards/{board}/stats", None),
        ("POST", "/api/v1/admin/leaderboards/{board}/players/{victim}/void", {"reason": "x"}),
        ("PUT", "/api/v1/admin/users/{victim}", {"disabled": True}),
    ],
)
def test_admin_endpoints_refuse_user_and_service_tokens(
    http: httpx.Client,
    admin: dict[str, str],
    service: dict[str, str],
    victim: User,
    attacker: User,
    ledger: Ledger,
    method: str,
    path: str,
    body: Any,
) -> None:
    board = make_board(http, admin)
    assert submit(http, board, victim.headers, 4).status_code == 200
    before = ledger.snapshot(board)
    url = path.format(board=board, victim=victim.user_id)
    assert_problem(http.request(method, url, json=body), 401, "unauthorized")
    for headers in (attacker.headers, service):
        assert_problem(http.request(method, url, json=body, headers=headers), 403, "forbidden")
    assert ledger.snapshot(board) == before
    assert http.get(f"/api/v1/leaderboards/{board}/me", headers=victim.headers).json()["score"] == 4


def test_service_only_board_refuses_user_writes(
    http: httpx.Client, admin: dict[str, str], service: dict[str, str], victim: User
) -> None:
    board = make_board(http, admin, writers=["services"])
    refused = submit(http, board, victim.headers, 1)
    assert refused.status_code == 403, refused.text
    assert submit(http, board, service, 1, user_id=victim.user_id).status_code == 200


def _ip_limited(limit: int) -> dict[str, Any]:
    return {
        "rateLimit": {
            "perUser": {"limit": 1000, "windowSeconds": 60},
            "perIP": {"limit": limit, "windowSeconds": 60},
        }
    }


def test_forwarded_headers_from_an_untrusted_peer_do_not_evade_limits(
    http: httpx.Client, admin: dict[str, str], ledger: Ledger
) -> None:
    board = make_board(http, admin, **_ip_limited(3))
    users = [register_user(http) for _ in range(6)]
    statuses = []
    spoofs = [
        {"X-Forwarded-For": "203.0.113.1"},
        {"X-Forwarded-For": "203.0.113.2, 127.0.0.1"},
        {"X-Real-IP": "198.51.100.3"},
        {"Forwarded": "for=198.51.100.4"},
        {"X-Forwarded-For": "garbage, ::1"},
        {"True-Client-IP": "192.0.2.9", "X-Client-IP": "192.0.2.10"},
    ]
    for user, spoof in zip(users, spoofs, strict=True):
        statuses.append(submit(http, board, {**user.headers, **spoof}, 1).status_code)
    assert statuses == [200, 200, 200, 429, 429, 429], statuses
    # Exactly the three accepted writes are stored.
    count = ledger.snapshot(board)["totals"].count("=")
    assert count == 3


def test_limits_hold_across_two_replicas(
    http: httpx.Client, admin: dict[str, str], start_api: Callable[..., ServiceProcess]
) -> None:
    board = make_board(http, admin, **_ip_limited(4))
    other = start_api()
    users = [register_user(http) for _ in range(8)]
    with httpx.Client(base_url=other.url, timeout=10) as second:
        statuses = [
            submit(client, board, user.headers, 1).status_code
            for client, user in zip([http, second] * 4, users, strict=True)
        ]
    assert statuses.count(200) == 4 and statuses.count(429) == 4, statuses
    assert statuses[:4] == [200] * 4


async def test_websocket_floods_from_one_ip_are_limited(
    start_realtime: Callable[..., ServiceProcess],
    http: httpx.Client,
    admin: dict[str, str],
) -> None:
    limit = 5
    # The only trusted proxy is elsewhere, so this loopback peer is an untrusted client.
    # (realtime's default trusts 127.0.0.1, uvicorn's convention; see the report.)
    service = start_realtime(WS_MAX_CONNECTIONS_PER_IP=str(limit), TRUSTED_PROXIES='["192.0.2.1"]')
    board = make_board(http, admin)
    url = ws_url(service, f"/ws/v1/leaderboards/{board}")
    feeds = [Feed(await websockets.connect(url, open_timeout=5)) for _ in range(limit)]
    for feed in feeds:
        await feed.wait_for(lambda m: m["type"] == "snapshot")
    refused = 0
    for index in range(30):
        headers = {"X-Forwarded-For": f"203.0.113.{index}"}  # untrusted: ignored
        with pytest.raises(websockets.InvalidStatus) as error:
            await websockets.connect(url, open_timeout=5, additional_headers=headers)
        assert error.value.response.status_code == 403
        refused += 1
    assert refused == 30
    # The admitted clients are unaffected, and a slot frees up when one leaves.
    await feeds[0].close()

    async def reconnected() -> Feed | None:
        try:
            return Feed(await websockets.connect(url, open_timeout=5))
        except websockets.InvalidStatus:  # the server has not seen the close yet
            return None

    again = await wait_for_async(reconnected, 30, "the freed slot to be reusable", interval=0.1)
    await again.wait_for(lambda m: m["type"] == "snapshot")
    for feed in [*feeds[1:], again]:
        await feed.close()
