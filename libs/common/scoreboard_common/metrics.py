"""Prometheus helpers shared by the services: HTTP request metrics as ASGI middleware, and the
dependency gauge. Labels are bounded: the route template, never the raw path, user or IP."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "scoreboard_http_requests_total",
    "HTTP requests by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "scoreboard_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DEPENDENCY_UP = Gauge(
    "scoreboard_dependency_up", "1 when the dependency answered its last check.", ["dependency"]
)
DEPENDENCY_ERRORS = Counter(
    "scoreboard_dependency_errors_total", "Errors talking to a dependency.", ["dependency"]
)

ASGIApp = Any


def metrics_payload() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


class HttpMetrics:
    """Records one request in ``HTTP_REQUESTS``/``HTTP_LATENCY`` (for a middleware that already
    holds the status and start time, so no second ASGI layer is needed)."""

    def __init__(self, service: str) -> None:
        self.service = service
        # The labelled children, by (method, route, status): ``labels()`` costs a lock and a
        # tuple per call; the set of keys is bounded by the routes.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, scope: dict[str, Any], status: int, started: float) -> None:
        route = scope.get("path_template") or "unmatched"
        method = scope.get("method", "GET")
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_LATENCY.labels(self.service, method, route),
            )
        children[0].inc()
        children[1].observe(time.perf_counter() - started)


class HttpMetricsMiddleware:
    """Pure ASGI middleware (cheap on the hot path); reads Litestar's ``path_template``."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.metrics = HttpMetrics(service)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.record(scope, status, started)
