"""Identity: register, login, refresh rotation with reuse detection, logout, JWKS, token checks."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
from argon2 import PasswordHasher, extract_parameters
from cryptography.hazmat.primitives.asymmetric import ec
from scoreboard_devstack.metrics import metric
from scoreboard_devstack.servers import PostgresServer

from tests.support.api import User, make_board, register_user, submit
from tests.support.psql import psql


def test_register_login_and_duplicate(client: httpx.Client) -> None:
    user = register_user(client)
    assert uuid.UUID(user.user_id)
    again = client.post(
        "/api/v1/auth/register",
        json={"username": user.username.upper(), "password": "another-Strong-passphrase-9"},
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "username_taken"


def test_login_wrong_password_and_unknown_user(client: httpx.Client, user: User) -> None:
    wrong = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": "wrong-password"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    unknown = client.post(
        "/api/v1/auth/login", json={"username": "nobody-xyz", "password": "p" * 9}
    )
    assert unknown.status_code == 401


def test_access_token_claims(client: httpx.Client, user: User) -> None:
    jwks = client.get("/.well-known/jwks.json").json()
    header = jwt.get_unverified_header(user.access_token)
    assert header["alg"] == "ES256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        user.access_token,
        jwt.PyJWK(key).key,
        algorithms=["ES256"],
        audience="scoreboard",
        issuer="scoreboard",
    )
    assert claims["sub"] == user.user_id
    assert claims["preferred_username"] == user.username
    assert claims["exp"] - claims["iat"] == 3600
    assert {"nbf", "jti", "scope"} <= claims.keys()


def test_refresh_rotates_and_reuse_revokes_family(client: httpx.Client, user: User) -> None:
    first = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    second_token = first.json()["refresh_token"]
    assert second_token != user.refresh_token
    # Reusing the rotated token: refused, and the whole family (including the new one) dies.
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": second_token})
    assert after.status_code == 401


def test_a_hash_at_an_older_cost_is_replaced_on_sign_in(
    client: httpx.Client, user: User, postgres: PostgresServer, database_url: str
) -> None:
    def stored() -> str:
        return psql(
            postgres, database_url, f"SELECT password_hash FROM users WHERE id = '{user.user_id}'"
        )

    assert extract_parameters(stored()).memory_cost == 7168  # registered at the current cost
    # As a deployment upgraded from argon2-cffi's default (64 MiB, t=3, p=4) holds it.
    old = PasswordHasher().hash(user.password)
    psql(
        postgres,
        database_url,
        f"UPDATE users SET password_hash = '{old}' WHERE id = '{user.user_id}'",
    )
    rehashes = metric(client.get("/metrics").text, "scoreboard_password_rehashes_total")
    wrong = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": "wrong-password"}
    )
    assert wrong.status_code == 401
    assert stored() == old  # a failed sign-in changes nothing
    login = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": user.password}
    )
    assert login.status_code == 200, login.text
    replaced = stored()
    assert replaced != old
    assert extract_parameters(replaced).memory_cost == 7168
    after = metric(client.get("/metrics").text, "scoreboard_password_rehashes_total")
    assert after == rehashes + 1
    again = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": user.password}
    )
    assert again.status_code == 200
    assert stored() == replaced  # current: left alone


def test_logout_revokes(client: httpx.Client, user: User) -> None:
    out = client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert out.status_code == 204
    refused = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refused.status_code == 401
    garbage = client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"})
    assert garbage.status_code == 401


def _forge(claims: dict[str, object], key: object, alg: str, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)  # type: ignore[arg-type]


def test_forged_and_invalid_tokens_are_refused(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    kid = jwt.get_unverified_header(user.access_token)["kid"]
    now = int(time.time())
    base = {
        "iss": "scoreboard",
        "aud": "scoreboard",
        "sub": user.user_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scope": "scores:write:any",
    }
    other_key = ec.generate_private_key(ec.SECP256R1())
    bad_tokens = {
        "other key, same kid": _forge(base, other_key, "ES256", kid),
        "hmac with public jwk": _forge(base, "secret-secret-secret-secret-32b!", "HS256", kid),
        "none": jwt.encode(base, None, algorithm="none"),  # type: ignore[arg-type]
        "garbage": "not.a.token",
        "truncated": user.access_token[:-10],
    }
    for name, token in bad_tokens.items():
        response = submit(client, board, {"Authorization": f"Bearer {token}"}, 1)
        assert response.status_code == 401, name
        assert response.json()["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    assert submit(client, board, {}, 1).status_code == 401
    assert submit(client, board, {"Authorization": "Basic abc"}, 1).status_code == 401


def test_expired_wrong_audience_and_issuer(
    client: httpx.Client, admin_headers: dict[str, str], service_env: dict[str, str]
) -> None:
    from pathlib import Path

    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from scoreboard_api.domain.tokens import TokenIssuer

    pem = Path(service_env["JWT_PRIVATE_KEY_FILE"]).read_bytes()
    board = make_board(client, admin_headers)
    subject = str(uuid.uuid4())
    expired = TokenIssuer(pem, issuer="scoreboard", audience="scoreboard").issue(
        subject=subject, username="x", scopes=[], ttl_seconds=60, now=time.time() - 3600
    )
    wrong_aud = TokenIssuer(pem, issuer="scoreboard", audience="other").issue(
        subject=subject, username="x", scopes=[], ttl_seconds=600
    )
    wrong_iss = TokenIssuer(pem, issuer="evil", audience="scoreboard").issue(
        subject=subject, username="x", scopes=[], ttl_seconds=600
    )
    key = load_pem_private_key(pem, password=None)
    kid = TokenIssuer(pem, issuer="scoreboard", audience="scoreboard").kid
    now = int(time.time())
    not_yet = jwt.encode(
        {
            "iss": "scoreboard",
            "aud": "scoreboard",
            "sub": subject,
            "iat": now,
            "nbf": now + 600,
            "exp": now + 1200,
        },
        key,  # type: ignore[arg-type]
        algorithm="ES256",
        headers={"kid": kid},
    )
    for token in (expired, wrong_aud, wrong_iss, not_yet):
        response = submit(client, board, {"Authorization": f"Bearer {token}"}, 1)
        assert response.status_code == 401, response.text


def test_disabled_user_is_refused(
    client: httpx.Client, admin_headers: dict[str, str], user: User
) -> None:
    board = make_board(client, admin_headers)
    assert submit(client, board, user.headers, 1).status_code == 200
    disabled = client.put(
        f"/api/v1/admin/users/{user.user_id}", json={"disabled": True}, headers=admin_headers
    )
    assert disabled.status_code == 200, disabled.text
    refused = submit(client, board, user.headers, 1)
    assert refused.status_code == 401
    login = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": user.password}
    )
    assert login.status_code == 401
    enabled = client.put(
        f"/api/v1/admin/users/{user.user_id}", json={"disabled": False}, headers=admin_headers
    )
    assert enabled.status_code == 200
    assert submit(client, board, user.headers, 1).status_code == 200
    missing = client.put(
        f"/api/v1/admin/users/{uuid.uuid4()}", json={"disabled": True}, headers=admin_headers
    )
    assert missing.status_code == 404


def test_admin_endpoints_need_the_admin_scope(
    client: httpx.Client, user: User, service_headers: dict[str, str], admin_api_key: str
) -> None:
    body = {"size": 5, "generation": 1}
    assert client.put("/api/v1/admin/leaderboards/x-1", json=body).status_code == 401
    for headers in (user.headers, service_headers):
        response = client.put("/api/v1/admin/leaderboards/x-1", json=body, headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    # The static admin key works as a bearer credential.
    ok = client.put(
        "/api/v1/admin/leaderboards/x-key",
        json=body,
        headers={"Authorization": f"Bearer {admin_api_key}"},
    )
    assert ok.status_code == 200, ok.text
