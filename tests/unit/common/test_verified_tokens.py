"""The verified-token cache: bounded, never past a token's `exp`, at most its ttl."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scoreboard_common.auth import AuthError, TokenVerifier, VerifiedTokens

from tests.support import wait_for

ISSUER = AUDIENCE = "scoreboard"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_until_exp_or_ttl_whichever_is_first() -> None:
    clock = Clock()
    cache: VerifiedTokens[str] = VerifiedTokens(size=10, ttl=60, clock=clock)
    cache.put("short", "a", expires_at=clock.now + 5)
    cache.put("long", "b", expires_at=clock.now + 3600)
    assert cache.get("short") == "a" and cache.get("long") == "b"
    clock.now += 5
    assert cache.get("short") is None  # at exp: gone
    assert cache.get("long") == "b"
    clock.now += 55
    assert cache.get("long") is None  # at the ttl: gone, although the token is still valid


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    clock = Clock()
    cache: VerifiedTokens[int] = VerifiedTokens(size=2, ttl=60, clock=clock)
    cache.put("a", 1, clock.now + 60)
    cache.put("b", 2, clock.now + 60)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3, clock.now + 60)
    assert len(cache) == 2 and cache.get("b") is None and cache.get("a") == 1


def test_tokens_without_exp_or_a_zero_size_are_not_kept() -> None:
    cache: VerifiedTokens[int] = VerifiedTokens(size=0)
    cache.put("a", 1, time.time() + 60)
    assert cache.get("a") is None
    other: VerifiedTokens[int] = VerifiedTokens()
    other.put("a", 1, None)
    assert other.get("a") is None


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _verifier(key: ec.EllipticCurvePrivateKey, **options: object) -> TokenVerifier:
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TokenVerifier.from_public_key_pem(
        pem, kid="k1", issuer=ISSUER, audience=AUDIENCE, algorithms=["ES256"], **options
    )


def _token(key: ec.EllipticCurvePrivateKey, exp: float) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "iat": now, "exp": int(exp)}
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": "k1"})


async def test_a_verified_token_is_answered_from_the_cache(
    key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = _verifier(key)
    token = _token(key, time.time() + 600)
    first = await verifier.verify(token)
    calls = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(a))
    assert await verifier.verify(token) is first
    assert calls == []  # no signature check the second time


async def test_the_cache_never_outlives_the_token(key: ec.EllipticCurvePrivateKey) -> None:
    verifier = _verifier(key, leeway_seconds=0)
    exp = int(time.time()) + 2
    token = _token(key, exp)
    await verifier.verify(token)
    assert len(verifier.verified) == 1
    wait_for(lambda: time.time() > exp, 5, "the token's exp", interval=0.05)
    with pytest.raises(AuthError, match="expired"):
        await verifier.verify(token)


async def test_a_forged_token_is_not_answered_by_its_genuine_twin(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    verifier = _verifier(key)
    token = _token(key, time.time() + 600)
    await verifier.verify(token)
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    with pytest.raises(AuthError):
        await verifier.verify(forged)
