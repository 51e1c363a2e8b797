"""Reads (top, player, around, me, boards, seasons) and the admin interface."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import msgspec
from scoreboard_common.keys import BoardKeys
from scoreboard_common.policy import decode_public_policy
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.support import wait_for
from tests.support.api import User, make_board, new_board_name, put_board, register_user, submit
from tests.support.psql import psql
from tests.support.services import sync_redis


def test_top_ties_rank_by_who_reached_first_same_as_postgres(
    client: httpx.Client,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
    postgres: PostgresServer,
    database_url: str,
) -> None:
    board = make_board(client, admin_headers, size=5)
    players = [str(uuid.uuid4()) for _ in range(6)]
    for player, points in zip(players, [10, 20, 10, 30, 20, 5], strict=True):
        assert submit(client, board, service_headers, points, user_id=player).status_code == 200
    top = client.get(f"/api/v1/leaderboards/{board}/top")
    assert top.status_code == 200
    body = top.json()
    assert body["leaderboard"] == board
    assert body["total_players"] == 6
    assert len(body["entries"]) == 5  # the board's size
    assert [e["user_id"] for e in body["entries"]] == [
        players[3],
        players[1],
        players[4],
        players[0],
        players[2],
    ]
    assert [e["rank"] for e in body["entries"]] == [1, 2, 3, 4, 5]
    in_postgres = psql(
        postgres,
        database_url,
        f"SELECT string_agg(user_id::text, ',' ORDER BY total DESC, reached_at, user_id) "
        f"FROM scores WHERE board = '{board}'",
    ).split(",")
    assert [e["user_id"] for e in body["entries"]] == in_postgres[:5]
    limited = client.get(f"/api/v1/leaderboards/{board}/top", params={"limit": 2}).json()
    assert len(limited["entries"]) == 2
    assert client.get(f"/api/v1/leaderboards/{board}/top", params={"limit": 0}).status_code == 400
    assert client.get(f"/api/v1/leaderboards/{board}/top", params={"limit": "x"}).status_code == 400
    # A tie broken by time: player 0 reached 10 before player 2.
    around = client.get(
        f"/api/v1/leaderboards/{board}/players/{players[2]}/around", params={"radius": 1}
    ).json()
    assert around["rank"] == 5
    assert [e["user_id"] for e in around["entries"]] == [players[0], players[2], players[5]]


def test_top_cache_is_reused_until_the_version_changes(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    submit(client, board, user.headers, 1)
    first = client.get(f"/api/v1/leaderboards/{board}/top").json()
    second = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert first == second  # same bytes, same generated_at
    submit(client, board, user.headers, 1)
    third = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert third["version"] > first["version"]
    assert third["entries"][0]["score"] == 2
    metrics = client.get("/metrics").text
    assert 'scoreboard_cache_requests_total{cache="top",result="hit"}' in metrics


def test_player_me_and_404s(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    assert client.get(f"/api/v1/leaderboards/{board}/me", headers=user.headers).status_code == 404
    submit(client, board, user.headers, 12)
    me = client.get(f"/api/v1/leaderboards/{board}/me", headers=user.headers).json()
    assert me["score"] == 12
    assert me["rank"] == 1
    assert me["username"] == user.username
    assert client.get(f"/api/v1/leaderboards/{board}/me").status_code == 401
    player = client.get(f"/api/v1/leaderboards/{board}/players/{user.user_id}").json()
    assert player == me
    unknown = client.get(f"/api/v1/leaderboards/{board}/players/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "player_not_found"
    assert client.get(f"/api/v1/leaderboards/{board}/players/not-a-uuid").status_code == 404
    assert client.get("/api/v1/leaderboards/missing-board/top").status_code == 404


def test_boards_list_and_detail(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers, displayName="Global", size=7)
    submit(client, board, user.headers, 1)
    listed = client.get("/api/v1/leaderboards").json()["leaderboards"]
    mine = next(b for b in listed if b["name"] == board)
    assert mine == {"name": board, "display_name": "Global", "size": 7, "players": 1, "season": 1}
    detail = client.get(f"/api/v1/leaderboards/{board}").json()
    assert detail["policy"]["access"] == {"publicRead": True, "anonymousLive": True}
    assert detail["policy"]["size"] == 7
    assert detail["players"] == 1


def test_private_board_needs_a_token(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers, access={"publicRead": False, "anonymousLive": False})
    assert client.get(f"/api/v1/leaderboards/{board}/top").status_code == 401
    assert client.get(f"/api/v1/leaderboards/{board}/top", headers=user.headers).status_code == 200


def test_put_generations_and_policy_in_redis(
    client: httpx.Client, admin_headers: dict[str, str], redis_url: str
) -> None:
    name = new_board_name()
    created = put_board(client, admin_headers, name, generation=3, size=5)
    assert created.status_code == 200, created.text
    state = created.json()
    assert state["created"] is True
    assert state["generation"] == 3
    assert state["season"] == 1
    assert state["players"] == 0
    assert state["spec"]["size"] == 5
    older = put_board(client, admin_headers, name, generation=2, size=9)
    assert older.status_code == 200
    assert older.json()["applied"] is False
    assert older.json()["spec"]["size"] == 5
    same = put_board(client, admin_headers, name, generation=3, size=5)
    assert same.json()["applied"] is True
    newer = put_board(
        client, admin_headers, name, generation=4, size=8, broadcast={"minIntervalMs": 250}
    )
    assert newer.json()["spec"]["size"] == 8
    with sync_redis(redis_url) as r:
        raw = r.get(f"sb:{{{name}}}:policy")
        assert raw is not None
        policy = decode_public_policy(raw)
        assert policy.size == 8
        assert policy.generation == 4
        assert policy.broadcast.min_interval_ms == 250
        assert r.get(f"sb:{{{name}}}:season") == b"1"
    bad = client.put(
        f"/api/v1/admin/leaderboards/{name}",
        json={"size": 500, "generation": 5},
        headers=admin_headers,
    )
    assert bad.status_code == 400
    typo = client.put(
        f"/api/v1/admin/leaderboards/{name}",
        json={"sise": 5, "generation": 5},
        headers=admin_headers,
    )
    assert typo.status_code == 400
    bad_name = client.put(
        "/api/v1/admin/leaderboards/Bad_Name", json={"generation": 1}, headers=admin_headers
    )
    assert bad_name.status_code == 400


def test_policy_change_reaches_another_replica_within_a_second(
    client: httpx.Client, admin_headers: dict[str, str], start_api: Any, user: User
) -> None:
    other: ServiceProcess = start_api(POLICY_REFRESH_SECONDS="300")
    board = make_board(client, admin_headers)
    with httpx.Client(base_url=other.url, timeout=10) as second:
        wait_for(
            lambda: submit(second, board, user.headers, 1).status_code == 200,
            1.0,
            "the other replica to see the new board",
            interval=0.02,
        )
        put_board(client, admin_headers, board, generation=2, suspended=True)
        refused = wait_for(
            lambda: (r := submit(second, board, user.headers, 1)).status_code != 200 and r,
            1.0,
            "the other replica to see the suspension within a second",
            interval=0.02,
        )
        assert refused.json()["code"] == "board_suspended"


def test_reset_archives_and_is_idempotent(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers, season={"keep": 1})
    players = [str(uuid.uuid4()) for _ in range(3)]
    for player, points in zip(players, [5, 9, 7], strict=True):
        submit(client, board, service_headers, points, user_id=player)
    url = f"/api/v1/admin/leaderboards/{board}/reset"
    reset = client.post(url, json={"season": 2}, headers=admin_headers)
    assert reset.status_code == 200, reset.text
    assert reset.json()["season"] == 2
    assert reset.json()["reset"] is True
    again = client.post(url, json={"season": 2}, headers=admin_headers)
    assert again.json()["reset"] is False
    assert again.json()["season"] == 2
    older = client.post(url, json={"season": 1}, headers=admin_headers)
    assert older.json() == again.json()
    top = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert top["season"] == 2
    assert top["entries"] == []
    seasons = client.get(f"/api/v1/leaderboards/{board}/seasons").json()
    assert seasons["current_season"] == 2
    archived = [s for s in seasons["seasons"] if not s["current"]]
    assert archived[0]["season"] == 1
    assert archived[0]["players"] == 3
    assert archived[0]["top_score"] == 9
    standings = client.get(f"/api/v1/leaderboards/{board}/seasons/1/top").json()
    assert [e["user_id"] for e in standings["entries"]] == [players[1], players[2], players[0]]
    assert client.get(f"/api/v1/leaderboards/{board}/seasons/7/top").status_code == 404
    # keep = 1: a second reset drops the oldest archive.
    submit(client, board, service_headers, 3, user_id=players[0])
    client.post(url, json={"season": 3}, headers=admin_headers)
    kept = client.get(f"/api/v1/leaderboards/{board}/seasons").json()["seasons"]
    assert [s["season"] for s in kept if not s["current"]] == [2]
    assert client.get(f"/api/v1/leaderboards/{board}/seasons/1/top").status_code == 404


def test_reset_waits_for_a_rebuild_of_the_old_season_and_wins(
    client: httpx.Client,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
    redis_url: str,
) -> None:
    """A rebuild that read season 1 before a reset must not leave season 1 in Redis.

    The test plays that rebuild: it holds the board's rebuild lock, lets the reset start, writes
    season 1 into Redis the way the late rebuild would, then releases the lock.
    """
    board = make_board(client, admin_headers)
    player = str(uuid.uuid4())
    submit(client, board, service_headers, 5, user_id=player)
    keys = BoardKeys(board)
    lock = f"{keys.prefix}:rebuild-lock"
    url = f"/api/v1/admin/leaderboards/{board}/reset"
    with (
        sync_redis(redis_url) as r,
        ThreadPoolExecutor(1) as pool,
        httpx.Client(base_url=client.base_url, timeout=60) as other,
    ):
        assert r.set(lock, "1", nx=True, px=30_000)
        reset = pool.submit(other.post, url, json={"season": 2}, headers=admin_headers)
        wait_for(
            lambda: client.get(f"/api/v1/leaderboards/{board}/seasons").json()["current_season"]
            == 2,
            what="the reset committed in PostgreSQL",
        )
        assert not reset.done()  # it waits for the rebuild lock before touching Redis
        r.set(keys.season, 1)  # the stale rebuild finishes: season 1 back in Redis
        r.incr(keys.version)
        r.delete(lock)
        answer = reset.result(timeout=30)
    assert answer.status_code == 200, answer.text
    top = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert (top["season"], top["entries"]) == (2, [])
    with sync_redis(redis_url) as r:
        assert int(r.get(keys.season) or 0) == 2


def test_stats_and_void_and_delete(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers)
    players = [str(uuid.uuid4()) for _ in range(3)]
    for player, points in zip(players, [4, 8, 6], strict=True):
        submit(client, board, service_headers, points, user_id=player)
    stats = client.get(f"/api/v1/admin/leaderboards/{board}/stats", headers=admin_headers)
    assert stats.status_code == 200, stats.text
    numbers = stats.json()
    assert numbers["players"] == 3
    assert numbers["top_score"] == 8
    assert numbers["updates_per_minute"] >= 3
    assert numbers["fraud_events"] == 0
    assert numbers["season"] == 1
    assert numbers["generation"] == 1
    void = client.post(
        f"/api/v1/admin/leaderboards/{board}/players/{players[1]}/void",
        json={"reason": "exploit"},
        headers=admin_headers,
    )
    assert void.status_code == 200
    top = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert [e["user_id"] for e in top["entries"]] == [players[2], players[0]]
    again = client.post(
        f"/api/v1/admin/leaderboards/{board}/players/{players[1]}/void",
        json={"reason": "exploit"},
        headers=admin_headers,
    )
    assert again.status_code == 404
    deleted = client.delete(
        f"/api/v1/admin/leaderboards/{board}", params={"archive": "true"}, headers=admin_headers
    )
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/leaderboards/{board}/top").status_code == 404
    assert (
        client.delete(f"/api/v1/admin/leaderboards/{board}", headers=admin_headers).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/admin/leaderboards/{board}/stats", headers=admin_headers).status_code
        == 404
    )


def test_ops_endpoints_and_request_ids(client: httpx.Client, api: ServiceProcess) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    for name in (
        "scoreboard_http_requests_total",
        "scoreboard_http_request_duration_seconds",
        "scoreboard_dependency_up",
        "scoreboard_score_writes_total",
    ):
        assert name in metrics.text
    # A client's own X-Request-ID is not taken as the server's (it lands in audit rows): only
    # a trusted proxy may set it (tests/integration/security/test_small_points.py).
    chosen = client.get("/healthz", headers={"X-Request-ID": "trace-me-123"})
    assert chosen.headers["x-request-id"] != "trace-me-123"
    assert len(chosen.headers["x-request-id"]) == 32
    generated = client.get("/nope")
    assert generated.status_code == 404
    assert generated.headers["content-type"] == "application/problem+json"
    assert len(generated.headers["x-request-id"]) == 32
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    document = msgspec.json.decode(schema.content)
    operation = document["paths"]["/api/v1/leaderboards/{board}/scores"]["post"]
    assert "requestBody" in operation
    assert "429" in operation["responses"]
    assert operation["operationId"] == "submitScore"


def test_one_json_log_line_per_request_without_secrets(
    client: httpx.Client, api: ServiceProcess, user: User
) -> None:
    marker = f"log-{uuid.uuid4().hex[:12]}"
    client.post(
        "/api/v1/auth/login",
        json={"username": user.username, "password": user.password},
        headers={"X-Request-ID": marker},
    )
    lines = wait_for(
        lambda: [line for line in api.log_path.read_text().splitlines() if marker in line],
        10,
        "the request's log line",
    )
    assert len(lines) == 1
    record = msgspec.json.decode(lines[0])
    assert record["route"] == "/api/v1/auth/login"
    assert record["status"] == 200
    assert record["latency_ms"] >= 0
    text = api.log_path.read_text()
    assert user.password not in text
    assert user.access_token not in text
    assert register_user(client).access_token not in api.log_path.read_text()


def test_board_gauges(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers)
    for points in (3, 11):
        submit(client, board, service_headers, points, user_id=str(uuid.uuid4()))

    def gauges_updated() -> bool:
        text = client.get("/metrics").text
        return (
            f'scoreboard_board_players{{board="{board}"}} 2.0' in text
            and f'scoreboard_board_top_score{{board="{board}"}} 11.0' in text
        )

    wait_for(gauges_updated, 10, "the board gauges", interval=0.3)


def test_a_new_owner_restarting_at_generation_one_is_accepted(
    client: httpx.Client, admin_headers: dict[str, str]
) -> None:
    """A Leaderboard deleted with Retain and created again has a new uid and generation 1."""
    name = new_board_name()
    first = put_board(client, admin_headers, name, generation=5, size=5, ownerUid="uid-a")
    assert first.json()["applied"] is True
    stale = put_board(client, admin_headers, name, generation=1, size=9, ownerUid="uid-a")
    assert stale.json()["applied"] is False
    assert stale.json()["spec"]["size"] == 5
    reborn = put_board(client, admin_headers, name, generation=1, size=7, ownerUid="uid-b")
    assert reborn.json()["applied"] is True
    assert reborn.json()["generation"] == 1
    assert reborn.json()["spec"]["size"] == 7
    anonymous_stale = put_board(client, admin_headers, name, generation=0, size=3)
    assert anonymous_stale.json()["applied"] is False
