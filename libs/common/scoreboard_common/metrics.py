"""Prometheus helpers shared by the services: HTTP request metrics as ASGI middleware, and the
dependency gauge. Labels are bounded: the route template, never the raw path, user or IP."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_go_float: Callable[[float], str] = floatToGoString  # how prometheus-client writes `le`
_BUCKET_LABELS = (*(_go_float(bound) for bound in LATENCY_BUCKETS), "+Inf")


class _RouteSeries:
    """One (service, method, route): its requests by status and its latency histogram, as plain
    numbers (the bucket counts are not cumulative; the collector sums them)."""

    __slots__ = ("buckets", "by_status", "total_seconds")

    def __init__(self) -> None:
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * len(_BUCKET_LABELS)
        self.total_seconds = 0.0


class HttpRequestCollector(Collector):
    """``scoreboard_http_requests_total`` and ``scoreboard_http_request_duration_seconds``,
    exposed exactly as a prometheus-client ``Counter`` and ``Histogram`` with these labels and
    buckets would be, but recorded without their locks and label lookups: prometheus-client
    spends ~1.2 µs a request on them, this ~0.3 µs (docs/benchmarks.md, "Phase 6").

    Only the event loop's thread records. A scrape from another thread (realtime serves
    ``/metrics`` from one) copies each series first and derives ``_count`` from the buckets, so
    a histogram it reads is always consistent; a request recorded meanwhile shows next scrape."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str, str], _RouteSeries] = {}

    def series_for(self, service: str, method: str, route: str) -> _RouteSeries:
        key = (service, method, route)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = _RouteSeries()
        return series

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "scoreboard_http_requests",
            "HTTP requests by route template and status.",
            labels=("service", "method", "route", "status"),
        )
        latency = HistogramMetricFamily(
            "scoreboard_http_request_duration_seconds",
            "HTTP request latency by route template.",
            labels=("service", "method", "route"),
        )
        for key, series in list(self.series.items()):
            for status, count in list(series.by_status.items()):
                requests.add_metric([*key, str(status)], count)
            cumulative = accumulate(list(series.buckets))
            latency.add_metric(
                list(key),
                buckets=list(zip(_BUCKET_LABELS, cumulative, strict=True)),
                sum_value=series.total_seconds,
            )
        yield requests
        yield latency


HTTP_REQUEST_SERIES = HttpRequestCollector()
REGISTRY.register(HTTP_REQUEST_SERIES)
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
    """Records one request of ``service`` in the HTTP request series (for a middleware that
    already holds the status and start time, so no second ASGI layer is needed)."""

    def __init__(self, service: str, collector: HttpRequestCollector | None = None) -> None:
        self.service = service
        self._collector = collector or HTTP_REQUEST_SERIES
        self._series: dict[tuple[str, str], _RouteSeries] = {}

    def record(self, scope: dict[str, Any], status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        key = (scope.get("method", "GET"), scope.get("path_template") or "unmatched")
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._collector.series_for(self.service, *key)
        by_status = series.by_status
        by_status[status] = by_status.get(status, 0) + 1
        series.buckets[bisect_left(LATENCY_BUCKETS, elapsed)] += 1
        series.total_seconds += elapsed


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
