"""Security headers on every HTTP response of the realtime service (the page sets its own CSP;
everything else — JSON, metrics, static files, errors — is never framed, sniffed or given a
referrer)."""

from __future__ import annotations

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

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

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
