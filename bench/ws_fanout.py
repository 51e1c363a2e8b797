"""Fan-out delay of the live feed: from a score write to the snapshot's arrival at every client.

It opens ``--clients`` WebSocket connections, in turn to each of ``--replicas`` realtime processes
as a Service spreads them (a raw asyncio client: one handshake per connection, then only frame
headers are parsed and each distinct payload is decoded once, so the load generator's cost per
message stays small next to the server's), then performs score writes spaced by ``--gap-ms``
for ``--seconds`` (on a thread of their own, so the clients' reads do not bunch them) and
measures, for every (client, write) pair, the delay until the client received the first
snapshot that contains the write:

* ``direct`` mode (default): the write is the shared BoardStore's Lua write plus the
  ``ScoreChanged`` PUBLISH, exactly what the api does after its PostgreSQL commit; the clock
  starts when the PUBLISH is acknowledged by Redis.
* ``api`` mode (``--api-url``, ``--token``, ``--board``): the write is ``POST .../scores`` on a
  running api; the clock starts when the POST is acknowledged. ``--realtime-url`` then points to
  the running realtime (raise its ``WS_MAX_CONNECTIONS_PER_IP`` first).

Reported: p50/p99/p999 of the delay, messages per second delivered (all clients), server memory
per connection (RSS delta / clients), and the CPU seconds the server and this load generator
used while the writes ran (they share the machine's cores). The delay includes the board's
coalescing interval (``--interval-ms``, 100 ms by default as in the design). Nothing asserts.

    .venv/bin/python bench/ws_fanout.py --clients 10000 --seconds 20
    .venv/bin/python bench/ws_fanout.py --clients 2000 --profile /tmp/realtime.txt  # pyinstrument

``make bench`` runs :func:`scenario` (10,000 clients over two realtime processes, the chart's
default replica count).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import os
import resource
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import psutil
import uvloop
from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.events import SCORE_CHANNEL, ScoreChanged, encode_event
from scoreboard_common.keys import BoardKeys

if TYPE_CHECKING:
    from bench.report import Row
    from bench.stack import Stack

clock = time.perf_counter
T = TypeVar("T")
PAYLOADS: dict[bytes, int] = {}  # every distinct message received, numbered
FANOUT_BOARD = "fanout"
FANOUT_CLIENTS = 10_000
REALTIME_REPLICAS = 2  # the chart's default (realtime.replicaCount); clients alternate


class Client(asyncio.Protocol):
    """One WebSocket connection: the handshake, then (arrival time, payload number) records."""

    __slots__ = ("buffer", "closed", "ids", "opened", "path_host", "times", "transport", "upgraded")

    def __init__(self, path_host: bytes, opened: asyncio.Future[None]) -> None:
        self.path_host = path_host
        self.opened = opened
        self.transport: Any = None
        self.buffer = b""
        self.upgraded = False
        self.closed = False
        self.times = array("d")
        self.ids = array("l")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16))
        transport.write(  # type: ignore[attr-defined]
            self.path_host + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )

    def data_received(self, data: bytes) -> None:
        now = clock()
        if self.buffer:
            data, self.buffer = self.buffer + data, b""
        pos = 0
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = data
                return
            self.upgraded = True
            if not self.opened.done():
                if data.startswith(b"HTTP/1.1 101"):
                    self.opened.set_result(None)
                else:
                    self.opened.set_exception(ConnectionError(data[:end].decode(errors="replace")))
            pos = end + 4
        size = len(data)
        payloads = PAYLOADS
        while size - pos >= 2:
            length, head = data[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            opcode = data[pos] & 0x0F
            if opcode == 1:
                payload = data[pos + head : end]
                ident = payloads.get(payload)
                if ident is None:
                    ident = payloads[payload] = len(payloads)
                self.times.append(now)
                self.ids.append(ident)
            elif opcode == 9:
                self._control(0xA, data[pos + head : end])
            elif opcode == 8:
                self.closed = True
            pos = end
        if pos < size:
            self.buffer = data[pos:]

    def _control(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def open_clients(
    urls: Sequence[str], count: int, batch: int = 250
) -> tuple[list[Client], str]:
    """Open up to ``count`` connections, in turn to each of ``urls`` (the replicas, as a
    Service spreads them); stops at the first batch with failures (the machine's limit) and
    says why."""
    loop = asyncio.get_running_loop()
    targets: list[tuple[str, int, bytes]] = []
    for url in urls:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        targets.append((host, port, f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode()))
    clients: list[Client] = []

    async def one(index: int) -> Client:
        host, port, path_host = targets[index % len(targets)]
        client = Client(path_host, loop.create_future())
        await loop.create_connection(lambda: client, host, port)
        await asyncio.wait_for(client.opened, 60)
        return client

    for start in range(0, count, batch):
        results = await asyncio.gather(
            *(one(i) for i in range(start, min(start + batch, count))), return_exceptions=True
        )
        clients += [r for r in results if isinstance(r, Client)]
        errors = [r for r in results if not isinstance(r, Client)]
        if errors:
            return clients, f"{len(errors)} connections failed: {errors[0]!r}"
    return clients, ""


Arrivals = tuple[Sequence[float], Sequence[int]]  # one client: (arrival times, payload numbers)


class Fleet:
    """The load generator's clients, on this process's event loop. Reading 10,000 of them costs
    ~0.6 of a core at 10 broadcasts/s (mostly the kernel's receive path: a Go client with a
    goroutine per connection, tried in phase 8, cost more), and the last message of a broadcast
    is stamped when the loop gets to it, tens of ms after the first."""

    def __init__(self, clients: list[Client]) -> None:
        self.clients = clients
        self._marks = [len(c.times) for c in clients]

    def __len__(self) -> int:
        return len(self.clients)

    def closed(self) -> int:
        return sum(c.closed for c in self.clients)

    def arrivals(self) -> list[Arrivals]:
        """The messages received since the last call, per client."""
        out: list[Arrivals] = [
            (c.times[m:], c.ids[m:]) for c, m in zip(self.clients, self._marks, strict=True)
        ]
        self._marks = [len(c.times) for c in self.clients]
        return out

    def close(self) -> None:
        for client in self.clients:
            client.transport.close()


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Window:
    """One measured stream of writes."""

    clients: int
    writes: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    missed: int
    messages_per_s: float
    cpu_server_s: float
    cpu_client_s: float
    seconds: float
    cpu_server_system_s: float = float("nan")
    writing_s: float = float("nan")  # from the first write to the last one


Writer = Callable[[int], Awaitable[tuple[float, int]]]  # i -> (acknowledged at, target)


class WriterThread:
    """The score writes, on an event loop of their own in a thread of their own.

    On the bench's loop a write waited behind the clients' reads (a broadcast to 10,000 clients
    is 10,000 callbacks there, ~50 ms): writes bunched up, and two inside one coalescing
    interval make one broadcast, so fewer messages than offered; their acknowledgements were
    also stamped late, which made delays read short. Here the writes keep their pace and their
    clock (``time.perf_counter`` is the same monotonic clock in every thread)."""

    def __init__(self, writer: Callable[[], AbstractAsyncContextManager[Writer]]) -> None:
        self._writer = writer
        self._loop = uvloop.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="writes", daemon=True)
        self._resources = contextlib.AsyncExitStack()
        self._write: Writer | None = None

    async def _on_own_loop(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def __aenter__(self) -> WriterThread:
        self._thread.start()
        self._write = await self._on_own_loop(self._resources.enter_async_context(self._writer()))
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            await self._on_own_loop(self._resources.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    async def paced(
        self, started: float, seconds: float, gap_ms: int
    ) -> tuple[list[tuple[float, int]], float]:
        """One write every ``gap_ms`` from ``started`` for ``seconds``; and when the writing
        ended, read on the writer's thread (the bench's loop may hear of it late)."""
        assert self._write is not None, "use WriterThread as an async context manager"
        return await self._on_own_loop(paced_writes(self._write, started, seconds, gap_ms))


async def paced_writes(
    write: Writer, started: float, seconds: float, gap_ms: int
) -> tuple[list[tuple[float, int]], float]:
    writes: list[tuple[float, int]] = []
    index = 0
    while clock() - started < seconds:
        writes.append(await write(index))
        index += 1
        await asyncio.sleep(max(0.0, started + index * gap_ms / 1000 - clock()))
    return writes, clock()


def cpu_seconds(servers: Sequence[psutil.Process]) -> tuple[float, float]:
    """(user + system, system) CPU seconds used so far by ``servers`` together."""
    times = [server.cpu_times() for server in servers]
    system = sum(t.system for t in times)
    return sum(t.user for t in times) + system, system


async def measure(
    fleet: Fleet,
    writes: WriterThread,
    covers: Callable[[dict[str, Any], int], bool],
    *,
    seconds: float,
    gap_ms: int,
    servers: Sequence[psutil.Process],
    settle: float = 1.5,
) -> Window:
    """Writes every ``gap_ms`` for ``seconds``, then the delay of every (client, write) pair."""
    fleet.arrivals()  # what came before this window
    me = psutil.Process()
    cpu_client = sum(me.cpu_times()[:2])
    cpu_server, cpu_server_system = cpu_seconds(servers)
    started = clock()
    done, writing_ended = await writes.paced(started, seconds, gap_ms)
    writing = writing_ended - started
    await asyncio.sleep(settle)
    ended = clock()
    cpu_client_s = sum(me.cpu_times()[:2]) - cpu_client
    cpu_server_s = cpu_server_system_s = float("nan")
    if servers:
        after, after_system = cpu_seconds(servers)
        cpu_server_s, cpu_server_system_s = after - cpu_server, after_system - cpu_server_system
    arrivals = fleet.arrivals()

    decoded = {ident: json.loads(payload) for payload, ident in PAYLOADS.items()}
    covering = [[covers(decoded[i], target) for i in range(len(decoded))] for _, target in done]
    delays: list[float] = []
    missed = received = 0
    for times, ids in arrivals:
        received += len(times)
        position = 0
        for (acked_at, _), table in zip(done, covering, strict=True):
            # A client may read a frame before the writer reads the write's own acknowledgement:
            # a message that arrived shortly before the ack still counts (delay 0).
            while position < len(times) and not (
                times[position] >= acked_at - 0.5 and table[ids[position]]
            ):
                position += 1
            if position == len(times):
                missed += 1
                continue
            delays.append(max(0.0, times[position] - acked_at) * 1000)
    delays.sort()
    # Delivered per second of writing: every message the window's writes caused (received up to
    # the end of the settle) over the time they were offered in, so a server that delivers every
    # one scores the offered rate. (Dividing by the time to the last message, as before, also
    # counted the last broadcast's own delay: no server could reach the offered rate.) Lateness
    # is the p99's business; a server that falls behind also delivers fewer messages (a client
    # that is behind gets only the newest snapshot).
    return Window(
        clients=len(fleet),
        writes=len(done),
        p50_ms=percentile(delays, 50),
        p99_ms=percentile(delays, 99),
        p999_ms=percentile(delays, 99.9),
        max_ms=delays[-1] if delays else float("nan"),
        missed=missed,
        messages_per_s=received / writing,
        cpu_server_s=cpu_server_s,
        cpu_client_s=cpu_client_s,
        seconds=ended - started,
        cpu_server_system_s=cpu_server_system_s,
        writing_s=writing,
    )


async def prepare_board(redis: Redis, board: str, size: int, interval_ms: int) -> None:
    store = BoardStore(redis)
    spec = {"board": board, "size": size, "broadcast": {"minIntervalMs": interval_ms}}
    await redis.set(BoardKeys(board).policy, json.dumps(spec))
    for i in range(size):
        await store.apply_total(
            board,
            Standing(
                user_id=f"seed{i}",
                username=f"Seed player {i}",
                total=1000 + i,
                reached_at=datetime.now(UTC),
            ),
        )


def direct_writer(redis: Redis, store: BoardStore, board: str) -> Writer:
    """BoardStore write + PUBLISH (what the api does after its commit); target = version."""
    state = {"total": int(time.time())}

    async def write(i: int) -> tuple[float, int]:
        state["total"] += 1
        total, user = state["total"], f"player{i % 20}"
        result = await store.apply_total(
            board, Standing(user_id=user, username=user, total=total, reached_at=datetime.now(UTC))
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
        return clock(), result.version

    return write


@contextlib.asynccontextmanager
async def direct_writes(redis_url: str, board: str) -> AsyncIterator[Writer]:
    """:func:`direct_writer` on a Redis client of its own (for a :class:`WriterThread`)."""
    redis = Redis.from_url(redis_url)
    try:
        yield direct_writer(redis, BoardStore(redis), board)
    finally:
        await redis.aclose()


@contextlib.asynccontextmanager
async def api_writes(api_url: str, token: str, board: str) -> AsyncIterator[Writer]:
    """``POST .../scores`` on a running api; target = the new total."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:

        async def write(i: int) -> tuple[float, int]:
            response = await http.post(
                f"/api/v1/leaderboards/{board}/scores",
                json={
                    "action_id": str(uuid.uuid4()),
                    "score_increment": 1,
                    "timestamp": datetime.now(UTC).isoformat(),
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            return clock(), int(response.json()["new_total_score"])

        yield write


def covers_version(message: dict[str, Any], target: int) -> bool:
    return message.get("type") == "snapshot" and int(message["version"]) >= target


def covers_score(message: dict[str, Any], target: int) -> bool:
    return message.get("type") == "snapshot" and any(
        e["score"] >= target for e in message["entries"]
    )


async def connect_and_wait(urls: Sequence[str], count: int) -> tuple[Fleet, str, float]:
    """``count`` clients over ``urls`` in turn, each with its first snapshot (or 60 s passed)."""
    started = clock()
    clients, problem = await open_clients(urls, count)
    deadline = clock() + 60
    while any(not c.times for c in clients) and clock() < deadline:
        await asyncio.sleep(0.05)
    return Fleet(clients), problem, clock() - started


def rss(servers: Sequence[psutil.Process]) -> float:
    """Resident memory of ``servers`` together (NaN when the servers are not ours)."""
    if not servers:
        return float("nan")
    return float(sum(server.memory_info().rss for server in servers))


def summary(windows: list[Window], memory_per_connection: float, target_ms: float) -> str:
    med = statistics.median
    return (
        f"clients={windows[0].clients} windows={len(windows)} "
        f"writes/window={windows[0].writes}\n"
        f"  write acknowledged -> snapshot arrived (ms): p50={med(w.p50_ms for w in windows):.1f} "
        f"p99={med(w.p99_ms for w in windows):.1f} p999={med(w.p999_ms for w in windows):.1f} "
        f"max={max(w.max_ms for w in windows):.1f} (target p99 < {target_ms:.0f}); "
        f"missed={sum(w.missed for w in windows)}\n"
        f"  delivered {med(w.messages_per_s for w in windows):,.0f} msgs/s; "
        f"memory/connection {memory_per_connection / 1024:.1f} KiB; CPU per window of "
        f"{med(w.seconds for w in windows):.1f}s: server {med(w.cpu_server_s for w in windows):.1f}s "
        f"({med(w.cpu_server_system_s for w in windows):.1f}s system), "
        f"client {med(w.cpu_client_s for w in windows):.1f}s"
    )


def scenario(
    stack: Stack,
    *,
    runs: int,
    seconds: int,
    clients: int = FANOUT_CLIENTS,
    interval_ms: int = 100,
    gaps_ms: tuple[int, ...] = (250, 100),
    replicas: int = REALTIME_REPLICAS,
) -> list[Row]:
    """``make bench``: ``clients`` connections spread over ``replicas`` realtime processes (the
    chart's default), then for each write spacing in ``gaps_ms`` (250 ms: 4 broadcasts/s;
    100 ms: 10/s, one per coalescing interval), ``runs`` windows of ``seconds`` of writes;
    medians."""
    from bench.report import Row

    raise_open_file_limit()
    services = [
        stack.start_service(
            "realtime", WS_MAX_CONNECTIONS_PER_IP="1000000", WS_PING_INTERVAL_SECONDS="60"
        )
        for _ in range(replicas)
    ]
    servers = [psutil.Process(service.pid) for service in services if service.pid is not None]
    urls = [f"ws://127.0.0.1:{s.port}/ws/v1/leaderboards/{FANOUT_BOARD}" for s in services]

    async def go() -> tuple[dict[int, list[Window]], float, str, float]:
        redis = Redis.from_url(stack.env["REDIS_URL"])
        try:
            await prepare_board(redis, FANOUT_BOARD, 10, interval_ms)
        finally:
            await redis.aclose()
        before = rss(servers)
        fleet, problem, took = await connect_and_wait(urls, clients)
        await asyncio.sleep(1)
        memory = (rss(servers) - before) / max(1, len(fleet))
        windows = await windows_by_gap(
            fleet, stack.env["REDIS_URL"], FANOUT_BOARD, gaps_ms, runs, seconds, servers
        )
        fleet.close()
        return windows, memory, problem, took

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        by_gap, memory, problem, took = runner.run(go())
        for service in services:
            service.stop()  # the baseline runs on a machine without them
        bare = runner.run(
            bare_windows(
                stack,
                runs=runs,
                seconds=seconds,
                clients=clients,
                gaps_ms=gaps_ms,
                interval_ms=interval_ms,
                replicas=replicas,
            )
        )
    target = interval_ms + 100.0
    med = statistics.median
    rows: list[Row] = []
    for gap, windows in by_gap.items():
        p99 = med(w.p99_ms for w in windows)
        count = windows[0].clients
        rate = 1000 / gap
        print(f"writes every {gap} ms: " + summary(windows, memory, target), flush=True)
        cpu = (
            f"CPU per {med(w.seconds for w in windows):.0f}s window: realtime "
            f"{med(w.cpu_server_s for w in windows):.1f}s "
            f"({med(w.cpu_server_system_s for w in windows):.1f}s system), load generator "
            f"{med(w.cpu_client_s for w in windows):.1f}s (2 shared cores)"
        )
        rows.append(
            Row(
                f"fan-out p99 at {count:,} clients, {rate:g} broadcasts/s (ms)",
                p99,
                "coalescing interval + 100 ms",
                target,
                target=f"<= {target:.0f} ms",
                met=p99 <= target and count >= clients,
                lower_is_better=True,
                note=f"write ack -> snapshot at client: p50 "
                f"{med(w.p50_ms for w in windows):.0f} ms, p999 "
                f"{med(w.p999_ms for w in windows):.0f} ms, missed "
                f"{sum(w.missed for w in windows)}; {replicas} realtime "
                f"process{'es' if replicas > 1 else ''}, clients alternating; one write per {gap} ms; "
                f"{count:,} of {clients:,} clients connected in {took:.0f}s"
                + (f" ({problem})" if problem else "")
                + f"; {cpu}",
            )
        )
        offered = med(w.clients * w.writes / w.writing_s for w in windows)
        delivered = med(w.messages_per_s for w in windows)
        rows.append(
            Row(
                f"fan-out msgs delivered/s, {rate:g} broadcasts/s",
                delivered,
                "offered: clients x writes / writing time",
                offered,
                target=">= 100,000/s offered, >= 99.5% delivered" if gap <= 100 else "",
                met=(offered >= 99_500 and delivered >= 0.995 * offered) if gap <= 100 else None,
                note="every write changes the top 10, so each is one broadcast to every client; "
                "delivered: every message the writes caused, received by the end of the window "
                "(1.5 s after the last write), per second of writing (a client that is behind "
                "gets only the newest snapshot; a merged broadcast is 1.25% of a window's messages)",
            )
        )
    for gap, windows in bare.items():
        ours = by_gap[gap]
        rate = 1000 / gap
        p99, bare_p99 = med(w.p99_ms for w in ours), med(w.p99_ms for w in windows)
        rows.append(
            Row(
                f"context: fan-out p99, {rate:g} broadcasts/s, realtime / bare broadcaster (ms)",
                p99,
                "bare broadcaster p99 (ms)",
                bare_p99,
                lower_is_better=True,
                note=f"the same {replicas} processes' worth of clients and writes against "
                "`bench/bare_broadcast.py` (uvloop, the handshake, one Redis read and one "
                "frame written to every socket per coalescing interval; nothing else), right "
                f"after: p50 {med(w.p50_ms for w in windows):.0f} ms, delivered "
                f"{med(w.messages_per_s for w in windows):,.0f} msgs/s of "
                f"{med(w.clients * w.writes / w.writing_s for w in windows):,.0f} offered, "
                f"missed {sum(w.missed for w in windows)}; CPU per "
                f"{med(w.seconds for w in windows):.0f}s window: broadcaster "
                f"{med(w.cpu_server_s for w in windows):.1f}s "
                f"({med(w.cpu_server_system_s for w in windows):.1f}s system), load generator "
                f"{med(w.cpu_client_s for w in windows):.1f}s",
            )
        )
    rows.append(
        Row(
            f"fan-out memory per connection at {by_gap[gaps_ms[0]][0].clients:,} clients (KiB)",
            memory / 1024,
            "target (KiB)",
            16.0,
            target="<= 16 KiB",
            met=memory / 1024 <= 16,
            lower_is_better=True,
            note="realtime RSS after connecting minus before, divided by the clients "
            '(34.3-34.8 KiB with the legacy websockets protocol; see "Realtime memory per WebSocket")',
        )
    )
    return rows


async def windows_by_gap(
    fleet: Fleet,
    redis_url: str,
    board: str,
    gaps_ms: tuple[int, ...],
    runs: int,
    seconds: int,
    servers: Sequence[psutil.Process],
) -> dict[int, list[Window]]:
    """For each write spacing, ``runs`` windows of direct writes to ``board``."""
    async with WriterThread(lambda: direct_writes(redis_url, board)) as writes:
        return {
            gap: [
                await measure(
                    fleet, writes, covers_version, seconds=seconds, gap_ms=gap, servers=servers
                )
                for _ in range(runs)
            ]
            for gap in gaps_ms
        }


def bare_broadcast_argv(
    port: int, redis_url: str, board: str, size: int, interval_ms: int
) -> list[str]:
    """The command line of one ``bench/bare_broadcast.py`` process."""
    return [
        *(sys.executable, "-m", "bench.bare_broadcast", "--port", str(port)),
        *("--redis-url", redis_url, "--board", board),
        *("--size", str(size), "--interval-ms", str(interval_ms)),
    ]


async def bare_windows(
    stack: Stack,
    *,
    runs: int,
    seconds: int,
    clients: int,
    gaps_ms: tuple[int, ...],
    interval_ms: int,
    replicas: int,
) -> dict[int, list[Window]]:
    """The same windows against ``replicas`` bare broadcasters (``bench/bare_broadcast.py``)."""
    from scoreboard_devstack.servers import ServiceProcess, free_port

    board = f"{FANOUT_BOARD}-bare"
    redis_url = stack.env["REDIS_URL"]
    redis = Redis.from_url(redis_url)
    try:
        await prepare_board(redis, board, 10, interval_ms)
    finally:
        await redis.aclose()
    services: list[ServiceProcess] = []
    try:
        for _ in range(replicas):
            port = free_port()
            argv = bare_broadcast_argv(port, redis_url, board, 10, interval_ms)
            service = ServiceProcess("bare-broadcast", argv, port, stack.env, stack.root / "logs")
            services.append(service)
            service.start()
        servers = [psutil.Process(s.pid) for s in services if s.pid is not None]
        urls = [f"ws://127.0.0.1:{s.port}/" for s in services]
        fleet, _, _ = await connect_and_wait(urls, clients)
        try:
            return await windows_by_gap(fleet, redis_url, board, gaps_ms, runs, seconds, servers)
        finally:
            fleet.close()
    finally:
        for service in services:
            service.stop()


async def run(args: argparse.Namespace) -> None:
    from scoreboard_devstack.servers import RedisServer, ServiceProcess, free_port

    processes: list[Any] = []
    tmp = Path(tempfile.mkdtemp(prefix="ws-fanout-"))
    servers: list[psutil.Process] = []
    try:
        if args.api_url:
            board, urls = args.board, [args.realtime_url]
            writer = functools.partial(api_writes, args.api_url, args.token, board)
            covers = covers_score
        else:
            redis_server = RedisServer(tmp / "redis", durable=False)
            redis_server.start()
            processes.append(redis_server)
            board = "bench"
            env = {
                **os.environ,
                "REDIS_URL": redis_server.url,
                "WS_MAX_CONNECTIONS_PER_IP": "1000000",
                "WS_PING_INTERVAL_SECONDS": "60",
                "LOG_LEVEL": "WARNING",
                "AUTH_PUBLIC_KEY_FILE": "",
            }
            if args.profile:
                command = [sys.executable, __file__, "--profiled-serve", args.profile]
            elif args.tracemalloc:
                command = [sys.executable, __file__, "--traced-serve", args.tracemalloc]
            else:
                command = [str(Path(sys.executable).parent / "scoreboard-realtime")]
            urls = []
            for _ in range(args.replicas):
                port = free_port()
                argv = [*command, "serve", "--port", str(port)]
                if args.bare:
                    argv = bare_broadcast_argv(
                        port, redis_server.url, board, args.size, args.interval_ms
                    )
                service = ServiceProcess("realtime", argv, port, env, tmp)
                service.start()
                processes.append(service)
                assert service.pid is not None
                servers.append(psutil.Process(service.pid))
                urls.append(service.url)
            redis = Redis.from_url(redis_server.url)
            try:
                await prepare_board(redis, board, args.size, args.interval_ms)
            finally:
                await redis.aclose()
            writer = functools.partial(direct_writes, redis_server.url, board)
            covers = covers_version
        ws_urls = [
            u.replace("http", "ws", 1).rstrip("/") + f"/ws/v1/leaderboards/{board}" for u in urls
        ]

        if args.tracemalloc and servers:
            servers[0].send_signal(signal.SIGUSR1)  # the traced server's "before" snapshot
            await asyncio.sleep(1)
        before = rss(servers)
        fleet, problem, took = await connect_and_wait(ws_urls, args.clients)
        await asyncio.sleep(1)
        memory = (rss(servers) - before) / max(1, len(fleet))
        if args.tracemalloc and servers:
            report = Path(args.tracemalloc)
            report.unlink(missing_ok=True)
            servers[0].send_signal(signal.SIGUSR1)  # "after": the difference goes to the file
            deadline = clock() + 300
            while not report.exists() and clock() < deadline:
                await asyncio.sleep(0.5)
        print(
            f"{len(fleet)} clients connected in {took:.1f}s" + (f" ({problem})" if problem else ""),
            flush=True,
        )
        async with WriterThread(writer) as writes:
            windows = [
                await measure(
                    fleet,
                    writes,
                    covers,
                    seconds=args.seconds,
                    gap_ms=args.gap_ms,
                    servers=servers,
                )
                for _ in range(args.runs)
            ]
        closed = fleet.closed()
        fleet.close()
        if not windows:
            print(f"memory/connection {memory / 1024:.1f} KiB ({len(fleet)} clients)")
            return
        mode = "api POST" if args.api_url else "BoardStore write + PUBLISH"
        print(
            f"mode={mode} gap={args.gap_ms}ms interval={args.interval_ms}ms size={args.size} "
            f"replicas={len(ws_urls)}"
        )
        print(summary(windows, memory, args.interval_ms + 100.0))
        print(f"closed by the server: {closed}")
    finally:
        for process in reversed(processes):
            process.stop()


def profiled_serve(output: str, argv: list[str]) -> None:
    """The realtime CLI under pyinstrument; the text report goes to ``output`` on SIGTERM."""

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


def traced_serve(output: str, argv: list[str]) -> None:
    """The realtime CLI under tracemalloc: the first SIGUSR1 takes a snapshot, the second writes
    what was allocated since (and is still alive) to ``output``: top lines and top tracebacks.
    (A thread waits for the signal: uvloop does not run Python signal handlers while idle.)"""
    import threading
    import tracemalloc

    from scoreboard_realtime.cli import main as realtime

    tracemalloc.start(12)
    snapshots: list[tracemalloc.Snapshot] = []

    def on_signal(*_: object) -> None:
        snapshots.append(tracemalloc.take_snapshot())
        if len(snapshots) < 2:
            return
        ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
        after, before = (s.filter_traces(ignore) for s in snapshots[-1:-3:-1])
        lines = after.compare_to(before, "lineno")
        stacks = after.compare_to(before, "traceback")
        total = sum(stat.size_diff for stat in lines)
        text = [f"allocated since the first snapshot (alive): {total / 1024:,.0f} KiB", ""]
        text += [str(stat) for stat in lines[:40]]
        for stat in stacks[:12]:
            text += ["", f"{stat.size_diff / 1024:,.0f} KiB in {stat.count_diff} blocks:"]
            text += stat.traceback.format(limit=12)
        Path(output).write_text("\n".join(text) + "\n")

    def wait_for_signals() -> None:
        while True:
            signal.sigwait({signal.SIGUSR1})
            on_signal()

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    threading.Thread(target=wait_for_signals, daemon=True).start()
    realtime(argv, standalone_mode=False)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--profiled-serve":
        profiled_serve(sys.argv[2], sys.argv[3:])
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--traced-serve":
        traced_serve(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15, help="writes per window, seconds")
    parser.add_argument(
        "--runs", type=int, default=1, help="windows (medians are printed); 0: memory only"
    )
    parser.add_argument("--gap-ms", type=int, default=250, help="pause between writes")
    parser.add_argument("--interval-ms", type=int, default=100, help="board coalescing interval")
    parser.add_argument("--size", type=int, default=10, help="board size (top N)")
    parser.add_argument(
        "--bare", action="store_true", help="serve with bench/bare_broadcast.py (the baseline)"
    )
    parser.add_argument("--profile", help="run the realtime under pyinstrument, text to PATH")
    parser.add_argument(
        "--tracemalloc", help="run the realtime under tracemalloc; what the clients cost to PATH"
    )
    parser.add_argument("--api-url", help="api mode: a running api")
    parser.add_argument("--token", help="api mode: a player's access token")
    parser.add_argument("--board", default="default", help="api mode: the board")
    parser.add_argument("--realtime-url", help="api mode: the running realtime")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="direct mode: realtime processes, clients alternating (make bench: 2, the chart's)",
    )
    args = parser.parse_args()
    if args.api_url and not (args.token and args.realtime_url):
        parser.error("api mode needs --token and --realtime-url")
    if (args.profile or args.tracemalloc) and args.replicas != 1:
        parser.error("--profile and --tracemalloc trace one realtime process: use --replicas 1")
    print(f"open-file limit {raise_open_file_limit()}", flush=True)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(args))


if __name__ == "__main__":
    main()
