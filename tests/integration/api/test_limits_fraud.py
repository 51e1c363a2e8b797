"""Rate limits (per user, per IP, across replicas, no X-Forwarded-For spoofing) and fraud rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.support.api import User, make_board, register_user, submit
from tests.support.psql import psql


def _limited(user_limit: int, ip_limit: int = 100000, window: int = 60) -> dict[str, Any]:
    return {
        "rateLimit": {
            "perUser": {"limit": user_limit, "windowSeconds": window},
            "perIP": {"limit": ip_limit, "windowSeconds": window},
        }
    }


def test_per_user_limit_holds_across_replicas(
    client: httpx.Client, admin_headers: dict[str, str], user: User, start_api: Any
) -> None:
    board = make_board(client, admin_headers, **_limited(4))
    other: ServiceProcess = start_api()
    with httpx.Client(base_url=other.url, timeout=10) as second:
        statuses = [
            submit(http, board, user.headers, 1).status_code
            for http in (client, second, client, second, client, second)
        ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    refused = submit(client, board, user.headers, 1)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Policy"].startswith('"user";q=4;w=60')
    assert refused.headers["RateLimit"].startswith('"user";r=0;')
    assert client.get(f"/api/v1/leaderboards/{board}/me", headers=user.headers).json()["score"] == 4
    metrics = client.get("/metrics").text
    assert f'scoreboard_rate_limited_total{{board="{board}",scope="user"}}' in metrics


def test_per_ip_limit_and_no_forwarded_for_spoofing(
    client: httpx.Client, admin_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers, **_limited(100, ip_limit=3))
    users = [register_user(client) for _ in range(4)]
    statuses = []
    for index, user in enumerate(users):
        spoof = {"X-Forwarded-For": f"10.0.0.{index}", "X-Real-IP": f"10.0.1.{index}"}
        statuses.append(submit(client, board, {**user.headers, **spoof}, 1).status_code)
    assert statuses == [200, 200, 200, 429]


def test_trusted_proxy_forwarded_for_is_used(
    admin_headers: dict[str, str], start_api: Any, client: httpx.Client
) -> None:
    proxied: ServiceProcess = start_api(TRUSTED_PROXIES='["127.0.0.0/8"]')
    board = make_board(client, admin_headers, **_limited(100, ip_limit=2))
    with httpx.Client(base_url=proxied.url, timeout=10) as http:
        users = [register_user(client) for _ in range(3)]
        # Three different real clients behind the proxy: none is limited.
        for index, user in enumerate(users):
            forwarded = {"X-Forwarded-For": f"203.0.113.{index + 1}"}
            assert submit(http, board, {**user.headers, **forwarded}, 1).status_code == 200
        # The same client twice more: its third write is refused.
        same = {"X-Forwarded-For": "198.51.100.7, 203.0.113.1"}
        assert submit(http, board, {**users[0].headers, **same}, 1).status_code == 200
        assert submit(http, board, {**users[1].headers, **same}, 1).status_code == 429


def test_points_per_minute_flag_records_and_counts(
    client: httpx.Client,
    admin_headers: dict[str, str],
    user: User,
    postgres: PostgresServer,
    database_url: str,
) -> None:
    board = make_board(
        client,
        admin_headers,
        fraud={"maxPointsPerMinute": 50, "onViolation": "flag", "burstCount": 1000},
    )
    assert submit(client, board, user.headers, 40).status_code == 200
    flagged = submit(client, board, user.headers, 40)
    assert flagged.status_code == 200  # flag only
    assert flagged.json()["new_total_score"] == 80
    rows = psql(
        postgres,
        database_url,
        f"SELECT rule || ':' || action FROM fraud_events WHERE board = '{board}'",
    )
    assert rows == "points_per_minute:flag"
    metrics = client.get("/metrics").text
    assert (
        f'scoreboard_fraud_hits_total{{action="flag",board="{board}",rule="points_per_minute"}} 1.0'
        in metrics
    )
    stats = client.get(f"/api/v1/admin/leaderboards/{board}/stats", headers=admin_headers).json()
    assert stats["fraud_events"] == 1


def test_points_per_minute_reject(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(
        client,
        admin_headers,
        fraud={"maxPointsPerMinute": 50, "onViolation": "reject", "burstCount": 1000},
    )
    assert submit(client, board, user.headers, 40).status_code == 200
    rejected = submit(client, board, user.headers, 40)
    assert rejected.status_code == 403
    assert rejected.json()["code"] == "fraud_rejected"
    assert (
        client.get(f"/api/v1/leaderboards/{board}/me", headers=user.headers).json()["score"] == 40
    )
    # The refused points were given back: a small write still fits.
    assert submit(client, board, user.headers, 10).status_code == 200


def test_timestamp_burst_and_replay_storm(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(
        client,
        admin_headers,
        fraud={"burstCount": 1000, "maxReplaysPerMinute": 2, "onViolation": "reject"},
    )
    board_ts = make_board(
        client,
        admin_headers,
        clockSkewSeconds=86400,
        fraud={"burstCount": 3, "burstWindowMs": 1000, "onViolation": "reject"},
    )
    stamp = datetime.now(UTC).isoformat()
    codes = [
        client.post(
            f"/api/v1/leaderboards/{board_ts}/scores",
            json={"action_id": f"b-{uuid.uuid4().hex}", "timestamp": stamp, "score_increment": 1},
            headers=user.headers,
        ).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 403]
    action = f"r-{uuid.uuid4().hex}"
    replay_codes = [
        submit(client, board, user.headers, 1, action_id=action, timestamp=stamp).status_code
        for _ in range(4)
    ]
    assert replay_codes[:3] == [200, 200, 200]
    assert replay_codes[3] == 403
    metrics = client.get("/metrics").text
    assert f'board="{board_ts}",rule="timestamp_burst"' in metrics
    assert f'board="{board}",rule="replay_storm"' in metrics


def test_credential_endpoints_are_throttled_per_ip(start_api: Any) -> None:
    api: ServiceProcess = start_api(AUTH_RATE_LIMIT_PER_MINUTE="3")
    with httpx.Client(base_url=api.url, timeout=10) as http:
        codes = [
            http.post(
                "/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"}
            ).status_code
            for _ in range(4)
        ]
    assert codes == [401, 401, 401, 429]
