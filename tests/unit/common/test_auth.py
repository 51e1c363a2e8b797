"""Token verification refuses every classic JWT attack (pinned algorithms, claims checked)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scoreboard_common.auth import AuthError, TokenVerifier, bearer_from_header

ISSUER, AUDIENCE, KID = "scoreboard", "scoreboard", "k1"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def verifier(public_pem: bytes) -> TokenVerifier:
    return TokenVerifier.from_public_key_pem(
        public_pem, kid=KID, issuer=ISSUER, audience=AUDIENCE, algorithms=["ES256"]
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "scope": "scores:write:any",
        "preferred_username": "alice",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: ec.EllipticCurvePrivateKey, payload: dict[str, Any], kid: str = KID) -> str:
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_valid_token_gives_principal(
    verifier: TokenVerifier, key: ec.EllipticCurvePrivateKey
) -> None:
    principal = await verifier.verify(sign(key, claims()))
    assert principal.subject == "user-1"
    assert principal.username == "alice"
    assert principal.has("scores:write:any")
    assert not principal.has("scoreboard:admin")


async def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    token = f"{b64(json.dumps({'alg': 'none', 'kid': KID}).encode())}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(AuthError) as caught:
        await verifier.verify(token)
    assert caught.value.reason == "algorithm"


async def test_hs256_signed_with_public_key_is_refused(
    verifier: TokenVerifier, public_pem: bytes
) -> None:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = b64(json.dumps(claims()).encode())
    import hashlib
    import hmac

    signature = b64(hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(AuthError) as caught:
        await verifier.verify(f"{header}.{body}.{signature}")
    assert caught.value.reason == "algorithm"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        # Times relative to when the test runs (resolved below), not to when it was collected:
        # a long session can start a test many minutes after collection.
        ({"exp": -120}, "expired"),
        ({"nbf": +600}, "not_yet_valid"),
        ({"iss": "someone-else"}, "wrong_issuer_or_audience"),
        ({"aud": "another-service"}, "wrong_issuer_or_audience"),
        ({"exp": None}, "invalid"),
        ({"sub": None}, "invalid"),
    ],
)
async def test_bad_claims_are_refused(
    verifier: TokenVerifier, key: ec.EllipticCurvePrivateKey, overrides: dict[str, Any], reason: str
) -> None:
    now = int(time.time())
    resolved = {
        name: now + value if name in {"exp", "nbf"} and isinstance(value, int) else value
        for name, value in overrides.items()
    }
    with pytest.raises(AuthError) as caught:
        await verifier.verify(sign(key, claims(**resolved)))
    assert caught.value.reason == reason


async def test_unknown_kid_is_refused(
    verifier: TokenVerifier, key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(AuthError) as caught:
        await verifier.verify(sign(key, claims(), kid="other"))
    assert caught.value.reason == "unknown_key"


async def test_other_key_and_tampered_claims_are_refused(
    verifier: TokenVerifier, key: ec.EllipticCurvePrivateKey
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthError):
        await verifier.verify(sign(stranger, claims()))
    header, _, signature = sign(key, claims()).split(".")
    forged_body = b64(json.dumps(claims(scope="scoreboard:admin")).encode())
    with pytest.raises(AuthError):
        await verifier.verify(f"{header}.{forged_body}.{signature}")


def test_symmetric_algorithms_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="never accepted"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["ES256", "HS256"])


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer_parsing(header: str | None, token: str | None) -> None:
    assert bearer_from_header(header) == token
