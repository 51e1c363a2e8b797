"""The realtime service's WebSocket protocol for uvicorn (``uvicorn.Config(ws=...)``).

uvicorn's sans-I/O implementation (``websockets-sansio``: websockets' ``ServerProtocol`` driven
from ``data_received``, one task per connection: the ASGI app's) with what a long-lived,
receive-only feed needs and that implementation lacks. uvicorn's ``websockets`` (legacy)
implementation has all of it but runs five tasks per connection, each with its frames, events and
queues: 28.3 KiB of memory per idle client against 14.4 KiB here at 10,000 clients
(docs/benchmarks.md, "Realtime memory per WebSocket").

Added over uvicorn's class:

- keepalive: one task per process pings every open connection each ``ws_ping_interval`` seconds
  and closes (1011) any from which nothing arrived for ``ws_ping_interval + ws_ping_timeout``
  (a peer that vanished without a FIN); any frame from the client counts as a sign of life;
- write flow control: ASGI sends wait while the transport is over its high-water mark
  (``pause_writing``), and :meth:`drained` serves the hub's direct frame writes (http/direct.py);
  a close requested while writing is paused aborts the connection (the peer is not reading);
- lighter per-connection state: the handshake's parsed request and response headers, and the
  scope's, are dropped once the app accepted (nothing reads them later; websockets' parser keeps
  the request object alive, so its headers are cleared in place); the receive queue and the
  writable flag are a list and a future instead of an ``asyncio.Queue`` and ``asyncio.Event``
  (four and one deques, ~3.7 KiB a client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

log = logging.getLogger("scoreboard.realtime.protocol")
CLOSE_PING_TIMEOUT = 1011


class Mailbox:
    """What uvicorn's protocol uses of an ``asyncio.Queue`` (``put_nowait``, ``get``, ``empty``)
    for its single consumer, the ASGI app's ``receive``."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


class Gate:
    """What uvicorn's protocol uses of an ``asyncio.Event`` (open = set)."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def clear(self) -> None:
        self._open = False

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> bool:
        while not self._open:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if self._waiters is not None and waiter in self._waiters:
                    self._waiters.remove(waiter)
        return True


class LiveWebSocketProtocol(WebSocketsSansIOProtocol):
    # Connections whose handshake completed: what the keepalive task pings.
    open_connections: ClassVar[set[LiveWebSocketProtocol]] = set()
    _keepalive: ClassVar[asyncio.Task[None] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Mailbox()  # type: ignore[assignment]
        self.writable = Gate()  # type: ignore[assignment]
        self.last_seen = 0.0

    # connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.last_seen = self.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections.discard(self)
        self.writable.set()  # nothing waits on a gone connection
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.last_seen = self.loop.time()
        super().data_received(data)

    # flow control --------------------------------------------------------------------------

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    @property
    def is_open(self) -> bool:
        return self.conn.state is State.OPEN and not self.close_sent

    async def drained(self) -> None:
        """Returns once the transport is below its high-water mark; raises ``ConnectionError``
        if the connection is gone."""
        await self.writable.wait()
        if not self.is_open:
            raise ConnectionResetError("websocket closed")

    # ASGI ----------------------------------------------------------------------------------

    async def send(self, message: Any) -> None:
        if (
            message["type"] == "websocket.close"
            and self.handshake_complete
            and not self.writable.is_set()
        ):
            self._abort()
            return
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            self._opened()

    def _opened(self) -> None:
        # ~2 KiB a client, read by nobody once the 101 response went out.
        self.request.headers.clear()
        self.response.headers.clear()
        self.request = self.response = None  # type: ignore[assignment]
        self.scope["headers"] = []
        if self.conn.state is not State.OPEN:
            return
        self.open_connections.add(self)
        interval = self.config.ws_ping_interval
        if interval and LiveWebSocketProtocol._keepalive is None:
            LiveWebSocketProtocol._keepalive = self.loop.create_task(
                _keep_alive(interval, interval + (self.config.ws_ping_timeout or interval))
            )

    def _abort(self) -> None:
        if not self.close_sent:
            self.close_sent = True
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006})
        self.transport.abort()

    # keepalive -----------------------------------------------------------------------------

    def keep_alive(self, now: float, silence_limit: float) -> None:
        """Ping, or close if the peer has been silent for longer than ``silence_limit``."""
        if not self.is_open or self.transport.is_closing():
            return
        if now - self.last_seen > silence_limit:
            log.info("websocket peer silent; closing", extra={"client": self.client})
            self.conn.fail(CLOSE_PING_TIMEOUT, "keepalive ping timeout")
            self.close_sent = True
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()
            return
        if self.writable.is_set():  # a client behind will be judged by the hub's send timeout
            self.conn.send_ping(b"")
            self.transport.write(b"".join(self.conn.data_to_send()))


async def _keep_alive(interval: float, silence_limit: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        now = loop.time()
        for protocol in list(LiveWebSocketProtocol.open_connections):
            with contextlib.suppress(Exception):
                protocol.keep_alive(now, silence_limit)
