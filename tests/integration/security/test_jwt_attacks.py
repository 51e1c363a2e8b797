"""JWT attacks over real HTTP against the api and over a real WebSocket against realtime.

api: every forged, stale or foreign token is 401 problem+json `unauthorized` (refresh-token
reuse: `refresh_token_reused`) and counted in ``scoreboard_auth_failures_total{reason}``.
realtime: the same tokens close the socket with 4401 and count
``scoreboard_ws_rejected_total{reason="invalid_token"}`` (its documented contract)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import websockets
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from scoreboard_api.domain.tokens import TokenIssuer
from scoreboard_devstack.metrics import metric
from scoreboard_devstack.servers import ServiceProcess

from tests.support.api import User, assert_problem, make_board, submit
from tests.support.feeds import Feed, ws_url
from tests.support.psql import Ledger


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: PyJWT refuses to use a PEM public key as an HMAC secret."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _tamper(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def attack_tokens(jwt_keys: tuple[Path, Path], victim: User) -> dict[str, tuple[str, str]]:
    """name → (token, expected auth-failure reason label)."""
    private_pem, public_pem = jwt_keys[0].read_bytes(), jwt_keys[1].read_bytes()
    key = load_pem_private_key(private_pem, password=None)
    issuer = TokenIssuer(private_pem, issuer="scoreboard", audience="scoreboard")
    kid = issuer.kid
    now = int(time.time())
    claims = {
        "iss": "scoreboard",
        "aud": "scoreboard",
        "sub": victim.user_id,
        "preferred_username": victim.username,
        "scope": "scores:write:self",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }

    def es256(changes: dict[str, Any], *, signer: Any = key, header_kid: str | None = kid) -> str:
        headers = {"kid": header_kid} if header_kid else {}
        return jwt.encode({**claims, **changes}, signer, algorithm="ES256", headers=headers)

    other = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(other.public_key(), as_dict=True)
    p384 = ec.generate_private_key(ec.SECP384R1())
    return {
        "alg none": (
            f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT', 'kid': kid}).encode())}."
            f"{_b64(json.dumps({**claims, 'scope': 'scoreboard:admin'}).encode())}.",
            "algorithm",
        ),
        "alg None (case)": (
            f"{_b64(json.dumps({'alg': 'None', 'kid': kid}).encode())}."
            f"{_b64(json.dumps(claims).encode())}.",
            "algorithm",
        ),
        "HS256 keyed with the public PEM": (
            _hs256({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, public_pem),
            "algorithm",
        ),
        "HS256 keyed with the JWKS document": (
            _hs256(
                {"alg": "HS256", "kid": kid},
                claims,
                json.dumps(issuer.jwks()["keys"][0]).encode(),
            ),
            "algorithm",
        ),
        "ES384 with another key": (
            jwt.encode(claims, p384, algorithm="ES384", headers={"kid": kid}),
            "algorithm",
        ),
        "expired": (es256({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}), "expired"),
        "not yet valid": (es256({"nbf": now + 600, "exp": now + 1200}), "not_yet_valid"),
        "wrong issuer": (es256({"iss": "https://evil.example"}), "wrong_issuer_or_audience"),
        "wrong audience": (es256({"aud": "another-service"}), "wrong_issuer_or_audience"),
        "no exp": (
            jwt.encode(
                {k: v for k, v in claims.items() if k != "exp"},
                key,  # type: ignore[arg-type]
                algorithm="ES256",
                headers={"kid": kid},
            ),
            "invalid",
        ),
        "unknown kid, other key": (es256({}, signer=other, header_kid="attacker-kid"), None),
        "own kid, other key": (es256({}, signer=other), "invalid"),
        "embedded jwk header": (
            jwt.encode(claims, other, algorithm="ES256", headers={"kid": kid, "jwk": jwk}),
            "invalid",
        ),
        "jku header to attacker": (
            jwt.encode(
                claims,
                other,
                algorithm="ES256",
                headers={"kid": "k1", "jku": "http://127.0.0.1:9/jwks.json"},
            ),
            None,
        ),
        "kid path traversal": (es256({}, signer=other, header_kid="../../../../dev/null"), None),
        "tampered scope": (
            _tamper(es256({}), scope="scoreboard:admin scores:write:any"),
            "invalid",
        ),
        "tampered subject": (_tamper(es256({}), sub=str(uuid.uuid4())), "invalid"),
        "truncated signature": (es256({})[:-8], "invalid"),
        "garbage": ("eyJhbGciOiJFUzI1NiJ9.e30.AAAA", None),
        "oversized": ("a." * 5000 + "a", "malformed"),
    }


def test_api_refuses_every_forged_or_stale_token(
    http: httpx.Client,
    admin: dict[str, str],
    victim: User,
    jwt_keys: tuple[Path, Path],
    ledger: Ledger,
) -> None:
    board = make_board(http, admin)
    assert submit(http, board, victim.headers, 3).status_code == 200
    before = ledger.snapshot(board)
    metrics_before = http.get("/metrics").text
    failures = 0
    for name, (token, reason) in attack_tokens(jwt_keys, victim).items():
        bearer = {"Authorization": f"Bearer {token}"}
        for response in (
            submit(http, board, bearer, 1_000_000 if "admin" not in name else 5),
            http.get(f"/api/v1/leaderboards/{board}/me", headers=bearer),
            http.put(
                f"/api/v1/admin/leaderboards/{board}",
                json={"size": 1, "generation": 99},
                headers=bearer,
            ),
            http.post(
                f"/api/v1/admin/leaderboards/{board}/players/{victim.user_id}/void",
                json={"reason": "x"},
                headers=bearer,
            ),
        ):
            assert_problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer", name
            failures += 1
        if reason is not None:
            after = metric(
                http.get("/metrics").text, "scoreboard_auth_failures_total", reason=reason
            )
            assert after >= 4, (name, reason)
    metrics_after = http.get("/metrics").text
    counted = metric(metrics_after, "scoreboard_auth_failures_total") - metric(
        metrics_before, "scoreboard_auth_failures_total"
    )
    assert counted == failures, (counted, failures)
    assert ledger.snapshot(board) == before
    assert http.get(f"/api/v1/leaderboards/{board}/me", headers=victim.headers).json()["score"] == 3


def test_disabled_user_and_refresh_reuse(
    http: httpx.Client, admin: dict[str, str], victim: User, ledger: Ledger
) -> None:
    board = make_board(http, admin)
    assert submit(http, board, victim.headers, 2).status_code == 200
    # Refresh reuse: the rotated token revokes the family, including the newer token.
    first = http.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert first.status_code == 200
    reused = http.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert_problem(reused, 401, "refresh_token_reused")
    newer = http.post("/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert_problem(newer, 401)
    assert metric(http.get("/metrics").text, "scoreboard_auth_failures_total") >= 2
    # Disabled: the still-unexpired access token is refused at once, everywhere.
    before = ledger.snapshot(board)
    disabled = http.put(
        f"/api/v1/admin/users/{victim.user_id}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200
    counted = metric(http.get("/metrics").text, "scoreboard_auth_failures_total", reason="disabled")
    for response in (
        submit(http, board, victim.headers, 10),
        http.get(f"/api/v1/leaderboards/{board}/me", headers=victim.headers),
    ):
        assert_problem(response, 401, "unauthorized")
    after = metric(http.get("/metrics").text, "scoreboard_auth_failures_total", reason="disabled")
    assert after - counted == 2
    login = http.post(
        "/api/v1/auth/login", json={"username": victim.username, "password": victim.password}
    )
    assert_problem(login, 401)
    assert ledger.snapshot(board) == before


async def test_realtime_refuses_the_same_tokens(
    realtime: ServiceProcess,
    http: httpx.Client,
    admin: dict[str, str],
    victim: User,
    jwt_keys: tuple[Path, Path],
) -> None:
    board = make_board(http, admin)  # anonymous live reads allowed: a bad token is still refused
    path = f"/ws/v1/leaderboards/{board}"
    before = metric(
        httpx.get(f"{realtime.url}/metrics").text,
        "scoreboard_ws_rejected_total",
        reason="invalid_token",
    )
    refused = 0
    for name, (token, _reason) in attack_tokens(jwt_keys, victim).items():
        if name == "oversized":
            continue  # too long for a URL; the header form is tried below
        for options in (
            {"uri": ws_url(realtime, f"{path}?token={token}")},
            {"uri": ws_url(realtime, path), "subprotocols": ["bearer", token]},
        ):
            try:
                connection = await websockets.connect(
                    options["uri"], open_timeout=5, subprotocols=options.get("subprotocols")
                )
            except websockets.InvalidHandshake:
                refused += 1  # refused before the upgrade
                continue
            feed = Feed(connection)
            code, _ = await feed.wait_closed(timeout=5)
            assert code == 4401, (name, code, feed.messages[:1])
            assert not feed.messages, name  # nothing leaked before the close
            refused += 1
    after = metric(
        httpx.get(f"{realtime.url}/metrics").text,
        "scoreboard_ws_rejected_total",
        reason="invalid_token",
    )
    assert after - before == refused
    # The genuine token works.
    good = Feed(
        await websockets.connect(
            ws_url(realtime, path), subprotocols=["bearer", victim.access_token], open_timeout=5
        )
    )
    await good.wait_for(lambda m: m["type"] == "snapshot")
    await good.close()
