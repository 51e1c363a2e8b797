"""External OIDC issuer mode: tokens verified against a JWKS served by a test HTTP server."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from scoreboard_api.domain.tokens import public_jwk, user_id_for_subject
from scoreboard_common.auth import jwk_thumbprint
from scoreboard_devstack.servers import ServiceProcess

from tests.support.api import make_board, register_user, submit

ISSUER = "https://idp.example.test/realms/games"
AUDIENCE = "scoreboard-external"


class Idp:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = public_jwk(self.key.public_key())
        self.kid = jwk_thumbprint(jwk)
        self.document = {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}
        self.requests = 0

    def token(self, subject: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "scope": "openid profile",
            "preferred_username": subject,
            **overrides,
        }
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[Idp, str]]:
    provider = Idp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests += 1
            body = json.dumps(provider.document).encode()
            self.send_response(200 if self.path == "/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider, f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


@pytest.fixture(scope="module")
def external_api(idp: tuple[Idp, str], start_api: Any) -> ServiceProcess:
    _, jwks_url = idp
    process: ServiceProcess = start_api(
        AUTH_JWKS_URL=jwks_url,
        AUTH_EXTERNAL_ISSUER=ISSUER,
        AUTH_EXTERNAL_AUDIENCE=AUDIENCE,
    )
    return process


def test_external_tokens_write_and_local_tokens_still_work(
    idp: tuple[Idp, str], external_api: ServiceProcess, admin_headers: dict[str, str]
) -> None:
    provider, _ = idp
    with httpx.Client(base_url=external_api.url, timeout=10) as http:
        board = make_board(http, admin_headers)
        token = provider.token("alice@example.test")
        response = submit(http, board, {"Authorization": f"Bearer {token}"}, 3)
        assert response.status_code == 200, response.text
        expected = user_id_for_subject("alice@example.test", ISSUER)
        assert response.json()["user_id"] == expected
        assert uuid.UUID(expected).version == 5
        me = http.get(
            f"/api/v1/leaderboards/{board}/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.json()["score"] == 3
        assert me.json()["username"] == "alice@example.test"
        assert provider.requests >= 1
        # The api's own tokens keep working next to the external issuer.
        local = register_user(http)
        assert submit(http, board, local.headers, 1).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"iss": "https://evil.example.test"},
        {"exp": -120},  # seconds from when the test runs, resolved below
        {"nbf": +600},
    ],
    ids=["audience", "issuer", "expired", "not yet valid"],
)
def test_external_token_checks(
    idp: tuple[Idp, str],
    external_api: ServiceProcess,
    admin_headers: dict[str, str],
    overrides: dict[str, Any],
) -> None:
    provider, _ = idp
    with httpx.Client(base_url=external_api.url, timeout=10) as http:
        board = make_board(http, admin_headers)
        now = int(time.time())
        claims = {k: now + v if k in {"exp", "nbf"} else v for k, v in overrides.items()}
        token = provider.token("bob", **claims)
        response = submit(http, board, {"Authorization": f"Bearer {token}"}, 1)
        assert response.status_code == 401, response.text


def test_external_unknown_key_is_refused(
    external_api: ServiceProcess, admin_headers: dict[str, str]
) -> None:
    stranger = Idp()  # same issuer and audience, key not in the JWKS
    with httpx.Client(base_url=external_api.url, timeout=10) as http:
        board = make_board(http, admin_headers)
        response = submit(http, board, {"Authorization": f"Bearer {stranger.token('eve')}"}, 1)
        assert response.status_code == 401
