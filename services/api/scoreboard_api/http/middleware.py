"""Pure ASGI middleware: request id, client IP, one structured log line per request."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from typing import Any

log = logging.getLogger("scoreboard.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def client_ip(scope: dict[str, Any], trusted: tuple[Network, ...]) -> str | None:
    """The socket peer; behind a trusted proxy, the right-most untrusted X-Forwarded-For hop."""
    client = scope.get("client")
    peer: str | None = str(client[0]) if client else None
    if peer is None or not trusted:
        return peer
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer
    if not any(address in network for network in trusted):
        return peer
    forwarded = _header(scope, b"x-forwarded-for")
    if not forwarded:
        return peer
    hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            hop_address = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # garbage in the chain: do not trust any of it
        if not any(hop_address in network for network in trusted):
            return str(hop_address)
    return peer


class RequestContextMiddleware:
    def __init__(self, app: Any, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        request_id = incoming.decode("latin-1") if incoming else ""
        if not _REQUEST_ID_RE.match(request_id):
            request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = client_ip(scope, self.trusted)
        status = 500
        request_id_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope.get("method"),
                    "route": scope.get("path_template") or "unmatched",
                    "status": status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                    "client_ip": state.get("client_ip"),
                },
            )
