"""Access-token verification shared by the api and the realtime service.

Keys come from a PEM public key file, a JWKS document (the api's own or an external OIDC
issuer's), or keys handed in directly. Algorithms are pinned from settings; ``exp``, ``nbf``,
``iss`` and ``aud`` are always required and checked.
"""

from __future__ import annotations

import time
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import httpx
import jwt
import msgspec
from jwt import PyJWK

SCOPE_WRITE_ANY = "scores:write:any"
SCOPE_ADMIN = "scoreboard:admin"
_JWKS_MIN_REFRESH_SECONDS = 30.0


class AuthError(Exception):
    """A token was missing, malformed, expired, or not ours. ``reason`` is a metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    username: str | None
    scopes: frozenset[str]
    token_id: str | None = None
    issued_at: int | None = None
    expires_at: int | None = None
    session_id: str | None = None  # `sid`: the api's refresh-token family (revocable)

    def has(self, scope: str) -> bool:
        return scope in self.scopes


T = TypeVar("T")
VERIFIED_CACHE_SIZE = 4096
VERIFIED_CACHE_TTL_SECONDS = 60.0


class VerifiedTokens(Generic[T]):
    """What verifying a token gave (a principal, a caller), kept a short while so a client that
    sends the same token again is not verified again (an ES256 check is ~0.1 ms of CPU).

    Keyed by the token's exact text (no digest, so no collision to reason about). An entry
    lives at most ``ttl`` seconds and never past the token's own ``exp``; at most ``size``
    entries, the least recently used dropped first. Only *verification* is cached: revocation
    (a signed-out session, a disabled account) is checked by the caller on every use, so it
    takes effect as soon as the revocation list has it, cache or not. The ``ttl`` bounds how
    long a token signed by a key that was since removed from the JWKS is still accepted.
    """

    def __init__(
        self,
        size: int = VERIFIED_CACHE_SIZE,
        ttl: float = VERIFIED_CACHE_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, token: str) -> T | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry[1]

    def put(self, token: str, value: T, expires_at: float | None) -> None:
        """Keep ``value`` until ``expires_at`` (epoch seconds; the token's ``exp``) or the ttl,
        whichever is first. A token without ``exp`` is not kept."""
        if self.size <= 0 or expires_at is None:
            return
        until = min(float(expires_at), self._clock() + self.ttl)
        self._entries[token] = (until, value)
        self._entries.move_to_end(token)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class TokenVerifier:
    """Verifies access tokens against a fixed key set or a refreshed JWKS; a token verified
    once is answered from a :class:`VerifiedTokens` cache until its ``exp`` (or the ttl)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        keys: Iterable[PyJWK] = (),
        jwks_url: str | None = None,
        leeway_seconds: int = 5,
        cache_size: int = VERIFIED_CACHE_SIZE,
        cache_ttl_seconds: float = VERIFIED_CACHE_TTL_SECONDS,
    ) -> None:
        forbidden = {"none", "HS256", "HS384", "HS512"} & set(algorithms)
        if forbidden:
            raise ValueError(f"algorithms {sorted(forbidden)} are never accepted")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway = leeway_seconds
        self._jwks_url = jwks_url
        self._keys: dict[str | None, PyJWK] = {key.key_id: key for key in keys}
        self._fetched_at = 0.0
        self.verified: VerifiedTokens[Principal] = VerifiedTokens(cache_size, cache_ttl_seconds)

    @classmethod
    def from_public_key_pem(
        cls, pem: bytes, *, kid: str | None = None, **kwargs: Any
    ) -> TokenVerifier:
        """One static key. ``kid`` defaults to the key's RFC 7638 thumbprint, which is the
        ``kid`` the api signs with, so its tokens verify; any other ``kid`` is refused."""
        from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        public_key = load_pem_public_key(pem)
        if not isinstance(public_key, EllipticCurvePublicKey):
            raise ValueError("the public key must be an EC (P-256) key for ES256")
        jwk_json = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
        jwk_json["kid"] = kid or jwk_thumbprint(jwk_json)
        return cls(keys=[PyJWK(jwk_json, algorithm="ES256")], **kwargs)

    async def refresh(self, *, force: bool = False) -> None:
        """Fetch the JWKS when configured (rate-limited so unknown kids cannot hammer it)."""
        if self._jwks_url is None:
            return
        if not force and time.monotonic() - self._fetched_at < _JWKS_MIN_REFRESH_SECONDS:
            return
        self._fetched_at = time.monotonic()
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self._jwks_url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str | None, PyJWK] = {}
        self.verified.clear()  # the key set changed: verify again against the new one
        for item in document.get("keys", []):
            if item.get("use", "sig") != "sig":
                continue
            try:
                key = PyJWK(item)
            except jwt.PyJWTError:
                continue
            keys[key.key_id] = key
        self._keys = keys

    async def verify(self, token: str) -> Principal:
        cached = self.verified.get(token)
        if cached is not None:
            return cached
        principal = await self._verify(token)
        self.verified.put(token, principal, principal.expires_at)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise AuthError("malformed", "the token is not a valid JWT") from error
        if header.get("alg") not in self.algorithms:
            raise AuthError("algorithm", "the token's algorithm is not accepted")
        kid = header.get("kid")
        key = self._keys.get(kid)
        if key is None:
            await self.refresh(force=not self._keys)
            key = self._keys.get(kid)
        if key is None:
            raise AuthError("unknown_key", "the token was signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_nbf": True},
            )
        except jwt.ExpiredSignatureError as error:
            raise AuthError("expired", "the token has expired") from error
        except jwt.ImmatureSignatureError as error:
            raise AuthError("not_yet_valid", "the token is not valid yet") from error
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as error:
            raise AuthError(
                "wrong_issuer_or_audience", "the token is not for this service"
            ) from error
        except jwt.PyJWTError as error:
            raise AuthError("invalid", "the token is invalid") from error
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    raw_scope = claims.get("scope", "")
    scopes = raw_scope.split() if isinstance(raw_scope, str) else list(raw_scope or [])
    return Principal(
        subject=str(claims["sub"]),
        username=display_name(claims.get("preferred_username") or claims.get("name")),
        scopes=frozenset(str(s) for s in scopes),
        token_id=claims.get("jti"),
        issued_at=claims.get("iat"),
        expires_at=_int_or_none(claims.get("exp")),
        session_id=str(claims["sid"]) if isinstance(claims.get("sid"), str) else None,
    )


