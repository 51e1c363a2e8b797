"""The fan-out bench's baseline: the least a WebSocket broadcaster can do on this machine.

One uvloop process, no framework: it answers the handshake (and ``GET /healthz``, so the
devstack can wait for it), sends each new client the board's current snapshot, and for the
score events of one board on Redis Pub/Sub does what the realtime does at the least cost: at
most one broadcast per ``--interval-ms`` (the realtime's coalescing rule: an event arriving
sooner waits for the interval's end), reads the top from Redis with the shared ``BoardStore``,
encodes it once with the realtime's own encoder (the same bytes) and writes the one frame to
every socket. No per-client flow control, queues, metrics, tracing, slow-client watchdog or
authentication: what the realtime costs above this is what those cost.

    .venv/bin/python -m bench.bare_broadcast --port 8765 --redis-url redis://... --board fanout
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import time
from typing import Any

import msgspec
import uvloop
from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore
from scoreboard_common.events import SCORE_CHANNEL, ScoreChanged, decode_event
from scoreboard_realtime.domain.messages import encode_snapshot

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_HEALTHY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def text_frame(payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 1 << 16:
        head = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return head + payload


class Broadcaster:
    def __init__(self, store: BoardStore, board: str, size: int, interval: float) -> None:
        self.store = store
        self.board = board
        self.size = size
        self.interval = interval
        self.peers: set[Peer] = set()
        self.frame = b""
        self.wake = asyncio.Event()
        self.last_read_at = 0.0

    async def read(self) -> None:
        snapshot = await self.store.top(self.board, self.size)
        self.frame = text_frame(encode_snapshot(snapshot).text.encode())

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            delay = self.last_read_at + self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.wake.clear()
            self.last_read_at = time.monotonic()
            await self.read()
            frame = self.frame
            for peer in self.peers:
                peer.transport.write(frame)

    async def listen(self, redis: Redis) -> None:
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(SCORE_CHANNEL)
        async for message in pubsub.listen():
            try:
                event = decode_event(message["data"])
            except msgspec.MsgspecError:
                continue
            if isinstance(event, ScoreChanged) and event.board == self.board:
                self.wake.set()


class Peer(asyncio.Protocol):
    def __init__(self, hub: Broadcaster) -> None:
        self.hub = hub
        self.transport: Any = None
        self.head = b""
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.open:
            return  # the bench client sends nothing but pongs
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            return
        fields = dict(
            line.split(b":", 1) for line in self.head[:end].split(b"\r\n")[1:] if b":" in line
        )
        key = {k.strip().lower(): v.strip() for k, v in fields.items()}.get(b"sec-websocket-key")
        if key is None:
            self.transport.write(_HEALTHY)
            self.transport.close()
            return
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())  # noqa: S324 (RFC 6455)
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + self.hub.frame
        )
        self.open = True
        self.hub.peers.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.peers.discard(self)


async def serve(args: argparse.Namespace) -> None:
    redis = Redis.from_url(args.redis_url)
    hub = Broadcaster(BoardStore(redis), args.board, args.size, args.interval_ms / 1000)
    await hub.read()
    server = await asyncio.get_running_loop().create_server(
        lambda: Peer(hub), "127.0.0.1", args.port, backlog=8192
    )
    async with server:
        await asyncio.gather(hub.run(), hub.listen(redis))  # Pub/Sub takes its own connection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--board", required=True)
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--interval-ms", type=int, default=100)
    args = parser.parse_args()
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
