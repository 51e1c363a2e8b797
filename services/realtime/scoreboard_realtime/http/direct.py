"""Direct frame writes: the broadcast fast path over the service's own WebSocket protocol.

Why this exists: a broadcast through ASGI costs, per client, an awaited ``send`` through
Litestar's wrapper, uvicorn's ``asgi_send``, ``websockets``' ``send`` (framing the same text
again) and a ``drain``, plus a writer task switch: about 60-100 µs of Python per client per
message, which made 5,000 clients miss the delay target (see docs/benchmarks.md, "Live fan-out:
profile and fixes"). Here the frame bytes are built once per message and each client costs one
``transport.write`` (a few µs), in the broadcast loop itself.

How: uvicorn's ASGI ``send`` callable is a bound method of the connection's protocol object
(:class:`~scoreboard_realtime.http.protocol.LiveWebSocketProtocol`, which the service configures
as uvicorn's ``ws``), and that owns the transport. :class:`FrameWriter` is used only when that is
so, the handshake is complete and no extension (per-message deflate) was negotiated; anything
else (another server, test clients) keeps the plain ASGI
:class:`~scoreboard_realtime.http.ws.SocketSink`.

Semantics kept: a client whose transport write buffer is over the transport's high-water mark is
*behind*: nothing is written to it, the hub keeps only the newest message for it and writes that
once the buffer drains (``writable``); the hub's watchdog drops it if it stays behind longer than
``WS_SEND_TIMEOUT_SECONDS``. Close frames, pings and the handshake still go through
``websockets``' ``ServerProtocol``; only whole data frames are written here, so frames never
interleave.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from websockets.frames import Frame, Opcode

from scoreboard_realtime.domain.messages import Outgoing
from scoreboard_realtime.domain.ports import ClientSink
from scoreboard_realtime.http.protocol import LiveWebSocketProtocol

log = logging.getLogger("scoreboard.realtime.direct")
ASGI_SEND_KEY = "scoreboard.asgi_send"


@dataclass(frozen=True, slots=True)
class SocketSizing:
    """Per-connection buffers (0 keeps the default): the transport's write high-water mark
    (over it a client is *behind*) and the kernel's SO_SNDBUF/SO_RCVBUF."""

    write_high_water: int = 0
    send_buffer: int = 0
    receive_buffer: int = 0


def size_connection(transport: Any, sizing: SocketSizing) -> None:
    if sizing.write_high_water:
        transport.set_write_buffer_limits(high=sizing.write_high_water)
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    for option, size in (
        (socket.SO_SNDBUF, sizing.send_buffer),
        (socket.SO_RCVBUF, sizing.receive_buffer),
    ):
        if size:
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, size)
            except OSError as error:  # pragma: no cover - a platform that refuses the option
                log.warning("cannot size the socket", extra={"error": repr(error)})


def frame_bytes(message: Outgoing) -> bytes:
    """The unmasked text frame of ``message``, built once and shared by every client."""
    if message.frame is None:
        message.frame = Frame(Opcode.TEXT, message.text.encode()).serialize(mask=False)
    return message.frame


def _live_protocol(send: object) -> LiveWebSocketProtocol | None:
    """The connection's protocol behind an ASGI ``send``, if it is ours (http/protocol.py)."""
    owner = getattr(send, "__self__", None)
    return owner if isinstance(owner, LiveWebSocketProtocol) else None


class FrameWriter:
    """A :class:`~scoreboard_realtime.domain.ports.DirectSink` over a
    :class:`~scoreboard_realtime.http.protocol.LiveWebSocketProtocol` connection;
    ``send_text``/``close`` (the rare, awaited paths) go through ASGI."""

    __slots__ = ("_fallback", "_high_water", "_protocol", "_transport")

    def __init__(self, protocol: LiveWebSocketProtocol, fallback: ClientSink) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        self._fallback = fallback
        self._high_water: int = self._transport.get_write_buffer_limits()[1]

    @classmethod
    def wrap(
        cls,
        scope: MutableMapping[str, Any],
        fallback: ClientSink,
        sizing: SocketSizing | None = None,
    ) -> ClientSink:
        """A FrameWriter when the connection allows it (an accepted connection of ours with no
        extension negotiated), else ``fallback``."""
        protocol = _live_protocol(scope.pop(ASGI_SEND_KEY, None))
        if protocol is None or protocol.conn.extensions or not protocol.is_open:
            return fallback
        if sizing is not None:
            size_connection(protocol.transport, sizing)
        return cls(protocol, fallback)

    @property
    def behind(self) -> bool:
        return bool(self._transport.get_write_buffer_size() > self._high_water)

    def write_now(self, message: Outgoing) -> bool:
        if not self._protocol.is_open:
            # Closing or closed: the receive loop is about to unregister it; nothing to write.
            return True
        if self._transport.get_write_buffer_size() > self._high_water:
            return False
        self._transport.write(frame_bytes(message))
        return True

    async def writable(self) -> None:
        """Returns once the transport is below its high-water mark; raises if the connection
        is gone."""
        await self._protocol.drained()

    async def send_text(self, text: str) -> None:
        await self._fallback.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self._fallback.close(code, reason)


class CaptureAsgiSend:
    """Outermost ASGI wrapper (around the Litestar app, as uvicorn serves it): keeps the server's
    own ``send`` of a WebSocket connection in the scope, since Litestar hands handlers (and its
    own middleware) a wrapped one, so :meth:`FrameWriter.wrap` can find the protocol."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> Any:
        # Returns the app's awaitable rather than awaiting it: no frame of this layer stays
        # alive for a connection's life.
        if scope["type"] == "websocket":
            scope[ASGI_SEND_KEY] = send
        return self.app(scope, receive, send)
