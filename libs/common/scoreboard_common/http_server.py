"""uvicorn's httptools protocol with the limits it lacks (both services serve through it).

httptools buffers a request line or a header of any size, and any number of headers, before
anything can look at them, and uvicorn starts no timer until a first response is sent: four
unfinished 32 MiB headers cost ~190 MiB, and a client that never finishes its headers holds
its connection forever. This protocol counts the bytes of the request head as they arrive and
refuses with 431 once the head passes ``max_head_bytes`` or has more than ``max_headers``
fields, and closes a connection whose head is not complete ``head_timeout`` seconds after the
connection opened or the request began (408). Idle keep-alive connections are closed by
uvicorn's own ``timeout_keep_alive``.

It also writes each response in one system call: uvicorn writes the status line and headers,
then the body, as two ``transport.write`` calls, and uvloop sends each at once (two ``send``
calls and two TCP segments per small response). :class:`CoalescingWriter` gathers what a
response writes in one pass of the event loop and sends it together at the end of that pass.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEADERS = (
    b"content-type: application/problem+json\r\n"
    b"cache-control: no-store\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"referrer-policy: no-referrer\r\n"
    b"x-frame-options: DENY\r\n"
    b"content-security-policy: default-src 'none'; frame-ancestors 'none'\r\n"
    b"connection: close\r\n"
)
_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
}


def scope_header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower case) in an ASGI scope. Read from
    the scope, not through Litestar's ``headers``: it builds a parsed copy (~5 µs a write) and
    keeps it in the scope for a connection's life (~1 KiB per WebSocket; docs/benchmarks.md)."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def problem_bytes(status: int, code: str, detail: str) -> bytes:
    """A complete HTTP/1.1 problem response that closes the connection."""
    slug, title = code.replace("_", "-"), _REASONS[status].decode()
    body = (
        f'{{"type":"https://scoreboard.dev/problems/{slug}","title":"{title}",'
        f'"status":{status},"code":"{code}","detail":"{detail}"}}'
    ).encode()
    return (
        b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])
        + _HEADERS
        + b"x-request-id: "
        + uuid.uuid4().hex.encode()
        + b"\r\ncontent-length: %d\r\n\r\n" % len(body)
        + body
    )


LINGER_SECONDS = 2.0


class _Refused(Exception):
    pass


class CoalescingWriter:
    """The transport as a request cycle sees it: writes made in one step of the event loop go
    out as one ``transport.write`` (at the loop's next pass, ``call_soon``); ``close``, and
    anything the protocol writes itself, sends what is pending first, so bytes never reorder.
    Everything else is the transport's."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Configure once per process with :meth:`configure` (the services do it from settings)."""

    max_head_bytes: ClassVar[int] = 16384
    max_headers: ClassVar[int] = 100
    head_timeout: ClassVar[float] = 10.0

    @classmethod
    def configure(cls, *, max_head_bytes: int, max_headers: int, head_timeout: float) -> None:
        cls.max_head_bytes = max_head_bytes
        cls.max_headers = max_headers
        cls.head_timeout = head_timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._in_message = False  # between the parser's message begin and complete
        self._head_bytes = 0
        self._header_count = 0
        self._header_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refusal: tuple[int, str, str] | None = None
        self._discarding = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._writer = CoalescingWriter(transport, self.loop)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, "header_timeout", "the request headers did not arrive in time")

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer and close. Closing a socket with unread input makes the kernel reset the
        connection, and the client may lose the answer: so, like nginx's lingering close, stop
        sending, drop whatever still arrives for a moment, then close."""
        self._stop_head_timer()
        self._discarding = True
        self._writer.flush()
        self.transport.write(problem_bytes(status, code, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self._close)

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._discarding or self.transport.is_closing():
            return  # dropped unbuffered
        if (
            self._head_timer is None
            and not self._in_message
            and (self.cycle is None or self.cycle.response_complete)
        ):
            # Bytes between requests start the next head's clock (uvicorn's keep-alive timer
            # stops at the first byte): a client dripping blank lines is closed all the same.
            # Not while a message is still arriving: the rest of a body answered early (a 413
            # before the body was read) is that request's body, not the next head.
            self._in_head = True
            self._head_bytes = 0
            self._start_head_timer()
        if self._in_head:
            self._head_bytes += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self._writer.flush()
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(*self._refusal)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self._refuse(400, "bad_request", "invalid HTTP request")
            return
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(431, "headers_too_large", "the request headers are too large")

    def _too_large(self) -> None:
        self._refusal = (431, "headers_too_large", "the request headers are too large")
        raise _Refused

    # Parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_message = True
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._header_bytes = 0
        if self._head_timer is None:
            self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.max_head_bytes:
            self._too_large()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refusal = (431, "too_many_headers", "the request has too many header fields")
            raise _Refused
        super().on_header(name, value)
        self._header_bytes += len(name) + len(value) + 4  # a running total: one sum per head
        if len(self.url) + self._header_bytes > self.max_head_bytes:
            self._too_large()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_timer()
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = self._writer  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._in_message = False
        super().on_message_complete()
