"""Litestar application of the realtime service: ``create_app()``."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, InternalServerException
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router
from scoreboard_common.auth import TokenVerifier
from scoreboard_common.gc_tuning import settle_heap
from scoreboard_common.metrics import DEPENDENCY_UP, HttpMetricsMiddleware
from scoreboard_common.redis_client import create_pubsub_redis, create_redis
from scoreboard_common.revocation import RevocationList
from scoreboard_common.settings import load_settings
from scoreboard_common.telemetry import configure_tracing

from scoreboard_realtime.adapters.redis_sources import RedisPolicySource, RedisSnapshotSource
from scoreboard_realtime.adapters.subscriber import Subscriber
from scoreboard_realtime.domain.hub import Hub
from scoreboard_realtime.domain.limits import ConnectionLimiter
from scoreboard_realtime.http import pages, ws
from scoreboard_realtime.http.runtime import Runtime
from scoreboard_realtime.settings import RealtimeSettings

log = logging.getLogger("scoreboard.realtime")
SERVICE = "realtime"


def build_verifier(settings: RealtimeSettings) -> TokenVerifier | None:
    """Verify tokens with a PEM key file, a JWKS URL, or both; None when neither is set."""
    options: dict[str, object] = {
        "issuer": settings.auth_issuer,
        "audience": settings.auth_audience,
        "algorithms": settings.auth_algorithms,
        "leeway_seconds": settings.auth_leeway_seconds,
        "jwks_url": settings.auth_jwks_url,
    }
    if settings.auth_public_key_file:
        # The file is authoritative: a JWKS refresh would replace the static key.
        pem = Path(settings.auth_public_key_file).read_bytes()
        options["jwks_url"] = None
        return TokenVerifier.from_public_key_pem(pem, **options)  # type: ignore[arg-type]
    if settings.auth_jwks_url:
        return TokenVerifier(**options)  # type: ignore[arg-type]
    log.warning("neither AUTH_PUBLIC_KEY_FILE nor AUTH_JWKS_URL is set: only anonymous clients")
    return None


def _file_error(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """The static router hands odd names to the file system as they are: a NUL byte, an
    over-long name or a path through a file raise ValueError/OSError (Litestar wraps the
    latter in a 500). Those are names of files that do not exist (404); anything else of these
    types is a logged 500."""
    if isinstance(error, HTTPException) and not isinstance(error, InternalServerException):
        # Litestar's NotFoundException is also a ValueError: answer it as Litestar would.
        return Response(
            {"status_code": error.status_code, "detail": error.detail},
            status_code=error.status_code,
            headers=error.headers,
        )
    cause = error.__cause__ if isinstance(error, InternalServerException) else error
    benign = isinstance(cause, (ValueError, NotADirectoryError, FileNotFoundError)) or (
        isinstance(cause, OSError) and cause.errno in (errno.ENAMETOOLONG, errno.ENOTDIR)
    )
    if benign and request.url.path.startswith("/static/"):
        log.info("static path refused", extra={"path": request.url.path[:200], "error": str(error)})
        return Response({"status_code": 404, "detail": "Not Found"}, status_code=404)
    log.exception("unhandled error", exc_info=error)
    return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)


def create_app(settings: RealtimeSettings | None = None) -> Litestar:
    settings = settings or load_settings(RealtimeSettings)
    configure_tracing("scoreboard-realtime")
    verifier = build_verifier(settings)
    separate_metrics = settings.metrics_port != 0

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        redis = create_redis(settings.redis_url)
        pubsub_redis = create_pubsub_redis(settings.redis_url)
        hub = Hub(
            RedisSnapshotSource(redis),
            RedisPolicySource(redis),
            send_timeout=settings.ws_send_timeout_seconds,
        )
        subscriber = Subscriber(pubsub_redis, hub)
        revocations = RevocationList()
        DEPENDENCY_UP.labels("redis").set(0)
        app.state.runtime = Runtime(
            settings=settings,
            redis=redis,
            pubsub_redis=pubsub_redis,
            hub=hub,
            subscriber=subscriber,
            verifier=verifier,
            limiter=ConnectionLimiter(
                settings.ws_max_connections_per_ip, settings.ws_max_connections
            ),
            revocations=revocations,
        )
        hub.start()
        subscriber.start()
        # Reload revocations, then close the sockets they (or an expired token) no longer allow.
        revoker = asyncio.create_task(
            revocations.run(
                redis,
                settings.revocation_refresh_seconds,
                after_reload=lambda: hub.revoke_unauthorised(time.time(), revocations),
            ),
            name="revocations",
        )
        settle_heap()  # start-up is over: keep full GC pauses out of the broadcast loop
        try:
            yield
        finally:
            revoker.cancel()
            with contextlib.suppress(BaseException):
                await revoker
            await subscriber.stop()
            await hub.stop()
            await redis.aclose()
            await pubsub_redis.aclose()

    return Litestar(
        route_handlers=[
            *ws.handlers,
            # /metrics is on its own port when METRICS_PORT is set (cli.serve starts it).
            *(h for h in pages.handlers if h is not pages.metrics_endpoint or not separate_metrics),
            create_static_files_router(
                path="/static", directories=[pages.STATIC_DIR], name="static"
            ),
        ],
        lifespan=[lifespan],
        exception_handlers={
            ValueError: _file_error,
            OSError: _file_error,
            InternalServerException: _file_error,
        },
        middleware=[DefineMiddleware(HttpMetricsMiddleware, service=SERVICE)],  # type: ignore[arg-type]
        openapi_config=None,
        logging_config=None,
    )