_NAME_MAX = 64
# Unicode categories never kept in a name: controls, format characters (bidi overrides and
# isolates, zero-width spaces and joiners, BOM), surrogates, private use, line separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def display_name(value: Any) -> str | None:
    """A name from a token's claims, safe to store and show: NFKC-normalised, without control,
    bidi or zero-width characters, whitespace collapsed, at most 64 characters; None if
    nothing is left. (An external issuer's claims are not ours to trust verbatim.)"""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = " ".join(text.split())[:_NAME_MAX].strip()
    return text or None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


_EXTERNAL_NAMESPACE = uuid.UUID("6f1c4f8e-2f5d-4a53-9d1e-3b7c0c1d2e4f")


def user_id_for_subject(subject: str, issuer: str | None = None) -> str:
    """Our user ids are UUIDs. A subject that is one is used as is; an external issuer's other
    subjects map to a stable UUIDv5 of ``issuer|subject``."""
    try:
        return str(uuid.UUID(subject))
    except ValueError:
        return str(uuid.uuid5(_EXTERNAL_NAMESPACE, f"{issuer or ''}|{subject}"))


def jwk_thumbprint(jwk_json: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (base64url SHA-256 of the required members) of an EC or OKP JWK."""
    import base64
    import hashlib
    import json

    required = {
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
        "RSA": ("e", "kty", "n"),
    }
    members = {name: jwk_json[name] for name in required[jwk_json["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def bearer_from_header(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
