"""The api's ASGI application: ``create_app()`` (uvicorn factory)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Tag
from scoreboard_common.auth import TokenVerifier
from scoreboard_common.board_store import BoardStore
from scoreboard_common.gc_tuning import settle_heap
from scoreboard_common.logs import configure_logging
from scoreboard_common.metrics import HttpMetrics
from scoreboard_common.redis_client import create_redis, raise_if_cancelled
from scoreboard_common.revocation import RevocationList
from scoreboard_common.settings import load_settings
from scoreboard_common.telemetry import configure_tracing

from scoreboard_api.adapters import pg_boards, pg_identity, pg_webhooks
from scoreboard_api.adapters.monitor import DependencyMonitor
from scoreboard_api.adapters.pg_scores import Committer
from scoreboard_api.adapters.policy_cache import PolicyCache
from scoreboard_api.adapters.postgres import Database
from scoreboard_api.adapters.redis_side import RedisSide
from scoreboard_api.adapters.sealing import Sealer
from scoreboard_api.adapters.webhook_sender import WebhookSender
from scoreboard_api.domain.credentials import LoginThrottle, MemoryLoginThrottle, PasswordPolicy
from scoreboard_api.domain.errors import DomainError, ProblemError, Unavailable
from scoreboard_api.domain.tokens import TokenIssuer
from scoreboard_api.http import (
    routes_admin,
    routes_identity,
    routes_ops,
    routes_scores,
    seeds,
)
from scoreboard_api.http.middleware import RequestContextMiddleware
from scoreboard_api.http.openapi import ScoreboardOpenAPI
from scoreboard_api.http.problems import (
    handle_domain,
    handle_http_exception,
    handle_problem,
    handle_unexpected,
)
from scoreboard_api.services.auth import Authenticator
from scoreboard_api.services.container import Container
from scoreboard_api.services.hashing import HashPool
from scoreboard_api.services.passwords import Passwords
from scoreboard_api.services.webhooks import DeliveryWorker, RetryPolicy
from scoreboard_api.settings import ApiSettings

SERVICE = "scoreboard-api"
log = logging.getLogger("scoreboard.api")


def _instrument_clients() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument()


async def _purge_refresh_tokens(db: Database, retention_seconds: int) -> None:
    """Delete long-expired refresh tokens every 10 minutes (each replica; the DELETE is
    idempotent, so replicas racing each other only repeat work)."""
    while True:
        raise_if_cancelled()
        try:
            purged = await pg_identity.purge_expired_refresh_tokens(db, retention_seconds)
            if purged:
                log.info("refresh tokens purged", extra={"count": purged})
        except Exception as error:
            log.warning("refresh token purge failed: %s", error)
        await asyncio.sleep(600)


async def _reseal_secrets(db: Database, retry_seconds: float = 30.0) -> None:
    """Once per start: seal with the current key the secrets stored unsealed or under an older
    key (see ``adapters.sealing``); retried while PostgreSQL is unreachable."""
    while True:
        raise_if_cancelled()
        try:
            boards = await pg_boards.reseal_signing_keys(db)
            webhooks = await pg_webhooks.reseal_secrets(db)
        except Exception as error:
            log.warning("resealing secrets failed (retrying): %s", error)
            await asyncio.sleep(retry_seconds)
            continue
        if boards or webhooks:
            log.info(
                "secrets resealed with the current key",
                extra={"signing_keys": boards, "webhook_secrets": webhooks},
            )
        return


def _lifespan(settings: ApiSettings, issuer: TokenIssuer | None, sealer: Sealer) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = await Database.connect(
            settings.database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            command_timeout=settings.db_command_timeout_seconds,
            connect_timeout=settings.db_connect_timeout_seconds,
            acquire_timeout=settings.db_pool_acquire_timeout_seconds,
            sealer=sealer,
        )
        redis = create_redis(settings.redis_url)
        store = BoardStore(redis)
        side = RedisSide(redis)
        policies = PolicyCache(db, redis, settings.policy_refresh_seconds)
        try:
            await policies.reload()
        except Unavailable:
            log.warning("postgres unreachable at start; policies load when it is back")
        monitor = DependencyMonitor(
            db=db,
            redis=redis,
            store=store,
            side=side,
            policies=policies,
            interval=settings.health_check_interval_seconds,
        )
        local = None
        if issuer is not None:
            local = TokenVerifier.from_public_key_pem(
                issuer.public_key_pem,
                kid=issuer.kid,
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                algorithms=["ES256"],
                leeway_seconds=settings.auth_leeway_seconds,
                cache_size=0,  # the Authenticator keeps verified callers itself
            )
        external = None
        if settings.auth_jwks_url and settings.auth_external_issuer:
            external = TokenVerifier(
                issuer=settings.auth_external_issuer,
                audience=settings.auth_external_audience or settings.auth_audience,
                algorithms=settings.auth_algorithms,
                jwks_url=settings.auth_jwks_url,
                leeway_seconds=settings.auth_leeway_seconds,
                cache_size=0,  # the Authenticator keeps verified callers itself
            )
        revocations = RevocationList()
        auth = Authenticator(
            local=local,
            local_kid=issuer.kid if issuer else None,
            external=external,
            admin_api_key=settings.admin_api_key,
            policies=policies,
            revocations=revocations,
        )
        login_throttle = LoginThrottle(
            free_failures=settings.login_throttle_free_failures,
            base_delay_seconds=settings.login_throttle_base_delay_seconds,
            max_delay_seconds=settings.login_throttle_max_delay_seconds,
            forget_seconds=settings.login_throttle_forget_seconds,
        )
        app.state.container = Container(
            settings=settings,
            db=db,
            redis=redis,
            store=store,
            side=side,
            policies=policies,
            monitor=monitor,
            auth=auth,
            issuer=issuer,
            hashes=HashPool(
                workers=settings.password_hash_concurrency,
                queue_limit=settings.password_hash_queue,
                per_client=settings.password_hash_per_client,
                max_wait_seconds=settings.password_hash_max_wait_seconds,
            ),
            passwords=Passwords(
                memory_kib=settings.password_hash_memory_kib,
                time_cost=settings.password_hash_time_cost,
                parallelism=settings.password_hash_parallelism,
            ),
            password_policy=PasswordPolicy(
                min_length=settings.password_min_length,
                min_strength=settings.password_min_strength,
            ),
            login_throttle=login_throttle,
            login_fallback=MemoryLoginThrottle(login_throttle),
            revocations=revocations,
            committer=Committer(
                db, group=settings.group_commit, max_batch=settings.group_commit_max_batch
            ),
        )
        sender = WebhookSender(timeout=settings.webhook_timeout_seconds)
        deliveries = DeliveryWorker(
            db,
            sender,
            RetryPolicy(
                base_seconds=settings.webhook_retry_base_seconds,
                cap_seconds=settings.webhook_retry_cap_seconds,
                max_age_seconds=settings.webhook_max_age_seconds,
            ),
            poll_seconds=settings.webhook_poll_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
            wake=app.state.container.webhooks_due,
        )
        tasks = [
            asyncio.create_task(deliveries.run(), name="webhook-deliveries"),
            asyncio.create_task(policies.run_reloader(), name="policy-reloader"),
            asyncio.create_task(policies.run_subscriber(), name="policy-subscriber"),
            asyncio.create_task(monitor.run(), name="dependency-monitor"),
            asyncio.create_task(
                revocations.run(redis, settings.revocation_refresh_seconds), name="revocations"
            ),
            asyncio.create_task(
                _purge_refresh_tokens(db, settings.refresh_token_retention_seconds),
                name="refresh-token-purge",
            ),
            asyncio.create_task(_reseal_secrets(db), name="reseal-secrets"),
        ]
        settle_heap()  # start-up is over: full GC pauses were the p99 of every request
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sender.aclose()
            with contextlib.suppress(Exception):
                await side.batch.close()
            with contextlib.suppress(Exception):
                await redis.aclose()
            await app.state.container.committer.close()
            await db.close()
            app.state.container.hashes.close()

    return lifespan


def build_litestar(
    settings: ApiSettings, issuer: TokenIssuer | None, sealer: Sealer | None = None
) -> Litestar:
    handlers = [
        *routes_identity.ROUTES,
        *routes_scores.ROUTES,
        *seeds.ROUTES,
        *routes_admin.ROUTES,
        *routes_ops.ROUTES,
    ]
    return Litestar(
        route_handlers=handlers,
        lifespan=[_lifespan(settings, issuer, sealer or Sealer([]))],
        exception_handlers={
            ProblemError: handle_problem,
            DomainError: handle_domain,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        openapi_config=OpenAPIConfig(
            title="Scoreboard API",
            version="1.0.0",
            description="Live leaderboards: identity, idempotent score writes, reads, admin.",
            path="/schema",
            render_plugins=[ScoreboardOpenAPI(handlers)],
            tags=[
                Tag(name="identity"),
                Tag(name="scores"),
                Tag(name="admin"),
                Tag(name="seed compatibility"),
                Tag(name="operations"),
            ],
        ),
        cors_config=CORSConfig(allow_origins=settings.cors_allowed_origins)
        if settings.cors_allowed_origins
        else None,
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
        state=State({"settings": settings}),
        debug=False,
    )


def load_issuer(settings: ApiSettings) -> TokenIssuer | None:
    if not settings.jwt_private_key_file:
        if not settings.auth_jwks_url:
            raise SystemExit("JWT_PRIVATE_KEY_FILE or AUTH_JWKS_URL must be set")
        return None
    try:
        pem = Path(settings.jwt_private_key_file).read_bytes()
        return TokenIssuer(pem, issuer=settings.auth_issuer, audience=settings.auth_audience)
    except (OSError, ValueError) as error:
        raise SystemExit(f"JWT_PRIVATE_KEY_FILE: {error}") from None


def load_sealer(settings: ApiSettings) -> Sealer:
    path = settings.secrets_key_file
    if not path or not Path(path).exists():
        log.warning(
            "SECRETS_KEY_FILE %s: signing keys and webhook secrets are stored unsealed",
            "is not set" if not path else f"{path} does not exist",
        )
        return Sealer([])
    try:
        return Sealer.from_file(path)
    except (OSError, ValueError) as error:
        raise SystemExit(f"SECRETS_KEY_FILE: {error}") from None


def create_app() -> Any:
    """Build the ASGI app from the environment (validated; exits on bad configuration)."""
    settings = load_settings(ApiSettings)
    settings.configure_http_protocol()  # again in each worker process (`--workers N`)
    configure_logging(settings.log_level, SERVICE)
    issuer = load_issuer(settings)
    sealer = load_sealer(settings)
    tracing = configure_tracing(SERVICE)
    app: Any = build_litestar(settings, issuer, sealer)
    app = RequestContextMiddleware(app, settings.trusted_networks, metrics=HttpMetrics("api"))
    if tracing:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        _instrument_clients()
        app = OpenTelemetryMiddleware(app)
    return app
