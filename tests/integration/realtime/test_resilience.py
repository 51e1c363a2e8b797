"""Slow and dead clients, several replicas, Redis going away, shutdown, connection floods."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.events import SCORE_CHANNEL, ScoreChanged, encode_event
from scoreboard_common.redis_client import create_redis
from scoreboard_devstack.metrics import metric_value
from scoreboard_devstack.servers import RedisClusterServer, RedisServer, ServiceProcess

from tests.integration.realtime.redis_boards import Boards
from tests.support import wait_for_async
from tests.support.feeds import Feed, comparable, ws_url

ServiceFactory = Callable[..., ServiceProcess]


def stalled_client(service: ServiceProcess, path: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", service.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_a_client_that_stops_reading_never_delays_the_others(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any]
) -> None:
    board = await boards.create(size=100, interval_ms=10)
    long_name = "x" * 150
    for i in range(100):
        await boards.score(board, f"p{i:03d}", 1000 + i, publish=False, name=f"{long_name}{i}")
    drops_before = metric_value(rt, "scoreboard_ws_slow_client_drops_total", board=board)
    stalled = stalled_client(rt, f"/ws/v1/leaderboards/{board}")
    healthy: Feed = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    await healthy.wait_for(lambda m: m["type"] == "snapshot")
    try:
        total, worst = 10_000, 0.0
        deadline = time.monotonic() + 60
        dropped = False
        while not dropped:
            assert time.monotonic() < deadline, "the stalled client was never dropped"
            for _ in range(10):
                total += 1
                version = await boards.score(
                    board, f"p{total % 100:03d}", total, name=f"{long_name}{total}"
                )
                await asyncio.sleep(0.012)
            started = time.monotonic()
            # The healthy client keeps up while the stalled one's buffers fill up.
            await healthy.wait_for(lambda m, v=version: m["version"] >= v, timeout=3)
            worst = max(worst, time.monotonic() - started)
            dropped = (
                metric_value(rt, "scoreboard_ws_slow_client_drops_total", board=board)
                > drops_before
            )
        final = await healthy.wait_for(lambda m, v=version: m["version"] >= v)
        assert comparable(final) == await boards.top(board, 100)
        await wait_for_async(
            lambda: metric_value(rt, "scoreboard_ws_connections", board=board) == 1.0
        )
        assert healthy.closed is None
    finally:
        stalled.close()


async def test_two_replicas_deliver_every_change(
    rt: ServiceProcess,
    start_realtime: ServiceFactory,
    boards: Boards,
    connect: Callable[..., Any],
) -> None:
    other = start_realtime()
    board = await boards.create(size=5, interval_ms=30)
    feeds: list[Feed] = []
    for replica in (rt, other, rt, other):
        feeds.append(await connect(ws_url(replica, f"/ws/v1/leaderboards/{board}")))
    for feed in feeds:
        await feed.wait_for(lambda m: m["type"] == "snapshot")
    version = 0
    for i in range(60):
        version = await boards.score(board, f"p{i % 8}", i * 3)
        if i % 10 == 0:
            await asyncio.sleep(0.05)
    finals = [await feed.wait_for(lambda m, v=version: m["version"] >= v) for feed in feeds]
    expected = await boards.top(board, 5)
    assert all(comparable(final) == expected for final in finals)
    # A change that is only visible to the replicas through Pub/Sub, one more time.
    version = await boards.score(board, "late", 10_000)
    for feed in feeds:
        latest = await feed.wait_for(lambda m, v=version: m["version"] >= v)
        assert latest["entries"][0]["user_id"] == "late"


async def test_pubsub_interruption_resubscribes_and_rereads(
    start_realtime: ServiceFactory,
    fresh_redis: RedisServer | RedisClusterServer,
    connect: Callable[..., Any],
) -> None:
    service = start_realtime(REDIS_URL=fresh_redis.url)
    redis = create_redis(fresh_redis.url)
    boards = Boards(redis, BoardStore(redis))
    board = await boards.create(size=5, interval_ms=20)
    await boards.score(board, "before", 10)
    feed: Feed = await connect(ws_url(service, f"/ws/v1/leaderboards/{board}"))
    first = await feed.wait_for(lambda m: m["type"] == "snapshot")
    reconnects = metric_value(service, "scoreboard_pubsub_reconnects_total")
    await redis.aclose()

    fresh_redis.stop()  # Redis restarts (with its data, AOF); the Pub/Sub connection breaks
    await wait_for_async(lambda: httpx.get(f"{service.url}/readyz").status_code == 503)
    assert metric_value(service, "scoreboard_dependency_up", dependency="redis") == 0.0
    fresh_redis.start()

    redis = create_redis(fresh_redis.url)
    boards = Boards(redis, BoardStore(redis))
    # A change whose event is lost: published before the replica has resubscribed.
    version = await boards.score(board, "during", 99)
    after = await feed.wait_for(lambda m: m["version"] >= version, timeout=15)
    assert after["version"] > first["version"]
    assert comparable(after) == await boards.top(board, 5)
    await wait_for_async(lambda: httpx.get(f"{service.url}/readyz").status_code == 200)
    assert metric_value(service, "scoreboard_pubsub_reconnects_total") >= reconnects + 1
    # And live events flow again.
    version = await boards.score(board, "after", 500)
    latest = await feed.wait_for(lambda m: m["version"] >= version)
    assert comparable(latest) == await boards.top(board, 5)
    assert feed.closed is None
    await redis.aclose()


async def test_sigterm_closes_clients_with_1001(
    start_realtime: ServiceFactory, boards: Boards, connect: Callable[..., Any]
) -> None:
    service = start_realtime(WS_DRAIN_SECONDS="0.5")
    board = await boards.create()
    feeds: list[Feed] = [
        await connect(ws_url(service, f"/ws/v1/leaderboards/{board}")) for _ in range(5)
    ]
    for feed in feeds:
        await feed.wait_for(lambda m: m["type"] == "snapshot")
    service.send_signal(signal.SIGTERM)
    for feed in feeds:
        code, reason = await feed.wait_closed(timeout=10)
        assert code == 1001 and reason == "server shutting down"
    assert service.process is not None
    await asyncio.to_thread(service.process.wait, 15)


def read_frame(sock: socket.socket) -> tuple[int, bytes] | None:
    """One unmasked server frame ``(opcode, payload)``; None once the server closed the TCP
    connection."""
    head = sock.recv(2, socket.MSG_WAITALL)
    if len(head) < 2:
        return None
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(sock.recv(2, socket.MSG_WAITALL), "big")
    elif length == 127:
        length = int.from_bytes(sock.recv(8, socket.MSG_WAITALL), "big")
    payload = sock.recv(length, socket.MSG_WAITALL) if length else b""
    return head[0] & 0x0F, payload


async def test_keepalive_pings_and_closes_a_silent_peer(
    start_realtime: ServiceFactory, boards: Boards, connect: Callable[..., Any]
) -> None:
    """A peer that answers pings stays; one that reads but never answers (a vanished client
    behind a NAT looks the same) is closed with 1011 after interval + timeout."""
    service = start_realtime(WS_PING_INTERVAL_SECONDS="0.5", WS_PING_TIMEOUT_SECONDS="1")
    board = await boards.create()
    path = f"/ws/v1/leaderboards/{board}"
    alive: Feed = await connect(ws_url(service, path))
    await alive.wait_for(lambda m: m["type"] == "snapshot")
    silent = stalled_client(service, path)
    silent.settimeout(20)
    opcodes: list[int] = []
    close_payload = b""
    started = time.monotonic()
    while True:
        frame = await asyncio.to_thread(read_frame, silent)
        if frame is None:
            break
        opcodes.append(frame[0])
        if frame[0] == 0x8:
            close_payload = frame[1]
    silent.close()
    waited = time.monotonic() - started
    assert 0x9 in opcodes, opcodes  # pinged
    assert opcodes[-1] == 0x8, opcodes
    assert int.from_bytes(close_payload[:2], "big") == 1011, close_payload
    assert waited >= 1.0  # not before the timeout (interval + timeout = 1.5 s)
    # The answering client outlived the silent one by several ping rounds.
    await asyncio.sleep(1.5)
    assert alive.closed is None
    await wait_for_async(
        lambda: metric_value(service, "scoreboard_ws_connections", board=board) == 1.0
    )


async def test_per_ip_connection_limit(
    start_realtime: ServiceFactory, boards: Boards, connect: Callable[..., Any]
) -> None:
    service = start_realtime(WS_MAX_CONNECTIONS_PER_IP="3")
    board = await boards.create()
    url = ws_url(service, f"/ws/v1/leaderboards/{board}")
    feeds: list[Feed] = [await connect(url) for _ in range(3)]
    for feed in feeds:
        await feed.wait_for(lambda m: m["type"] == "snapshot")
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, open_timeout=5)
    assert refused.value.response.status_code == 403
    assert metric_value(service, "scoreboard_ws_rejected_total", reason="ip_limit") == 1.0
    await feeds[0].close()
    await wait_for_async(
        lambda: metric_value(service, "scoreboard_ws_connections", board=board) == 2
    )
    again: Feed = await connect(url)
    await again.wait_for(lambda m: m["type"] == "snapshot")


async def test_broadcast_span_is_a_child_of_the_event_trace(
    start_realtime: ServiceFactory, boards: Boards, connect: Callable[..., Any]
) -> None:
    service = start_realtime(OTEL_TRACES_EXPORTER="console")
    board = await boards.create(interval_ms=20)
    feed: Feed = await connect(ws_url(service, f"/ws/v1/leaderboards/{board}"))
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    result = await boards.store.apply_total(
        board,
        Standing(user_id="traced", username="Traced", total=5, reached_at=datetime.now(UTC)),
    )
    event = ScoreChanged(
        board=board,
        season=1,
        version=result.version,
        user_id="traced",
        username="Traced",
        total=5,
        rank=result.rank,
        increment=5,
        traceparent=f"00-{trace_id}-{span_id}-01",
    )
    await boards.redis.publish(SCORE_CHANNEL, encode_event(event))
    await feed.wait_for(lambda m: m["version"] >= result.version)

    def exported() -> bool:
        text = service.log_path.read_text(errors="replace")
        return f'"trace_id": "0x{trace_id}"' in text and f'"parent_id": "0x{span_id}"' in text

    await wait_for_async(exported)
