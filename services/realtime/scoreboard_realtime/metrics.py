"""Prometheus metrics of the realtime service (names as in docs/architecture.md).

Labels are bounded: only boards that exist (checked before a connection is counted), never a
user or an IP.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WS_CONNECTIONS = Gauge(
    "scoreboard_ws_connections", "Open WebSocket connections per board.", ["board"]
)
WS_MESSAGES_SENT = Counter(
    "scoreboard_ws_messages_sent_total",
    "WebSocket messages written to clients.",
    ["board", "type"],
)
WS_BROADCASTS = Counter(
    "scoreboard_ws_broadcasts_total", "Snapshots broadcast because the top N changed.", ["board"]
)
WS_BROADCAST_LATENCY = Histogram(
    "scoreboard_ws_broadcast_latency_seconds",
    "From the first coalesced event's arrival to the broadcast written to every client.",
    ["board"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WS_SLOW_CLIENT_DROPS = Counter(
    "scoreboard_ws_slow_client_drops_total",
    "Clients disconnected because a write stayed stuck too long.",
    ["board"],
)
WS_REJECTED = Counter(
    "scoreboard_ws_rejected_total",
    "WebSocket connections refused, by reason.",
    ["reason"],
)
PUBSUB_RECONNECTS = Counter(
    "scoreboard_pubsub_reconnects_total", "Redis Pub/Sub subscriptions re-established."
)
REJECT_REASONS = (
    "unknown_board",
    "unauthenticated",
    "invalid_token",
    "ip_limit",
    "draining",
    "unavailable",
    "data_frame",
    "account_disabled",
    "session_revoked",
    "token_expired",
    "origin",
    "global_limit",
)
for _reason in REJECT_REASONS:
    WS_REJECTED.labels(_reason)
