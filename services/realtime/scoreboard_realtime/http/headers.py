"""Security headers on every HTTP response of the realtime service (the page sets its own CSP;
everything else — JSON, metrics, static files, errors — is never framed, sniffed or given a
referrer)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        # Not a coroutine itself: a WebSocket gets the inner app's awaitable as is, so this
        # layer keeps no frame alive for the connection's life (10,000 of them per process).
        if scope["type"] != "http":
            return self.app(scope, receive, send)  # type: ignore[no-any-return]
        return self._http(scope, receive, send)

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {bytes(name).lower() for name, _ in headers}
                headers += [item for item in _ALWAYS if item[0] not in names]
                if _CSP[0] not in names:
                    headers.append(_CSP)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
