"""The scoreboard web page (static ES module, no build step), its config, health and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get
from litestar.response import File
from scoreboard_common.metrics import metrics_payload

from scoreboard_realtime.http.runtime import Runtime

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def security_headers(public_api_url: str) -> dict[str, str]:
    api = _origin(public_api_url)
    connect = " ".join(part for part in ("'self'", api, "ws:", "wss:") if part)
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; connect-src {connect}; img-src 'self' data:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@get("/", include_in_schema=False, name="page")
async def page(request: Request[Any, Any, Any]) -> File:
    runtime: Runtime = request.app.state.runtime
    return File(
        STATIC_DIR / "index.html",
        content_disposition_type="inline",
        media_type="text/html; charset=utf-8",
        headers=security_headers(runtime.settings.public_api_url),
    )


@get("/config.json", name="page-config", cache=False)
async def page_config(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """What the page needs to know: where the api is (empty = the page's own origin)."""
    runtime: Runtime = request.app.state.runtime
    return Response(
        {"apiUrl": runtime.settings.public_api_url.rstrip("/"), "defaultBoard": "default"},
        headers={"Cache-Control": "no-store"},
    )


@get("/healthz", name="healthz", cache=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", name="readyz", cache=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Ready when Redis answers, the Pub/Sub subscription is live, and not draining."""
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, bool] = {"subscribed": runtime.subscriber.subscribed}
    try:
        checks["redis"] = bool(await runtime.redis.ping())
    except Exception:
        checks["redis"] = False
    checks["accepting"] = not runtime.hub.draining
    ready = all(checks.values())
    return Response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@get("/metrics", name="metrics", cache=False, include_in_schema=False)
async def metrics_endpoint() -> Response[bytes]:
    body, content_type = metrics_payload()
    return Response(body, media_type=content_type)


handlers = [page, page_config, healthz, readyz, metrics_endpoint]
