"""Prometheus metrics of the operator (names from docs/architecture.md)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "scoreboard_operator_reconciles_total",
    "Reconciliations of Leaderboards into the api, by result.",
    ["result"],
)
RECONCILE_DURATION = Histogram(
    "scoreboard_operator_reconcile_duration_seconds",
    "Duration of one reconciliation (api calls included).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SEASON_RESETS = Counter(
    "scoreboard_operator_season_resets_total",
    "Season resets the operator performed (scheduled and on demand).",
    ["board"],
)
API_UP = Gauge(
    "scoreboard_operator_api_up",
    "1 when the api answered the operator's last call, 0 when it was unreachable or unavailable.",
)

for _result in ("success", "error"):
    RECONCILES.labels(_result)

_started: set[int] = set()


def serve(port: int, addr: str = "0.0.0.0") -> None:
    """Expose ``/metrics`` on ``port`` (once per process; 0 disables it)."""
    if port and port not in _started:
        start_http_server(port, addr=addr)
        _started.add(port)
