"""Authentication of requests: the api's own ES256 tokens, an external OIDC issuer's tokens
(JWKS URL), and the optional static admin key. Verified tokens are cached until they expire so
the hot path does not redo the signature check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import jwt
from scoreboard_common.auth import (
    SCOPE_ADMIN,
    AuthError,
    Principal,
    TokenVerifier,
    VerifiedTokens,
    bearer_from_header,
)
from scoreboard_common.revocation import RevocationList

from scoreboard_api.adapters.policy_cache import PolicyCache
from scoreboard_api.domain.errors import ProblemError, forbidden
from scoreboard_api.domain.tokens import user_id_for_subject
from scoreboard_api.metrics import AUTH_FAILURES

_CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    user_id: str  # UUID of the caller (external subjects are mapped, see tokens.py)
    expires_at: float

    def has(self, scope: str) -> bool:
        return self.principal.has(scope)


def _unauthorized(reason: str, detail: str) -> ProblemError:
    AUTH_FAILURES.labels(reason).inc()
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


class Authenticator:
    def __init__(
        self,
        *,
        local: TokenVerifier | None,
        local_kid: str | None,
        external: TokenVerifier | None,
        admin_api_key: str | None,
        policies: PolicyCache,
        revocations: RevocationList,
    ) -> None:
        self.local = local
        self.local_kid = local_kid
        self.external = external
        self.admin_api_key = admin_api_key.encode() if admin_api_key else None
        self.policies = policies
        self.revocations = revocations
        # Verified callers until their `exp` (at most a minute); revocation is checked below
        # on every request, cache or not.
        self._cache: VerifiedTokens[Caller] = VerifiedTokens(size=_CACHE_SIZE)

    async def authenticate(self, authorization: str | None) -> Caller:
        token = bearer_from_header(authorization)
        if token is None:
            raise _unauthorized("missing", "a bearer token is required")
        if len(token) > 8192:
            raise _unauthorized("malformed", "the token is too long")
        if self.admin_api_key is not None and hmac.compare_digest(
            token.encode(), self.admin_api_key
        ):
            return Caller(
                Principal(
                    subject="admin-api-key", username="admin", scopes=frozenset({SCOPE_ADMIN})
                ),
                user_id="00000000-0000-0000-0000-000000000000",
                expires_at=float("inf"),
            )
        caller = self._cache.get(token)
        if caller is None:
            caller = await self._verify(token)
            self._cache.put(token, caller, caller.expires_at)
        # Disabled accounts: the api's own copy from PostgreSQL (changed at once by the replica
        # that disables, reloaded by the others on `sb:api:control`). The Redis set mirrors it
        # for realtime; reading it here would lag behind a re-enable.
        if caller.user_id in self.policies.disabled_users:
            raise _unauthorized("disabled", "this account is disabled")
        if self.revocations.session_revoked(caller.principal.session_id):
            raise _unauthorized("revoked", "this session has ended (signed out)")
        return caller

    async def _verify(self, token: str) -> Caller:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise _unauthorized("malformed", "the token is not a valid JWT") from None
        external = False
        verifier: TokenVerifier | None
        if self.local is not None and (kid == self.local_kid or self.external is None):
            verifier = self.local
        else:
            verifier = self.external
            external = True
        if verifier is None:
            raise _unauthorized("unknown_key", "the token was signed by an unknown key")
        try:
            principal = await verifier.verify(token)
        except AuthError as error:
            raise _unauthorized(error.reason, error.detail) from None
        except Exception:
            raise _unauthorized("jwks_unavailable", "the token could not be verified") from None
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        user_id = user_id_for_subject(principal.subject, verifier.issuer if external else None)
        return Caller(principal, user_id, float(claims.get("exp", 0)))

    async def optional(self, authorization: str | None) -> Caller | None:
        if not authorization:
            return None
        return await self.authenticate(authorization)

    async def require_scope(self, authorization: str | None, scope: str) -> Caller:
        caller = await self.authenticate(authorization)
        if not caller.has(scope):
            AUTH_FAILURES.labels("scope").inc()
            raise forbidden(f"the token lacks the `{scope}` scope")
        return caller
