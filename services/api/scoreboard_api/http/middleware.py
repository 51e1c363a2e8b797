"""Pure ASGI middleware: request id, client IP, one structured log line per request."""

from __future__ import annotations

import ipaddress
import logging
import random
import re
import time
from collections.abc import Iterable
from typing import Any

from scoreboard_common.http_server import scope_header
from scoreboard_common.metrics import HttpMetrics

log = logging.getLogger("scoreboard.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The networks whose peers may set X-Forwarded-For and X-Request-Id. A peer's verdict is
    kept by its address text: behind an ingress the peers are its few pods, and parsing an
    address costs ~1.7 µs a request (bounded: cleared when it holds 4,096)."""

    __slots__ = ("_verdicts", "networks")

    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self.networks = networks
        self._verdicts: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, peer: str) -> bool:
        verdict = self._verdicts.get(peer)
        if verdict is None:
            try:
                verdict = self.holds(ipaddress.ip_address(peer))
            except ValueError:
                verdict = False
            if len(self._verdicts) >= 4096:
                self._verdicts.clear()
            self._verdicts[peer] = verdict
        return verdict

    def holds(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.networks)


def client_ip(scope: dict[str, Any], trusted: TrustedProxies) -> str | None:
    """The socket peer; behind a trusted proxy, the right-most untrusted X-Forwarded-For hop."""
    client = scope.get("client")
    peer: str | None = str(client[0]) if client else None
    if peer is None or not trusted or peer not in trusted:
        return peer
    forwarded = scope_header(scope, b"x-forwarded-for")
    if not forwarded:
        return peer
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            hop_address = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # garbage in the chain: do not trust any of it
        if not trusted.holds(hop_address):
            return str(hop_address)
    return peer


def _from_trusted(scope: dict[str, Any], trusted: TrustedProxies) -> bool:
    client = scope.get("client")
    return bool(client and trusted and str(client[0]) in trusted)


# Sent on every response (DESIGN.md: a JSON API is never framed, sniffed or referred from).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_CSP_JSON = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_CSP_HTML = (b"content-security-policy", b"frame-ancestors 'none'")  # the schema viewer pages
_NO_STORE = (b"cache-control", b"no-store")
# uvicorn's httptools parser has no limit on header size: requests whose headers exceed this
# many bytes in total get a 431 before any handler runs (h11 refuses above 16 KiB as well).
MAX_HEADER_BYTES = 16384


def _read_head(scope: dict[str, Any]) -> tuple[bytes | None, bool, int]:
    """One pass over the request headers: ``(X-Request-Id, has Authorization, total bytes)``."""
    request_id: bytes | None = None
    credential = False
    size = 0
    for key, value in scope.get("headers", ()):
        size += len(key) + len(value)
        if key == b"x-request-id":
            request_id = bytes(value)
        elif key == b"authorization":
            credential = True
    return request_id, credential, size


def _needs_no_store(scope: dict[str, Any], credential: bool) -> bool:
    """Credentials and per-caller data: auth endpoints and any request with a credential."""
    return credential or str(scope.get("path", "")).startswith("/api/v1/auth/")


# The response headers this layer adds unless the handler set them, one bit each.
_BIT = {name: 1 << i for i, (name, _) in enumerate(SECURITY_HEADERS)}
_BIT[b"content-security-policy"] = 1 << len(SECURITY_HEADERS)
_BIT[b"cache-control"] = 1 << (len(SECURITY_HEADERS) + 1)
_extras: dict[tuple[int, bool, bool], tuple[tuple[bytes, bytes], ...]] = {}


def _extra(present: int, html: bool, no_store: bool) -> tuple[tuple[bytes, bytes], ...]:
    """The headers to add, given the bits of those present (at most 2 x 2 x 32 combinations)."""
    key = (present, html, no_store)
    extra = _extras.get(key)
    if extra is None:
        wanted = [*SECURITY_HEADERS, _CSP_HTML if html else _CSP_JSON]
        if no_store:
            wanted.append(_NO_STORE)
        extra = _extras[key] = tuple(item for item in wanted if not present & _BIT[item[0]])
    return extra


def _decorate(headers: Iterable[Any], no_store: bool, *added: tuple[bytes, bytes]) -> list[Any]:
    """``headers`` and ``added``, plus the security headers they lack (one pass; on every
    response). Names and values are ``bytes``, as ASGI has them."""
    if type(headers) is not list:  # any iterable per ASGI; it is read twice
        headers = list(headers)
    present = 0
    html = False
    for key, value in headers:
        name = key.lower()
        bit = _BIT.get(name)
        if bit is not None:
            present |= bit
        elif name == b"content-type":
            html = value.startswith(b"text/html")
    return [*headers, *added, *_extra(present, html, no_store)]


def new_request_id() -> str:
    """32 hex digits, like ``uuid4().hex``: unique, not a secret (no system call per request)."""
    return f"{random.getrandbits(128):032x}"


async def _headers_too_large(send: Any, request_id: str) -> None:
    body = (
        b'{"type":"https://scoreboard.dev/problems/headers-too-large",'
        b'"title":"Request Header Fields Too Large","status":431,"code":"headers_too_large",'
        b'"detail":"the request headers are too large"}'
    )
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 431, "headers": _decorate(headers, True)})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Request id, client IP, security headers, the access log line and (``metrics``) the HTTP
    metrics: one ASGI layer for all of them, since each layer costs a coroutine and a ``send``
    wrapper per request (docs/benchmarks.md, "GET /top")."""

    def __init__(
        self, app: Any, trusted: tuple[Network, ...], metrics: HttpMetrics | None = None
    ) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted)
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming, credential, head_bytes = _read_head(scope)
        state = scope.setdefault("state", {})
        trusted = self.trusted
        state["client_ip"] = client_ip(scope, trusted)
        # The request id goes into audit rows: only a trusted proxy (the ingress) may choose
        # it. A client's own id is logged beside ours as `client_request_id`, never used.
        request_id = client_request_id = None
        if incoming is not None:
            supplied = incoming.decode("latin-1")
            if _REQUEST_ID_RE.fullmatch(supplied):
                if _from_trusted(scope, trusted):
                    request_id = supplied
                else:
                    client_request_id = supplied
        if request_id is None:
            request_id = new_request_id()
        state["request_id"] = request_id
        status = 500
        no_store = _needs_no_store(scope, credential)
        request_id_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _decorate(
                    message.get("headers", ()), no_store, request_id_header
                )
            await send(message)

        try:
            if head_bytes > MAX_HEADER_BYTES:
                status = 431
                await _headers_too_large(send, request_id)
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            if self.metrics is not None:
                self.metrics.record(scope, status, started)
            if log.isEnabledFor(logging.INFO):  # the access line: skipped at WARNING and above
                _log_request(scope, request_id, status, started, client_request_id)


def _log_request(
    scope: dict[str, Any],
    request_id: str,
    status: int,
    started: float,
    client_request_id: str | None,
) -> None:
    state = scope.get("state", {})
    log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": scope.get("method"),
            "route": scope.get("path_template") or "unmatched",
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "client_ip": state.get("client_ip"),
            **({"client_request_id": client_request_id} if client_request_id else {}),
        },
    )
