"""Identity routes: register, login, refresh, logout, JWKS."""

from __future__ import annotations

import time
from typing import Any

from litestar import Response, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from scoreboard_common.netaddr import client_group

from scoreboard_api.domain.errors import ProblemError
from scoreboard_api.domain.ratelimit import Limit
from scoreboard_api.http.deps import AnyRequest, client_ip, container_of, decode_body
from scoreboard_api.metrics import RATE_LIMITED
from scoreboard_api.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenResponse,
)
from scoreboard_api.services import identity
from scoreboard_api.services.scores import REDIS_ERRORS

TAGS = ["identity"]


async def _throttle(request: AnyRequest) -> None:
    """Per client IP limit on credential endpoints (Redis, else per replica)."""
    container = container_of(request)
    limit = Limit("ip", container.settings.auth_rate_limit_per_minute, 60)
    ip = client_group(client_ip(request))
    decision = None
    if container.monitor.redis_up:
        try:
            decision = await container.side.limit("_auth", f"ip:{ip}", limit)
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    if decision is None:
        decision = container.fallback_limiter.hit(f"auth\0{ip}", limit, time.time() * 1000)
    if not decision.allowed:
        RATE_LIMITED.labels("auth", "ip").inc()
        raise ProblemError(
            429,
            "rate_limited",
            "too many authentication attempts",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )


@post(
    "/api/v1/auth/register",
    status_code=HTTP_201_CREATED,
    tags=TAGS,
    operation_id="register",
    opt={"body": RegisterRequest},
)
async def register(request: AnyRequest) -> RegisterResponse:
    """Create a user account."""
    await _throttle(request)
    body = await decode_body(request, RegisterRequest)
    return await identity.register(
        container_of(request),
        body.username,
        body.password,
        client_group(client_ip(request)),
        email=body.email,
    )


@post(
    "/api/v1/auth/login",
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="login",
    opt={"body": LoginRequest},
)
async def login(request: AnyRequest) -> TokenResponse:
    """Exchange a username (or the account's e-mail address) and password for an access and a
    refresh token."""
    return await login_tokens(request)


async def login_tokens(request: AnyRequest) -> TokenResponse:
    """The v1 login (shared with the seed aliases)."""
    body = await decode_body(request, LoginRequest)
    return await sign_in(request, body.username, body.password)


async def sign_in(request: AnyRequest, name: str, password: str) -> TokenResponse:
    """Throttled login by username or e-mail address."""
    await _throttle(request)
    return await identity.login(
        container_of(request), name, password, client_group(client_ip(request))
    )


@post(
    "/api/v1/auth/refresh",
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="refreshTokens",
    opt={"body": RefreshRequest},
)
async def refresh(request: AnyRequest) -> TokenResponse:
    """Rotate a refresh token; reusing a rotated one revokes its whole family."""
    return await refresh_tokens(request)


async def refresh_tokens(request: AnyRequest) -> TokenResponse:
    """The v1 refresh (shared with the seed aliases)."""
    await _throttle(request)
    body = await decode_body(request, RefreshRequest)
    return await identity.refresh(container_of(request), body.refresh_token)


@post(
    "/api/v1/auth/logout",
    status_code=HTTP_204_NO_CONTENT,
    tags=TAGS,
    operation_id="logout",
    opt={"body": RefreshRequest},
)
async def logout(request: AnyRequest) -> None:
    """Revoke a refresh token's family and end its session's access tokens."""
    await end_session(request)


async def end_session(request: AnyRequest) -> None:
    """The v1 logout (shared with the seed aliases)."""
    await _throttle(request)
    body = await decode_body(request, RefreshRequest)
    await identity.logout(container_of(request), body.refresh_token)


@get("/.well-known/jwks.json", tags=TAGS, operation_id="getJwks", cache_control=None)
async def jwks(request: AnyRequest) -> Response[dict[str, Any]]:
    """Public keys that verify this api's access tokens."""
    issuer = container_of(request).issuer
    keys = issuer.jwks() if issuer else {"keys": []}
    return Response(keys, headers={"Cache-Control": "public, max-age=300"})


ROUTES = [register, login, refresh, logout, jwks]
