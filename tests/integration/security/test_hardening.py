"""Input hardening: oversized bodies and headers, deep JSON, invalid UTF-8, SQL and Redis
injection in every path and query parameter, confusable usernames, security headers, CORS.
After every attack the score is unchanged and PostgreSQL has no stray rows."""

from __future__ import annotations

import socket
import urllib.parse
import uuid

import httpx
import pytest
import redis as redis_sync
from scoreboard_devstack.servers import ServiceProcess

from tests.integration.security import ALLOWED_ORIGIN
from tests.support.api import (
    PASSWORD,
    User,
    assert_problem,
    new_action,
    now_iso,
    register_user,
    submit,
)
from tests.support.psql import Ledger

INJECTIONS = [
    "x'; DROP TABLE scores;--",
    "x' OR '1'='1",
    "{b}",
    "*",
    "\r\nFLUSHALL\r\n",
    "sb:{x}:rank",
    "%00",
    "../../etc/passwd",
    "a" * 300,
    "$(reboot)",
    "valid-name\n",  # Python's `$` matches before a final newline
    "valid-name\r\n",
    "ﬁ",
]


def _raw_request(service: ServiceProcess, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks += chunk
                if b"\r\n\r\n" in chunks and len(chunks) > 12:
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    return chunks


def test_oversized_body_and_headers_are_4xx(
    http: httpx.Client, sec_api: ServiceProcess, board: str, victim: User, ledger: Ledger
) -> None:
    before = ledger.snapshot(board)
    url = f"/api/v1/leaderboards/{board}/scores"
    big = {"action_id": new_action(), "timestamp": now_iso(), "score_increment": 1}
    big["padding"] = "x" * 100_000  # type: ignore[assignment]
    assert_problem(http.post(url, json=big, headers=victim.headers), 413, "body_too_large")
    # Declared length larger than the limit, sent in chunks, and an endless stream.
    chunked = http.post(
        url,
        content=iter([b"{" + b" " * 8192] * 20),
        headers={**victim.headers, "content-type": "application/json"},
    )
    assert_problem(chunked, 413, "body_too_large")
    # One huge header, and very many headers: the server refuses with a 4xx, never a 5xx.
    huge = http.get("/healthz", headers={"X-Big": "a" * 200_000})
    assert_problem(huge, 431, "headers_too_large")
    many = b"".join(f"X-H{i}: {i}\r\n".encode() for i in range(5000))
    raw = _raw_request(sec_api, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    status_line = raw.split(b"\r\n", 1)[0]
    assert raw == b"" or status_line.split()[1].startswith(b"4"), status_line
    # A request line far beyond limits.
    raw = _raw_request(sec_api, b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw == b"" or raw.split(b"\r\n", 1)[0].split()[1].startswith(b"4")
    assert http.get("/healthz").status_code == 200
    assert ledger.snapshot(board) == before


def test_deep_json_bad_utf8_and_wrong_types(
    http: httpx.Client, board: str, victim: User, ledger: Ledger
) -> None:
    before = ledger.snapshot(board)
    url = f"/api/v1/leaderboards/{board}/scores"
    headers = {**victim.headers, "content-type": "application/json"}
    bodies = {
        "deep array": b"[" * 5000 + b"]" * 5000,
        "deep object": b'{"a":' * 2000 + b"1" + b"}" * 2000,
        "invalid utf-8": b'{"action_id": "\xff\xfe", "timestamp": "2024-01-01T00:00:00Z"}',
        "lone surrogate": b'{"action_id": "\\ud800", "score_increment": 1, "timestamp": "x"}',
        "nul": b'{"action_id": "a\\u0000b", "score_increment": 1, "timestamp": "x"}',
        "huge int": b'{"action_id": "a1", "score_increment": 1'
        + b"0" * 400
        + b', "timestamp": "x"}',
        "float": b'{"action_id": "a2", "score_increment": 1.5, "timestamp": "x"}',
        "negative": b'{"action_id": "a3", "score_increment": -5, "timestamp": "x"}',
        "duplicate keys": b'{"action_id": "a4", "action_id": "a5", "score_increment": 1}',
        "not json": b"\x00\x01\x02",
        "empty": b"",
    }
    for name, body in bodies.items():
        response = http.post(url, content=body, headers=headers)
        assert response.status_code == 400, (name, response.status_code, response.text[:200])
        assert response.json()["code"] in {"malformed_json", "validation_error"}, name
    for name, body in bodies.items():
        response = http.post(
            "/api/v1/auth/register", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (name, response.status_code)
    assert ledger.snapshot(board) == before


def test_injection_in_every_path_and_query_parameter(
    http: httpx.Client,
    board: str,
    victim: User,
    admin: dict[str, str],
    ledger: Ledger,
    redis_url: str,
) -> None:
    assert submit(http, board, victim.headers, 5).status_code == 200
    with redis_sync.Redis.from_url(redis_url) as r:
        # Keys without a TTL (standings, policies, versions): rate-limit counters and caches
        # expire on their own during the test and prove nothing.
        lasting_before = {key for key in r.scan_iter(count=1000) if r.ttl(key) == -1}
    before = ledger.snapshot(board)
    uid = victim.user_id
    statuses: dict[str, int] = {}
    for text in INJECTIONS:
        quoted = urllib.parse.quote(text, safe="")
        requests = [
            ("GET", f"/api/v1/leaderboards/{quoted}", None, {}),
            ("GET", f"/api/v1/leaderboards/{quoted}/top", None, {}),
            ("GET", f"/api/v1/leaderboards/{quoted}/players/{uid}", None, {}),
            ("GET", f"/api/v1/leaderboards/{quoted}/players/{uid}/around", None, {}),
            ("GET", f"/api/v1/leaderboards/{quoted}/me", None, victim.headers),
            ("GET", f"/api/v1/leaderboards/{quoted}/seasons", None, {}),
            ("GET", f"/api/v1/leaderboards/{quoted}/seasons/1/top", None, {}),
            ("GET", f"/api/v1/leaderboards/{board}/players/{quoted}", None, {}),
            ("GET", f"/api/v1/leaderboards/{board}/seasons/{quoted}/top", None, {}),
            ("GET", f"/api/v1/leaderboards/{board}/top?limit={quoted}", None, {}),
            ("GET", f"/api/v1/leaderboards/{board}/players/{uid}/around?radius={quoted}", None, {}),
            ("GET", f"/api/scores/user/{quoted}", None, {}),
            ("GET", f"/api/scores/top?limit={quoted}", None, {}),
            ("GET", f"/api/v1/leaderboards?{quoted}={quoted}", None, {}),
            (
                "POST",
                f"/api/v1/leaderboards/{quoted}/scores",
                {"action_id": new_action(), "timestamp": now_iso(), "score_increment": 1},
                victim.headers,
            ),
            (
                "POST",
                f"/api/v1/leaderboards/{board}/scores",
                {"action_id": text, "timestamp": now_iso(), "score_increment": 1},
                victim.headers,
            ),
            (
                "POST",
                f"/api/v1/leaderboards/{board}/scores",
                {"action_id": new_action(), "timestamp": now_iso(), "action": text},
                victim.headers,
            ),
            ("GET", f"/api/v1/admin/leaderboards/{quoted}/stats", None, admin),
            ("POST", f"/api/v1/admin/leaderboards/{quoted}/reset", {"season": 2}, admin),
            (
                "POST",
                f"/api/v1/admin/leaderboards/{board}/players/{quoted}/void",
                {"reason": text},
                admin,
            ),
            ("PUT", f"/api/v1/admin/users/{quoted}", {"disabled": True}, admin),
            ("DELETE", f"/api/v1/admin/leaderboards/{quoted}", None, admin),
            ("PUT", f"/api/v1/admin/leaderboards/{quoted}", {"size": 5, "generation": 1}, admin),
            ("POST", "/api/v1/auth/login", {"username": text, "password": text}, {}),
            ("POST", "/api/v1/auth/refresh", {"refresh_token": text}, {}),
        ]
        for method, path, body, headers in requests:
            response = http.request(method, path, json=body, headers=headers)
            key = f"{method} {path.split('?')[0][:60]}"
            statuses[key] = response.status_code
            assert response.status_code < 500, (method, path, response.status_code, response.text)
            assert response.status_code != 200 or method == "GET", (method, path, response.text)
            if response.status_code >= 400:
                assert response.headers["content-type"].startswith("application/problem+json")
    # A board name that IS valid but looks like a pattern creates nothing when nobody PUTs it.
    assert ledger.snapshot(board) == before
    with redis_sync.Redis.from_url(redis_url) as r:
        missing = [key for key in lasting_before if not r.exists(key)]
        assert not missing, missing  # no FLUSHALL, no DEL: every lasting key is still there
        assert r.exists(f"sb:{{{board}}}:rank")
    assert http.get(f"/api/v1/leaderboards/{board}/me", headers=victim.headers).json()["score"] == 5


def test_confusable_usernames_are_refused(http: httpx.Client, ledger: Ledger) -> None:
    base = f"adm{uuid.uuid4().hex[:6]}"
    created = http.post("/api/v1/auth/register", json={"username": base, "password": PASSWORD})
    assert created.status_code == 201
    before = ledger.snapshot()
    lookalikes = [
        "а" + base[1:],  # noqa: RUF001 - Cyrillic a
        base.upper(),  # case folds onto the same account name
        base.replace("a", "ａ", 1),  # noqa: RUF001 - fullwidth a
        base + "\u200b",  # zero-width space
        base + "\u0301",  # combining accent
        "ⓐ" + base[1:],
        base.replace("d", "ԁ"),  # noqa: RUF001 - Cyrillic komi de
        " " + base,
    ]
    for name in lookalikes:
        response = http.post("/api/v1/auth/register", json={"username": name, "password": PASSWORD})
        assert response.status_code in (400, 409), (name, response.status_code, response.text)
        code = response.json()["code"]
        assert code in {"validation_error", "username_taken"}, (name, code)
    assert ledger.snapshot() == before


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_security_headers_on_every_response(http: httpx.Client, victim: User, board: str) -> None:
    responses = {
        "ok json": http.get(f"/api/v1/leaderboards/{board}/top"),
        "problem": http.get("/api/v1/leaderboards/nope-nope/top"),
        "unmatched": http.get("/no/such/route"),
        "metrics": http.get("/metrics"),
        "schema": http.get("/schema/openapi.json"),
        "401": submit(http, board, {}, 1),
        "405": http.delete("/healthz"),
        "413": http.post(
            f"/api/v1/leaderboards/{board}/scores",
            content=b"x" * 20000,
            headers={**victim.headers, "content-type": "application/json"},
        ),
    }
    for name, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header, response.headers)
        csp = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, (name, csp)
        assert "x-request-id" in response.headers


def test_auth_responses_are_not_cached(http: httpx.Client, victim: User) -> None:
    login = http.post(
        "/api/v1/auth/login", json={"username": victim.username, "password": victim.password}
    )
    refreshed = http.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    failed = http.post("/api/v1/auth/login", json={"username": victim.username, "password": "no"})
    registered = http.post(
        "/api/v1/auth/register",
        json={"username": f"nc{uuid.uuid4().hex[:8]}", "password": PASSWORD},
    )
    me = http.get("/api/v1/leaderboards/nope/me", headers=victim.headers)
    for response in (login, refreshed, failed, registered, me):
        assert "no-store" in response.headers.get("cache-control", ""), response.request.url


@pytest.mark.parametrize("path", ["/api/v1/leaderboards", "/api/v1/auth/login"])
def test_cors_allows_only_the_configured_origin(http: httpx.Client, path: str) -> None:
    preflight = http.options(
        path,
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code in (200, 204), preflight.text
    assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    allowed_headers = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert "POST" in preflight.headers["access-control-allow-methods"]
    simple = http.get("/api/v1/leaderboards", headers={"Origin": ALLOWED_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "origin" in simple.headers.get("vary", "").lower()
    for origin in ("https://evil.example", "null", "https://game.example.evil.example", "*"):
        response = http.get("/api/v1/leaderboards", headers={"Origin": origin})
        assert "access-control-allow-origin" not in response.headers, origin
        assert response.headers.get("access-control-allow-credentials") is None
        bad = http.options(
            path, headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in bad.headers, origin
        assert bad.status_code < 500


def test_no_cors_headers_without_configuration(api: ServiceProcess) -> None:
    response = httpx.get(f"{api.url}/api/v1/leaderboards", headers={"Origin": ALLOWED_ORIGIN})
    assert "access-control-allow-origin" not in response.headers


def test_register_then_attack_leaves_registration_consistent(
    http: httpx.Client, ledger: Ledger
) -> None:
    """A flood of invalid registrations creates nothing."""
    before = ledger.snapshot()
    for username in ["ab", "a" * 33, "bad name", "x;DROP", "", "émile", "user\n", "user\r"]:
        response = http.post(
            "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert_problem(response, 400, "validation_error")
    assert ledger.snapshot() == before
    register_user(http)
