"""The write path: idempotency, concurrency, authorisation, policy rules, bad input."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.support import wait_for
from tests.support.api import (
    User,
    make_board,
    new_action,
    new_board_name,
    now_iso,
    register_user,
    submit,
)
from tests.support.psql import psql


def test_submit_replay_and_conflict(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    body = {"action_id": new_action(), "timestamp": now_iso(), "score_increment": 7}
    url = f"/api/v1/leaderboards/{board}/scores"
    first = client.post(url, json=body, headers=user.headers)
    assert first.status_code == 200
    assert first.json() == {
        "leaderboard": board,
        "user_id": user.user_id,
        "action_id": body["action_id"],
        "increment": 7,
        "new_total_score": 7,
        "rank": 1,
        "replayed": False,
    }
    assert "Idempotent-Replayed" not in first.headers
    assert first.headers["RateLimit-Policy"]
    replay = client.post(url, json=body, headers=user.headers)
    assert replay.status_code == 200
    assert replay.json()["replayed"] is True
    assert replay.json()["new_total_score"] == 7
    assert replay.headers["Idempotent-Replayed"] == "true"
    conflict = client.post(url, json={**body, "score_increment": 8}, headers=user.headers)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "action_conflict"
    me = client.get(f"/api/v1/leaderboards/{board}/me", headers=user.headers)
    assert me.json()["score"] == 7


def test_row_is_visible_with_plain_sql(
    client: httpx.Client,
    admin_headers: dict[str, str],
    user: User,
    postgres: PostgresServer,
    database_url: str,
) -> None:
    board = make_board(client, admin_headers)
    action = new_action()
    assert submit(client, board, user.headers, 3, action_id=action).status_code == 200
    assert submit(client, board, user.headers, 4).status_code == 200
    total = psql(
        postgres,
        database_url,
        f"SELECT total FROM scores WHERE board = '{board}' AND user_id = '{user.user_id}'",
    )
    assert total == "7"
    event = psql(
        postgres,
        database_url,
        f"SELECT increment || ',' || new_total || ',' || host(client_ip) FROM score_events "
        f"WHERE board = '{board}' AND action_id = '{action}'",
    )
    assert event == "3,3,127.0.0.1"


async def test_same_action_fifty_times_in_parallel_counts_once(
    api: ServiceProcess, client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    body = {"action_id": new_action(), "timestamp": now_iso(), "score_increment": 5}
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        responses = await asyncio.gather(
            *[
                http.post(f"/api/v1/leaderboards/{board}/scores", json=body, headers=user.headers)
                for _ in range(50)
            ]
        )
    assert [r.status_code for r in responses] == [200] * 50
    assert sum(1 for r in responses if not r.json()["replayed"]) == 1
    assert {r.json()["new_total_score"] for r in responses} == {5}
    me = client.get(f"/api/v1/leaderboards/{board}/me", headers=user.headers)
    assert me.json()["score"] == 5


async def test_fifty_different_actions_in_parallel_all_count(
    api: ServiceProcess, client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        responses = await asyncio.gather(
            *[
                http.post(
                    f"/api/v1/leaderboards/{board}/scores",
                    json={"action_id": new_action(), "timestamp": now_iso(), "score_increment": 2},
                    headers=user.headers,
                )
                for _ in range(50)
            ]
        )
    assert [r.status_code for r in responses] == [200] * 50
    assert sorted(r.json()["new_total_score"] for r in responses) == list(range(2, 101, 2))
    top = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert top["entries"][0]["score"] == 100
    assert client.get(f"/api/v1/leaderboards/{board}/players/{user.user_id}").json()["score"] == 100


def test_other_users_score_needs_service_scope(
    client: httpx.Client, admin_headers: dict[str, str], user: User, service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers)
    victim = str(uuid.uuid4())
    refused = submit(client, board, user.headers, 5, user_id=victim)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    own = submit(client, board, user.headers, 5, user_id=user.user_id)
    assert own.status_code == 200
    served = submit(client, board, service_headers, 9, user_id=victim)
    assert served.status_code == 200, served.text
    assert served.json()["user_id"] == victim
    users_only = make_board(client, admin_headers, writers=["users"])
    assert submit(client, users_only, service_headers, 1, user_id=victim).status_code == 403
    services_only = make_board(client, admin_headers, writers=["services"])
    response = submit(client, services_only, user.headers, 1)
    assert response.status_code == 403
    assert response.json()["code"] == "writer_not_allowed"


def test_a_board_without_writers_takes_only_its_players_own_scores(
    client: httpx.Client, admin_headers: dict[str, str], user: User, service_headers: dict[str, str]
) -> None:
    """DESIGN §5: ``writers`` defaults to ``[users]``, in the api as in the CRD."""
    board = new_board_name()
    created = client.put(
        f"/api/v1/admin/leaderboards/{board}", json={"generation": 1}, headers=admin_headers
    )
    assert created.status_code == 200, created.text
    assert created.json()["spec"]["writers"] == ["users"]
    assert submit(client, board, user.headers, 1).status_code == 200
    refused = submit(client, board, service_headers, 1, user_id=user.user_id)
    assert refused.status_code == 403
    assert refused.json()["code"] == "writer_not_allowed"


def test_unknown_and_suspended_boards(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    missing = submit(client, "no-such-board", user.headers, 1)
    assert missing.status_code == 404
    assert missing.json()["code"] == "board_not_found"
    assert submit(client, "Bad_Name!", user.headers, 1).status_code == 404
    board = make_board(client, admin_headers, suspended=True)
    suspended = submit(client, board, user.headers, 1)
    assert suspended.status_code == 403
    assert suspended.json()["code"] == "board_suspended"


def test_action_points_and_increment_bounds(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(
        client, admin_headers, scoring={"maxIncrement": 50, "actions": {"win": 10, "quest": 25}}
    )
    won = submit(client, board, user.headers, None, action="win")
    assert won.status_code == 200, won.text
    assert won.json()["increment"] == 10
    assert submit(client, board, user.headers, None).status_code == 400  # action required
    assert submit(client, board, user.headers, None, action="cheat").status_code == 400
    assert submit(client, board, user.headers, 99, action="quest").status_code == 400
    plain = make_board(client, admin_headers, scoring={"maxIncrement": 50})
    assert submit(client, plain, user.headers, 50).status_code == 200
    too_big = submit(client, plain, user.headers, 51)
    assert too_big.status_code == 400
    assert too_big.json()["code"] == "validation_error"


def test_clock_skew(client: httpx.Client, admin_headers: dict[str, str], user: User) -> None:
    board = make_board(client, admin_headers, clockSkewSeconds=60)
    for delta in (timedelta(minutes=5), -timedelta(minutes=5)):
        stamp = (datetime.now(UTC) + delta).isoformat()
        response = client.post(
            f"/api/v1/leaderboards/{board}/scores",
            json={"action_id": new_action(), "timestamp": stamp, "score_increment": 1},
            headers=user.headers,
        )
        assert response.status_code == 400
        assert response.json()["code"] == "timestamp_out_of_range"


BAD_BODIES: list[tuple[str, Any]] = [
    ("wrong type", {"action_id": "a1", "timestamp": "now", "score_increment": "5"}),
    ("string increment", {"action_id": "a2", "timestamp": "@", "score_increment": "5"}),
    ("float", {"action_id": "a3", "timestamp": "@", "score_increment": 1.5}),
    ("negative", {"action_id": "a4", "timestamp": "@", "score_increment": -1}),
    ("zero", {"action_id": "a5", "timestamp": "@", "score_increment": 0}),
    ("huge", {"action_id": "a6", "timestamp": "@", "score_increment": 10**30}),
    ("missing action_id", {"timestamp": "@", "score_increment": 1}),
    ("missing timestamp", {"action_id": "a7", "score_increment": 1}),
    ("long action_id", {"action_id": "a" * 101, "timestamp": "@", "score_increment": 1}),
    ("bad chars", {"action_id": "a b/c", "timestamp": "@", "score_increment": 1}),
    ("unknown field", {"action_id": "a8", "timestamp": "@", "score_increment": 1, "admin": True}),
    (
        "naive timestamp",
        {"action_id": "a9", "timestamp": "2024-01-01T00:00:00", "score_increment": 1},
    ),
    ("bad user id", {"action_id": "b1", "timestamp": "@", "score_increment": 1, "user_id": "x"}),
    ("array", [1, 2, 3]),
    ("null", None),
]


@pytest.mark.parametrize(("name", "body"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_input_is_a_400_problem(
    client: httpx.Client, admin_headers: dict[str, str], user: User, name: str, body: Any
) -> None:
    board = make_board(client, admin_headers)
    if isinstance(body, dict) and body.get("timestamp") == "@":
        body["timestamp"] = now_iso()
    response = client.post(f"/api/v1/leaderboards/{board}/scores", json=body, headers=user.headers)
    assert response.status_code == 400, (name, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert problem["code"] in {"validation_error", "malformed_json"}
    assert client.get(f"/api/v1/leaderboards/{board}/top").json()["total_players"] == 0


@pytest.mark.parametrize(
    "raw",
    [b"{", b"\xff\xfe{}", b'{"action_id": "\xc3\x28", "timestamp": "x"}', b"", b"nul\x00l"],
    ids=["truncated", "bad utf8 bom", "bad utf8 in string", "empty", "nul"],
)
def test_malformed_bytes(
    client: httpx.Client, admin_headers: dict[str, str], user: User, raw: bytes
) -> None:
    board = make_board(client, admin_headers)
    response = client.post(
        f"/api/v1/leaderboards/{board}/scores",
        content=raw,
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] in {"malformed_json", "validation_error"}


def test_body_too_large_and_media_type(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    big = b'{"action_id": "' + b"a" * 20000 + b'"}'
    response = client.post(
        f"/api/v1/leaderboards/{board}/scores",
        content=big,
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    form = client.post(
        f"/api/v1/leaderboards/{board}/scores",
        content=b"a=b",
        headers={**user.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415


def test_total_never_exceeds_2_53(
    client: httpx.Client,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
    postgres: PostgresServer,
    database_url: str,
) -> None:
    board = make_board(client, admin_headers, scoring={"maxIncrement": 1000})
    player = str(uuid.uuid4())
    assert submit(client, board, service_headers, 1, user_id=player).status_code == 200
    psql(
        postgres,
        database_url,
        f"UPDATE scores SET total = 9007199254740990 WHERE board = '{board}' "
        f"AND user_id = '{player}'",
    )
    fits = submit(client, board, service_headers, 1, user_id=player)
    assert fits.status_code == 200
    assert fits.json()["new_total_score"] == 2**53 - 1
    over = submit(client, board, service_headers, 1, user_id=player)
    assert over.status_code == 400
    assert over.json()["code"] == "total_overflow"
    total = psql(
        postgres,
        database_url,
        f"SELECT total FROM scores WHERE board = '{board}' AND user_id = '{player}'",
    )
    assert total == str(2**53 - 1)
    events = psql(
        postgres, database_url, f"SELECT count(*) FROM score_events WHERE board = '{board}'"
    )
    assert events == "2"  # the refused submission left no audit row


def test_banned_player_after_void(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    assert submit(client, board, user.headers, 30).status_code == 200
    voided = client.post(
        f"/api/v1/admin/leaderboards/{board}/players/{user.user_id}/void",
        json={"reason": "cheating", "ban": True},
        headers=admin_headers,
    )
    assert voided.status_code == 200, voided.text
    assert voided.json() == {
        "leaderboard": board,
        "user_id": user.user_id,
        "voided_total": 30,
        "banned": True,
    }
    refused = submit(client, board, user.headers, 1)
    assert refused.status_code == 403
    assert refused.json()["code"] == "player_banned"
    assert client.get(f"/api/v1/leaderboards/{board}/players/{user.user_id}").status_code == 404


def test_seed_routes(
    client: httpx.Client, admin_headers: dict[str, str], service_env: dict[str, str]
) -> None:
    from tests.support.services import cli

    result = subprocess.run(
        [cli("scoreboard-api"), "ensure-board", "default", "--size", "10"],
        env=service_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # The replica learns about the new board within a second (Pub/Sub notification).
    user = register_user(client)
    wait_for(lambda: client.get("/api/scores/top").status_code != 404, 10, "the default board")
    body = {"userId": user.user_id, "scoreIncrement": 4}
    headers = {**user.headers, "Idempotency-Key": new_action()}
    first = client.post("/api/scores/update", json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "success", "message": "Score updated", "newScore": 4}
    again = client.post("/api/scores/update", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["newScore"] == 4
    other = client.post(
        "/api/scores/update",
        json={"userId": str(uuid.uuid4()), "scoreIncrement": 4},
        headers=user.headers,
    )
    assert other.status_code == 403
    board = client.get("/api/scores/leaderboard").json()
    assert any(e["user_id"] == user.user_id for e in board["leaderboard"])
    assert {"total_players", "last_refresh"} <= board.keys()
    top = client.get("/api/scores/top").json()
    assert top["leaderboard"] == "default"
    player = client.get(f"/api/scores/user/{user.user_id}").json()
    assert player["score"] == 4 and player["userId"] == user.user_id
