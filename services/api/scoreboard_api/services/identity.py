"""Identity: registration, login, refresh rotation, logout. Passwords are hashed with argon2id
(services/passwords.py) on the bounded hashing pool (services/hashing.py) so neither the event
loop nor the process's memory suffers from a login flood."""

from __future__ import annotations

import hashlib
import time
import uuid

from scoreboard_common.revocation import revoke_session

from scoreboard_api.adapters import pg_identity
from scoreboard_api.adapters.pg_identity import UserRow
from scoreboard_api.domain.credentials import check_username, login_throttled
from scoreboard_api.domain.errors import ProblemError, dependency_unavailable
from scoreboard_api.domain.tokens import hash_refresh_token, new_refresh_token
from scoreboard_api.metrics import AUTH_FAILURES
from scoreboard_api.schemas import RegisterResponse, TokenResponse
from scoreboard_api.services.container import Container
from scoreboard_api.services.scores import REDIS_ERRORS

USER_SCOPES = ["scores:write:self"]


def _identity_disabled() -> ProblemError:
    return ProblemError(
        404, "identity_disabled", "this deployment does not issue tokens (external issuer only)"
    )


def _bad_credentials(reason: str = "bad_credentials") -> ProblemError:
    AUTH_FAILURES.labels(reason).inc()
    return ProblemError(
        401,
        "invalid_credentials",
        "unknown user or wrong password",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def register(
    container: Container, username: str, password: str, client: str, email: str | None = None
) -> RegisterResponse:
    if container.issuer is None:
        raise _identity_disabled()
    if not container.settings.registration_enabled:
        raise ProblemError(403, "registration_disabled", "registration is disabled")
    check_username(username)
    password_hash = await container.hashes.run(client, _checked_hash, container, password, username)
    user_id = await pg_identity.create_user(container.db, username, password_hash, email)
    if user_id is None:
        raise ProblemError(409, "username_taken", "this username is taken")
    if user_id == "":
        raise ProblemError(409, "email_taken", "this e-mail address is already registered")
    return RegisterResponse(user_id=user_id, username=username)


def _checked_hash(container: Container, password: str, username: str) -> str:
    """On a hashing thread: the strength estimate costs CPU too."""
    container.password_policy.check(password, username)
    return container.passwords.hash(password)


def _account(user: UserRow | None, username: str) -> str:
    """The throttle's key: the user's id (the same whichever name or e-mail signs in), or the
    name for unknown users, who are throttled alike (no account enumeration)."""
    subject = f"user:{user.id}" if user else f"name:{username.casefold()}"
    return hashlib.sha256(subject.encode()).hexdigest()[:32]


async def _blocked_ms(container: Container, account: str) -> float:
    if container.monitor.redis_up:
        try:
            return await container.side.login_blocked_ms(account)
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    return container.login_fallback.blocked_ms(account, time.time() * 1000)


async def _record(container: Container, account: str, *, ok: bool) -> None:
    if container.monitor.redis_up:
        try:
            if ok:
                await container.side.login_succeeded(account)
            else:
                await container.side.login_failed(account, container.login_throttle)
            return
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    if ok:
        container.login_fallback.succeeded(account)
    else:
        container.login_fallback.failed(account, time.time() * 1000)


async def _tokens(
    container: Container, user: UserRow, family_id: str | None = None
) -> TokenResponse:
    issuer = container.issuer
    assert issuer is not None
    settings = container.settings
    family_id = family_id or str(uuid.uuid4())
    access = issuer.issue(
        subject=user.id,
        username=user.username,
        scopes=USER_SCOPES,
        ttl_seconds=settings.access_token_ttl_seconds,
        session_id=family_id,
    )
    refresh, refresh_hash = new_refresh_token()
    await pg_identity.store_refresh_token(
        container.db,
        user_id=user.id,
        token_hash=refresh_hash,
        ttl_seconds=settings.refresh_token_ttl_seconds,
        family_id=family_id,
    )
    return TokenResponse(
        access_token=access,
        refresh_token=refresh,
        token_type="Bearer",  # noqa: S106
        expires_in=settings.access_token_ttl_seconds,
        scope=" ".join(USER_SCOPES),
    )


async def login(container: Container, username: str, password: str, client: str) -> TokenResponse:
    if container.issuer is None:
        raise _identity_disabled()
    # Usernames never contain '@': a name with one is the account's e-mail address (seed 002).
    if "@" in username:
        user = await pg_identity.user_by_email(container.db, username)
    else:
        user = await pg_identity.user_by_name(container.db, username)
    account = _account(user, username)
    blocked_ms = await _blocked_ms(container, account)
    if blocked_ms > 0:
        AUTH_FAILURES.labels("throttled").inc()
        raise login_throttled(blocked_ms)
    passwords = container.passwords
    stored = user.password_hash if user and user.password_hash else passwords.dummy_hash
    ok, rehashed = await container.hashes.run(client, passwords.verify, stored, password)
    if user is None or not ok:
        await _record(container, account, ok=False)
        raise _bad_credentials()
    await _record(container, account, ok=True)
    if rehashed is not None:
        await pg_identity.replace_password_hash(container.db, user.id, stored, rehashed)
    if user.disabled:
        raise _bad_credentials("disabled")
    return await _tokens(container, user)


async def refresh(container: Container, token: str) -> TokenResponse:
    if container.issuer is None:
        raise _identity_disabled()
    settings = container.settings
    access_refresh, new_hash = new_refresh_token()
    result = await pg_identity.rotate_refresh_token(
        container.db,
        token_hash=hash_refresh_token(token),
        new_hash=new_hash,
        ttl_seconds=settings.refresh_token_ttl_seconds,
    )
    if result.status == "reused" and result.family_id:
        await _revoke_session(container, result.family_id)  # the family's access tokens too
    if result.status != "ok" or result.user is None:
        AUTH_FAILURES.labels(f"refresh_{result.status}").inc()
        code = "refresh_token_reused" if result.status == "reused" else "invalid_refresh_token"
        raise ProblemError(
            401,
            code,
            f"the refresh token is {result.status}",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = result.user
    access = container.issuer.issue(
        subject=user.id,
        username=user.username,
        scopes=USER_SCOPES,
        ttl_seconds=settings.access_token_ttl_seconds,
        session_id=result.family_id,
    )
    return TokenResponse(
        access_token=access,
        refresh_token=access_refresh,
        token_type="Bearer",  # noqa: S106
        expires_in=settings.access_token_ttl_seconds,
        scope=" ".join(USER_SCOPES),
    )


async def logout(container: Container, token: str) -> None:
    """Revoke the refresh token's family and, through its session id, every access token
    issued in that session (within REVOCATION_REFRESH_SECONDS on every replica)."""
    family_id = await pg_identity.revoke_family_of(container.db, hash_refresh_token(token))
    if family_id is not None:
        await _revoke_session(container, family_id)


async def _revoke_session(container: Container, session_id: str) -> None:
    settings = container.settings
    # The session's newest access token expires at most one lifetime (+ leeway) from now.
    until = time.time() + settings.access_token_ttl_seconds + settings.auth_leeway_seconds
    container.revocations.revoke_locally(session_id, until)
    try:
        await revoke_session(container.redis, session_id, until)
    except REDIS_ERRORS:
        container.monitor.redis_failed()
        raise dependency_unavailable("redis") from None
