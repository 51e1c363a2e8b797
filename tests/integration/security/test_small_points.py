"""The smaller points of the abuse report (issue 12), each shown refused against real
processes: private boards in the anonymous list, admin tokens as players, logout floods, stale
refresh tokens, spoofing names from claims, client-chosen request ids in audit rows, security
headers and WebSocket limits of realtime, IPv6 clients grouped by /64."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from scoreboard_api.domain.tokens import TokenIssuer
from scoreboard_devstack.servers import PostgresServer, ServiceProcess, free_port, wait_until

from tests.support.api import assert_problem, make_board, new_action, now_iso, register_user, submit
from tests.support.feeds import ws_url
from tests.support.psql import psql


def test_anonymous_board_list_shows_only_public_boards(
    http: httpx.Client, admin: dict[str, str]
) -> None:
    public = make_board(http, admin)
    private = make_board(http, admin, access={"publicRead": False, "anonymousLive": False})
    anonymous = {b["name"] for b in http.get("/api/v1/leaderboards").json()["leaderboards"]}
    assert public in anonymous and private not in anonymous
    user = register_user(http)
    signed_in = http.get("/api/v1/leaderboards", headers=user.headers).json()["leaderboards"]
    assert {public, private} <= {b["name"] for b in signed_in}


def test_an_admin_token_cannot_post_scores_as_a_player(
    http: httpx.Client, admin: dict[str, str], admin_api_key: str
) -> None:
    board = make_board(http, admin)
    for headers in (admin, {"Authorization": f"Bearer {admin_api_key}"}):
        assert_problem(submit(http, board, headers, 5), 403, "admin_cannot_play")
    assert http.get(f"/api/v1/leaderboards/{board}/top").json()["entries"] == []


def test_logout_is_throttled_per_address(start_api: Callable[..., ServiceProcess]) -> None:
    api = start_api(AUTH_RATE_LIMIT_PER_MINUTE="3")
    # From an address of its own: the limiter's key is per address, shared by the replicas.
    transport = httpx.HTTPTransport(local_address="127.0.0.9")
    with httpx.Client(base_url=api.url, timeout=10, transport=transport) as client:
        statuses = [
            client.post("/api/v1/auth/logout", json={"refresh_token": f"x{i}"}).status_code
            for i in range(4)
        ]
        last = client.post("/api/v1/auth/logout", json={"refresh_token": "y"})
    assert statuses[:3] == [204, 204, 204], statuses
    assert_problem(last, 429, "rate_limited")
    assert "retry-after" in last.headers


def test_expired_refresh_tokens_are_purged(
    http: httpx.Client,
    start_api: Callable[..., ServiceProcess],
    postgres: PostgresServer,
    database_url: str,
) -> None:
    user = register_user(http)
    stale = uuid.uuid4().hex
    psql(
        postgres,
        database_url,
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at) VALUES "
        f"('{uuid.uuid4()}', '{uuid.uuid4()}', '{user.user_id}', decode('{stale}', 'hex'), "
        "now() - interval '2 days')",
    )
    count = f"SELECT count(*) FROM refresh_tokens WHERE token_hash = decode('{stale}', 'hex')"
    assert psql(postgres, database_url, count) == "1"
    start_api(REFRESH_TOKEN_RETENTION_SECONDS="86400")  # purges at start, then every 10 min
    wait_until(lambda: psql(postgres, database_url, count) == "0", 30, "the purge")
    # The user's live refresh token is kept.
    live = http.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert live.status_code == 200, live.text


def test_names_from_token_claims_are_sanitised(
    http: httpx.Client, admin: dict[str, str], jwt_keys: tuple[Path, Path], service: dict[str, str]
) -> None:
    board = make_board(http, admin)
    issuer = TokenIssuer(jwt_keys[0].read_bytes(), issuer="scoreboard", audience="scoreboard")
    spoof = "\u202eevil\u200b\u200d gnp.exe\u2066\ufeff"
    token = issuer.issue(
        subject=str(uuid.uuid4()),
        username=spoof,
        scopes=["scores:write:self"],
        ttl_seconds=300,
    )
    response = submit(http, board, {"Authorization": f"Bearer {token}"}, 3)
    assert response.status_code == 200, response.text
    entries = http.get(f"/api/v1/leaderboards/{board}/top").json()["entries"]
    assert [e["username"] for e in entries] == ["evil gnp.exe"]


def test_request_ids_in_audit_rows_are_the_servers(
    http: httpx.Client,
    admin: dict[str, str],
    start_api: Callable[..., ServiceProcess],
    postgres: PostgresServer,
    database_url: str,
) -> None:
    board = make_board(http, admin)
    user = register_user(http)
    action = new_action()
    chosen = f"client-{secrets.token_hex(4)}"
    response = http.post(
        f"/api/v1/leaderboards/{board}/scores",
        json={"action_id": action, "timestamp": now_iso(), "score_increment": 1},
        headers={**user.headers, "X-Request-ID": chosen},
    )
    assert response.status_code == 200
    server_id = response.headers["x-request-id"]
    assert server_id != chosen and len(server_id) == 32
    stored = psql(
        postgres, database_url, f"SELECT request_id FROM score_events WHERE action_id = '{action}'"
    )
    assert stored == server_id
    # Behind a trusted proxy (the ingress), its request id is kept end to end.
    proxied = start_api(TRUSTED_PROXIES='["127.0.0.1/32"]')
    assert (
        httpx.get(f"{proxied.url}/healthz", headers={"X-Request-ID": chosen}).headers[
            "x-request-id"
        ]
        == chosen
    )


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_realtime_responses_carry_security_headers(realtime: ServiceProcess) -> None:
    with httpx.Client(base_url=realtime.url, timeout=10) as client:
        for path in ("/healthz", "/readyz", "/config.json", "/metrics", "/static/app.js", "/nope"):
            response = client.get(path)
            for header, value in SECURITY_HEADERS.items():
                assert response.headers.get(header) == value, (path, response.headers)
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
            assert response.status_code == (404 if path == "/nope" else 200), path
        page = client.get("/")
        assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_websocket_origins_and_the_global_connection_cap(
    http: httpx.Client, admin: dict[str, str], start_realtime: Callable[..., ServiceProcess]
) -> None:
    board = make_board(http, admin)
    rt = start_realtime(WS_ALLOWED_ORIGINS='["https://game.example"]', WS_MAX_CONNECTIONS="3")
    url = ws_url(rt, f"/ws/v1/leaderboards/{board}")
    with pytest.raises(websockets.InvalidStatus) as evil:
        await websockets.connect(url, origin="https://evil.example", open_timeout=5)  # type: ignore[arg-type]
    assert evil.value.response.status_code == 403
    opened = [
        await websockets.connect(url, origin=origin, open_timeout=5)  # type: ignore[arg-type]
        for origin in ("https://game.example", f"http://127.0.0.1:{rt.port}", None)
    ]
    try:
        with pytest.raises(websockets.InvalidStatus) as full:
            await websockets.connect(url, open_timeout=5)
        assert full.value.response.status_code == 403
        metrics = httpx.get(f"{rt.url}/metrics").text
        assert 'scoreboard_ws_rejected_total{reason="global_limit"} 1.0' in metrics
        assert 'scoreboard_ws_rejected_total{reason="origin"} 1.0' in metrics
    finally:
        for connection in opened:
            await connection.close()
    # A slot is free again once a client has gone.
    again = await websockets.connect(url, open_timeout=5)
    await again.close()


def test_ipv6_clients_share_the_per_ip_limit_of_their_64(
    http: httpx.Client, admin: dict[str, str], start_api: Callable[..., ServiceProcess]
) -> None:
    api = start_api(TRUSTED_PROXIES='["127.0.0.1/32"]')
    board = make_board(
        http,
        admin,
        rateLimit={
            "perUser": {"limit": 1000, "windowSeconds": 60},
            "perIP": {"limit": 3, "windowSeconds": 3600},
        },
    )
    with httpx.Client(base_url=api.url, timeout=10) as client:

        def from_address(address: str) -> int:
            user = register_user(http)
            return submit(
                client, board, {**user.headers, "X-Forwarded-For": address}, 1
            ).status_code

        same_64 = [from_address(f"2001:db8:1:2::{i}") for i in range(1, 5)]
        other_64 = from_address("2001:db8:1:3::1")
    assert same_64 == [200, 200, 200, 429], same_64
    assert other_64 == 200


def test_realtime_metrics_on_their_own_port(start_realtime: Callable[..., ServiceProcess]) -> None:
    port = free_port()
    rt = start_realtime(METRICS_PORT=str(port))
    public = httpx.get(f"{rt.url}/metrics")  # what an Ingress routing `/` to realtime reaches
    assert_problem_or_404(public)
    private = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert private.status_code == 200
    assert "scoreboard_ws_rejected_total" in private.text


def assert_problem_or_404(response: httpx.Response) -> None:
    assert response.status_code == 404, (response.status_code, response.text[:200])
    assert "scoreboard_" not in response.text


@pytest.mark.parametrize(
    "path", ["/static/%00", "/static/app.js%00", "/static/" + "a" * 300, "/static/app.js/x"]
)
def test_odd_static_paths_are_404_not_500(realtime: ServiceProcess, path: str) -> None:
    response = httpx.get(f"{realtime.url}{path}")
    assert response.status_code == 404, (response.status_code, response.text[:200])
    assert response.headers["x-content-type-options"] == "nosniff"


def test_spacing_fabricated_timestamps_does_not_evade_the_burst_rule(
    http: httpx.Client, admin: dict[str, str]
) -> None:
    board = make_board(
        http, admin, fraud={"burstCount": 4, "burstWindowMs": 5000, "onViolation": "reject"}
    )
    user = register_user(http)
    start = datetime.now(UTC) - timedelta(seconds=30)
    # Sent back to back, each claiming to be 6 s after the previous (beyond the window).
    statuses = [
        submit(
            http, board, user.headers, 1, timestamp=(start + timedelta(seconds=6 * i)).isoformat()
        )
        for i in range(4)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 200, 403], [r.text for r in statuses]
    assert_problem(statuses[3], 403, "fraud_rejected")
