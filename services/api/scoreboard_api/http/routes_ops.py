"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from litestar import Response, get
from scoreboard_common.metrics import metrics_payload

from scoreboard_api.http.deps import AnyRequest, container_of
from scoreboard_api.http.problems import problem_response
from scoreboard_api.schemas import HealthResponse

TAGS = ["operations"]


@get("/healthz", tags=TAGS, operation_id="getHealth")
async def healthz() -> HealthResponse:
    """The process is alive."""
    return HealthResponse(status="ok")


@get("/readyz", tags=TAGS, operation_id="getReadiness")
async def readyz(request: AnyRequest) -> Response[HealthResponse]:
    """PostgreSQL and Redis are reachable (503 names the missing one)."""
    container = container_of(request)
    redis_ok = await container.monitor.ping_redis()
    postgres_ok = await container.db.ping()
    checks = {
        "postgres": "ok" if postgres_ok else "unavailable",
        "redis": "ok" if redis_ok else "unavailable",
    }
    if redis_ok and postgres_ok:
        return Response(HealthResponse(status="ok", checks=checks))
    down = [name for name, state in checks.items() if state != "ok"]
    return problem_response(  # type: ignore[return-value]
        request,
        503,
        "dependency_unavailable",
        f"not ready: {', '.join(down)} unavailable",
        headers={"Retry-After": "2"},
        extra={"dependencies": down, "checks": checks},
    )


@get("/metrics", tags=TAGS, operation_id="getMetrics", media_type="text/plain")
async def metrics() -> Response[bytes]:
    """Prometheus exposition."""
    payload, content_type = metrics_payload()
    return Response(payload, media_type=content_type)


ROUTES = [healthz, readyz, metrics]
