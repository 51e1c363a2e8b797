"""Realtime service settings, read from the environment (see CommonSettings for the shared ones)."""

from __future__ import annotations

from pydantic import Field
from scoreboard_common.settings import CommonSettings


class RealtimeSettings(CommonSettings):
    """Variables of the realtime service. Names are the plain upper-case field names."""

    public_api_url: str = Field(
        "",
        description="Base URL of the api as the browser sees it, injected into the page via "
        "`/config.json`; empty means the page's own origin.",
    )
    ws_send_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A client whose socket write stays stuck longer than this is disconnected.",
    )
    ws_drain_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="On SIGTERM, clients are closed with 1001 spread over this many seconds.",
    )
    ws_ping_interval_seconds: float = Field(
        20.0, gt=0, description="Interval of WebSocket protocol pings (keeps proxies open)."
    )
    ws_ping_timeout_seconds: float = Field(
        20.0,
        gt=0,
        description="A client from which nothing (no pong) arrived for the ping interval plus "
        "this is closed (1011).",
    )
    ws_max_connections_per_ip: int = Field(
        100, ge=1, description="Concurrent WebSocket connections allowed per client IP."
    )
    ws_max_connections: int = Field(
        20000,
        ge=1,
        description="Concurrent WebSocket connections of this process from all clients; "
        "beyond it the handshake is refused (403) and clients reconnect elsewhere.",
    )
    ws_allowed_origins: list[str] = Field(
        default_factory=list,
        description='Browser origins (JSON list, e.g. `["https://game.example"]`, or '
        '`["*"]` for any) whose pages may open the live feed, besides the service\'s own '
        "origin (an `Origin` whose host is the request's `Host`). Handshakes without an "
        "`Origin` (non-browser clients) are allowed; others get 403 before the handshake.",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve `/metrics` on this port (same host as the service) instead of the "
        "main one, so an Ingress that routes `/` to realtime never exposes it (the chart sets "
        "9102); 0 keeps it on the main port.",
    )
    ws_max_message_bytes: int = Field(
        4096, ge=125, description="Largest frame accepted from a client (they only send pings)."
    )
    ws_write_high_water_bytes: int = Field(
        16384,
        ge=0,
        description="A client whose unsent bytes (the process's own write buffer, after the "
        "kernel's) pass this is *behind*: it only gets the newest snapshot once it drains, and is "
        "dropped after `WS_SEND_TIMEOUT_SECONDS`. Bounds a stuck client's memory; 0 keeps the "
        "event loop's default (64 KiB).",
    )
    ws_socket_send_buffer_bytes: int = Field(
        0,
        ge=0,
        description="SO_SNDBUF of each WebSocket (kernel memory, doubled by Linux); 0 keeps the "
        "kernel's auto-tuning. A few snapshots' worth (e.g. 32768) bounds the kernel memory a "
        "stuck client can hold.",
    )
    ws_socket_receive_buffer_bytes: int = Field(
        0,
        ge=0,
        description="SO_RCVBUF of each WebSocket; 0 keeps the kernel's auto-tuning. Clients only "
        "send pongs and close frames, so a small value (e.g. 4096) is enough.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses (JSON list, or `*`) whose X-Forwarded-For is believed "
        "for the client IP. Empty (the default, like the api's): the socket peer is the client.",
    )
