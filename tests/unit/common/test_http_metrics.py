"""The lock-free HTTP request series expose what prometheus-client's Counter and Histogram
with the same labels and buckets would (scoreboard_common.metrics.HttpRequestCollector)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scoreboard_common.metrics import LATENCY_BUCKETS, HttpMetrics, HttpRequestCollector

# (method, route template or None for an unmatched path, status, seconds taken)
REQUESTS = [
    ("GET", "/top", 200, 0.0004),
    ("GET", "/top", 200, 0.001),  # on a bound: counted in le="0.001"
    ("GET", "/top", 304, 0.0031),
    ("GET", "/top", 200, 7.5),  # beyond the last bound: only +Inf
    ("POST", "/scores", 201, 0.012),
    ("POST", "/scores", 429, 0.0002),
    ("GET", None, 404, 0.02),
]


def _samples(registry: CollectorRegistry) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items())), round(sample.value, 9))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.name.endswith("_created")  # prometheus-client's own creation stamps
    }


def test_exposition_matches_prometheus_clients_counter_and_histogram(monkeypatch) -> None:
    ours = CollectorRegistry()
    collector = HttpRequestCollector()
    ours.register(collector)
    metrics = HttpMetrics("api", collector)

    reference = CollectorRegistry()
    requests = Counter(
        "scoreboard_http_requests_total",
        "HTTP requests by route template and status.",
        ["service", "method", "route", "status"],
        registry=reference,
    )
    latency = Histogram(
        "scoreboard_http_request_duration_seconds",
        "HTTP request latency by route template.",
        ["service", "method", "route"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )

    now = 1000.0
    monkeypatch.setattr(time, "perf_counter", lambda: now)
    for method, route, status, seconds in REQUESTS:
        scope = {"method": method, **({"path_template": route} if route else {})}
        metrics.record(scope, status, now - seconds)
        route_label = route or "unmatched"
        requests.labels("api", method, route_label, str(status)).inc()
        latency.labels("api", method, route_label).observe(seconds)

    assert _samples(ours) == _samples(reference)
    top = {
        labels: value
        for name, labels, value in _samples(ours)
        if name == "scoreboard_http_request_duration_seconds_bucket" and ("route", "/top") in labels
    }
    assert top[(("le", "0.001"), ("method", "GET"), ("route", "/top"), ("service", "api"))] == 2
    assert top[(("le", "5.0"), ("method", "GET"), ("route", "/top"), ("service", "api"))] == 3
    assert top[(("le", "+Inf"), ("method", "GET"), ("route", "/top"), ("service", "api"))] == 4


def test_series_are_shared_by_service_method_and_route() -> None:
    collector = HttpRequestCollector()
    first, second = HttpMetrics("api", collector), HttpMetrics("api", collector)
    first.record({"method": "GET", "path_template": "/top"}, 200, time.perf_counter())
    second.record({"method": "GET", "path_template": "/top"}, 200, time.perf_counter())
    HttpMetrics("realtime", collector).record({"method": "GET"}, 404, time.perf_counter())
    assert collector.series_for("api", "GET", "/top").by_status == {200: 2}
    assert collector.series_for("realtime", "GET", "unmatched").by_status == {404: 1}
