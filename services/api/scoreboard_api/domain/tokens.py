"""Issuing tokens: ES256 access tokens (kid = RFC 7638 thumbprint), the JWKS, and opaque
refresh tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from scoreboard_common.auth import jwk_thumbprint
from scoreboard_common.auth import user_id_for_subject as user_id_for_subject  # re-exported


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_private_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


class TokenIssuer:
    def __init__(self, private_key_pem: bytes, *, issuer: str, audience: str) -> None:
        key = load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("JWT_PRIVATE_KEY_FILE must hold a P-256 (ES256) private key")
        self._key = key
        self.issuer = issuer
        self.audience = audience
        jwk = public_jwk(key.public_key())
        self.kid = jwk_thumbprint(jwk)
        self.jwk: dict[str, str] = {**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}

    @property
    def public_key_pem(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import PublicFormat

        return self._key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def issue(
        self,
        *,
        subject: str,
        username: str | None,
        scopes: list[str],
        ttl_seconds: int,
        now: float | None = None,
        session_id: str | None = None,
    ) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "scope": " ".join(scopes),
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        if username:
            claims["preferred_username"] = username
        if session_id:
            claims["sid"] = session_id
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})


def new_refresh_token() -> tuple[str, bytes]:
    """A new opaque refresh token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
