"""Fan-out delay of the live feed: from a score write to the snapshot's arrival at every client.

By default it starts its own Redis and realtime replica(s) (real processes, loopback), opens
``--clients`` WebSocket connections (a minimal raw-socket client, so the bench's own CPU cost per
message stays small next to the server's), then performs ``--updates`` score writes spaced by
``--gap-ms`` and measures, for every (client, write) pair, the delay until the client received
the first snapshot that contains the write:

* ``direct`` mode (default): the write is the shared BoardStore's Lua write plus the
  ``ScoreChanged`` PUBLISH, exactly what the api does after its PostgreSQL commit; the clock
  starts when the write is acknowledged by Redis.
* ``api`` mode (``--api-url``, ``--token``, ``--board``): the write is ``POST .../scores`` on a
  running api; the clock starts when the POST is acknowledged. ``--realtime-url`` then points to
  the running realtime (raise its ``WS_MAX_CONNECTIONS_PER_IP`` first).

The delay includes the board's coalescing interval (``--interval-ms``, 100 ms by default as in
the design), which bounds how often a board is broadcast. It prints figures; nothing asserts.

    .venv/bin/python bench/ws_fanout.py --clients 2000 --updates 100
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.events import SCORE_CHANNEL, ScoreChanged, encode_event
from scoreboard_common.keys import BoardKeys
from scoreboard_devstack.servers import RedisServer, ServiceProcess, free_port

clock = time.perf_counter
PAYLOADS: dict[bytes, int] = {}


@dataclass
class Client(asyncio.Protocol):
    host: str
    port: int
    path: str
    records: list[tuple[float, int]] = field(default_factory=list)
    opened: asyncio.Future[None] | None = None
    transport: asyncio.Transport | None = None
    buffer: bytearray = field(default_factory=bytearray)
    upgraded: bool = False
    closed: bool = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        now = clock()
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            ok = buf.startswith(b"HTTP/1.1 101")
            del buf[: end + 4]
            self.upgraded = True
            if self.opened is not None and not self.opened.done():
                if ok:
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(ConnectionError("handshake refused"))
        while len(buf) >= 2:
            opcode, length, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, offset = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, offset = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < offset + length:
                return
            payload = bytes(buf[offset : offset + length])
            del buf[: offset + length]
            if opcode == 1:
                self.records.append((now, PAYLOADS.setdefault(payload, len(PAYLOADS))))
            elif opcode == 9:
                self._send_control(0xA, payload)
            elif opcode == 8:
                self.closed = True

    def _send_control(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


async def open_clients(urls: list[str], count: int, batch: int = 200) -> list[Client]:
    loop = asyncio.get_running_loop()
    clients: list[Client] = []

    async def one(url: str) -> Client:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        client = Client(host, port, path)
        client.opened = loop.create_future()
        await loop.create_connection(lambda: client, host, port)
        await asyncio.wait_for(client.opened, 30)
        return client

    for start in range(0, count, batch):
        size = min(batch, count - start)
        clients += await asyncio.gather(*(one(urls[(start + i) % len(urls)]) for i in range(size)))
    return clients


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    processes: list[Any] = []
    tmp = Path(tempfile.mkdtemp(prefix="ws-fanout-"))
    try:
        if args.api_url:
            redis_url, board = None, args.board
            realtime_urls = args.realtime_url
        else:
            redis_server = RedisServer(tmp / "redis", durable=False)
            redis_server.start()
            processes.append(redis_server)
            redis_url, board = redis_server.url, "bench"
            env = {
                **os.environ,
                "REDIS_URL": redis_url,
                "WS_MAX_CONNECTIONS_PER_IP": "1000000",
                "WS_PING_INTERVAL_SECONDS": "60",
                "LOG_LEVEL": "WARNING",
                "AUTH_PUBLIC_KEY_FILE": "",
            }
            realtime_urls = []
            for _ in range(args.replicas):
                port = free_port()
                argv = [
                    *(
                        [sys.executable, __file__, "--profiled-serve", args.profile]
                        if args.profile
                        else [str(Path(sys.executable).parent / "scoreboard-realtime")]
                    ),
                    "serve",
                    "--port",
                    str(port),
                ]
                service = ServiceProcess("realtime", argv, port, env, tmp)
                service.start()
                processes.append(service)
                realtime_urls.append(service.url)
        ws_urls = [
            u.replace("http://", "ws://").replace("https://", "wss://").rstrip("/")
            + f"/ws/v1/leaderboards/{board}"
            for u in realtime_urls
        ]

        redis = Redis.from_url(redis_url) if redis_url else None
        store = BoardStore(redis) if redis else None
        if redis is not None:
            spec = {"size": args.size, "broadcast": {"minIntervalMs": args.interval_ms}}
            await redis.set(BoardKeys(board).policy, json.dumps(spec))
            for i in range(args.size):
                await store.apply_total(  # type: ignore[union-attr]
                    board,
                    Standing(
                        user_id=f"seed{i}",
                        username=f"Seed player {i}",
                        total=1000 + i,
                        reached_at=datetime.now(UTC),
                    ),
                )

        started = clock()
        clients = await open_clients(ws_urls, args.clients)
        print(f"{len(clients)} clients connected in {clock() - started:.1f}s", flush=True)
        deadline = clock() + 30
        while any(not c.records for c in clients) and clock() < deadline:
            await asyncio.sleep(0.05)
        missing_first = sum(1 for c in clients if not c.records)

        writes: list[tuple[float, int]] = []  # (acknowledged at, version or total)
        http = httpx.AsyncClient(base_url=args.api_url, timeout=10) if args.api_url else None
        total = 10_000
        for i in range(args.updates):
            if http is not None:
                response = await http.post(
                    f"/api/v1/leaderboards/{board}/scores",
                    json={
                        "action_id": str(uuid.uuid4()),
                        "score_increment": 1,
                        "timestamp": datetime.now(UTC).isoformat(),
                    },
                    headers={"Authorization": f"Bearer {args.token}"},
                )
                response.raise_for_status()
                writes.append((clock(), int(response.json()["new_total_score"])))
            else:
                assert store is not None and redis is not None
                total += 1
                user = f"player{i % 20}"
                result = await store.apply_total(
                    board,
                    Standing(
                        user_id=user, username=user, total=total, reached_at=datetime.now(UTC)
                    ),
                )
                event = ScoreChanged(
                    board=board,
                    season=1,
                    version=result.version,
                    user_id=user,
                    username=user,
                    total=total,
                    rank=result.rank,
                    increment=1,
                )
                await redis.publish(SCORE_CHANNEL, encode_event(event))
                writes.append((clock(), result.version))
            await asyncio.sleep(args.gap_ms / 1000)
        await asyncio.sleep(2.0)

        # Decode each distinct message once (every client got the same bytes).
        decoded: dict[int, dict[str, Any]] = {}
        for payload, ident in PAYLOADS.items():
            decoded[ident] = json.loads(payload)

        def covers(message: dict[str, Any], target: int) -> bool:
            if message.get("type") != "snapshot":
                return False
            if http is None:
                return int(message["version"]) >= target
            return any(e["score"] >= target for e in message["entries"])

        delays: list[float] = []
        missed = 0
        for client in clients:
            position = 0
            records = client.records
            for acked_at, target in writes:
                while position < len(records) and not (
                    records[position][0] >= acked_at - 0.5
                    and covers(decoded[records[position][1]], target)
                ):
                    position += 1
                if position == len(records):
                    missed += 1
                    continue
                delays.append(max(0.0, records[position][0] - acked_at))
        received = sum(len(c.records) for c in clients)
        if http is not None:
            await http.aclose()
        if redis is not None:
            await redis.aclose()
        mode = "api POST" if http is not None else "BoardStore write + PUBLISH"
        print(
            f"mode={mode} clients={len(clients)} replicas={len(ws_urls)} "
            f"updates={len(writes)} gap={args.gap_ms}ms interval={args.interval_ms}ms "
            f"board size={args.size}"
        )
        print(
            f"messages received={received} distinct={len(PAYLOADS)} missed={missed} "
            f"clients without first snapshot={missing_first} closed={sum(c.closed for c in clients)}"
        )
        if delays:
            ms = [d * 1000 for d in delays]
            print(
                "write-acknowledged -> snapshot arrived (ms): "
                f"p50={percentile(ms, 50):.1f} p90={percentile(ms, 90):.1f} "
                f"p99={percentile(ms, 99):.1f} max={max(ms):.1f} mean={statistics.fmean(ms):.1f}"
            )
        for client in clients:
            if client.transport is not None:
                client.transport.close()
    finally:
        for process in reversed(processes):
            process.stop()


def profiled_serve(output: str, argv: list[str]) -> None:
    """The realtime CLI under pyinstrument; the text report goes to ``output`` on SIGTERM."""
    import signal

    from pyinstrument import Profiler
    from scoreboard_realtime.cli import main as realtime

    # uvicorn re-raises the signal it caught once it has shut down: make that an exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        realtime(argv, standalone_mode=False)
    except SystemExit:
        pass
    finally:
        profiler.stop()
        Path(output).write_text(profiler.output_text(show_all=False, color=False))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--profiled-serve":
        profiled_serve(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--gap-ms", type=int, default=250, help="pause between writes")
    parser.add_argument("--interval-ms", type=int, default=100, help="board coalescing interval")
    parser.add_argument("--size", type=int, default=10, help="board size (top N)")
    parser.add_argument("--replicas", type=int, default=1, help="realtime processes to start")
    parser.add_argument("--profile", help="run the realtime under pyinstrument, text to PATH")
    parser.add_argument("--api-url", help="api mode: a running api")
    parser.add_argument("--token", help="api mode: a player's access token")
    parser.add_argument("--board", default="default", help="api mode: the board")
    parser.add_argument("--realtime-url", action="append", default=[], help="api mode")
    args = parser.parse_args()
    if args.api_url and not (args.token and args.realtime_url):
        parser.error("api mode needs --token and --realtime-url")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
