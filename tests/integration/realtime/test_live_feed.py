"""The live feed against a real uvicorn process, real Redis and a real WebSocket client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from scoreboard_common.keys import BoardKeys
from scoreboard_devstack.metrics import metric_value
from scoreboard_devstack.servers import ServiceProcess

from tests.integration.realtime.redis_boards import Boards
from tests.support.feeds import comparable, ws_url


async def test_snapshot_on_connect_equals_the_store(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any]
) -> None:
    board = await boards.create(size=3)
    for i, total in enumerate((30, 10, 50, 20)):
        await boards.score(board, f"p{i}", total, publish=False)
    feed = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    first = await feed.wait_for(lambda m: m["type"] == "snapshot")
    assert comparable(first) == await boards.top(board, 3)
    assert [e["score"] for e in first["entries"]] == [50, 30, 20]
    assert first["total_players"] == 4
    assert set(first) == {
        "type",
        "leaderboard",
        "season",
        "version",
        "generated_at",
        "total_players",
        "entries",
    }
    assert set(first["entries"][0]) == {
        "rank",
        "user_id",
        "username",
        "score",
        "last_updated",
        "metadata",
    }


async def test_updates_are_pushed_and_equal_the_store(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any]
) -> None:
    board = await boards.create(size=5)
    feed = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    version = await boards.score(board, "alice", 42)
    pushed = await feed.wait_for(lambda m: m["version"] >= version)
    assert comparable(pushed) == await boards.top(board, 5)
    assert pushed["entries"][0] == {**pushed["entries"][0], "user_id": "alice", "score": 42}


async def test_compatibility_paths_serve_the_default_board(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any]
) -> None:
    if not await boards.redis.exists(BoardKeys("default").policy):
        await boards.create(name="default")
    for path in ("/ws/scoreboard", "/ws/score"):  # seeds 003 and 001: the v1 feed
        feed = await connect(ws_url(rt, path))
        snapshot = await feed.wait_for(lambda m: m["type"] == "snapshot")
        assert snapshot["leaderboard"] == "default"
    seed004 = await connect(ws_url(rt, "/scores/live"))
    assert (await seed004.wait_for(lambda m: True))["event"] == "scoresUpdate"
    seed002 = await connect(ws_url(rt, "/scores/websocket"))
    assert isinstance((await seed002.wait_for(lambda m: True))["scores"], list)


async def test_bursts_are_coalesced_and_versions_grow(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any]
) -> None:
    board = await boards.create(size=5, interval_ms=200)
    feed = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    last = 0
    for i in range(1, 201):
        last = await boards.score(board, f"p{i % 9}", i)
    final = await feed.wait_for(lambda m: m["version"] >= last, timeout=10)
    assert comparable(final) == await boards.top(board, 5)
    versions = [m["version"] for m in feed.snapshots]
    assert versions == sorted(set(versions)), "versions must strictly increase"
    # 200 events over a fraction of a second with a 200 ms interval: a handful of broadcasts.
    assert len(feed.snapshots) <= 10


async def test_no_message_when_the_top_n_does_not_change(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any]
) -> None:
    board = await boards.create(size=2, interval_ms=20)
    await boards.score(board, "a", 100, publish=False)
    await boards.score(board, "b", 90, publish=False)
    feed = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    await boards.score(board, "c", 5)  # below the top 2
    await asyncio.sleep(0.5)
    assert len(feed.messages) == 1
    version = await boards.score(board, "c", 95)
    await feed.wait_for(lambda m: m["version"] >= version)


async def test_token_in_subprotocol_or_query_and_rank_messages(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any], mint: Callable[..., str]
) -> None:
    board = await boards.create(size=3)
    alice = await connect(
        ws_url(rt, f"/ws/v1/leaderboards/{board}"), subprotocols=["bearer", mint("alice")]
    )
    assert alice.connection.subprotocol == "bearer"
    bob = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}?token={mint('bob')}"))
    for feed in (alice, bob):
        await feed.wait_for(lambda m: m["type"] == "snapshot")
    await boards.score(board, "alice", 7)
    rank = await alice.wait_for(lambda m: m["type"] == "rank")
    assert rank == {"type": "rank", "user_id": "alice", "rank": 1, "score": 7}
    await bob.wait_for(lambda m: m["type"] == "snapshot" and m["total_players"] == 1)
    await asyncio.sleep(0.2)
    assert all(m["type"] == "snapshot" for m in bob.messages)


@pytest.mark.parametrize(
    ("token_kind", "expected"),
    [("garbage", 4401), ("expired", 4401), ("wrong_audience", 4401)],
)
async def test_bad_tokens_are_refused(
    rt: ServiceProcess,
    boards: Boards,
    connect: Callable[..., Any],
    mint: Callable[..., str],
    token_kind: str,
    expected: int,
) -> None:
    board = await boards.create()
    token = {
        "garbage": "not.a.token",
        "expired": mint("alice", ttl=-60),
        "wrong_audience": mint("alice", aud="someone-else"),
    }[token_kind]
    feed = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"), subprotocols=["bearer", token])
    closed = await feed.wait_closed()
    assert closed[0] == expected
    assert feed.messages == []


async def test_anonymous_only_where_the_policy_allows(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any], mint: Callable[..., str]
) -> None:
    board = await boards.create(anonymous=False)
    anonymous = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    code, reason = await anonymous.wait_closed()
    assert code == 4403 and reason
    signed_in = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}?token={mint('carol')}"))
    await signed_in.wait_for(lambda m: m["type"] == "snapshot")


async def test_policy_change_reaches_connected_clients(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any], mint: Callable[..., str]
) -> None:
    board = await boards.create(size=2)
    for i in range(4):
        await boards.score(board, f"p{i}", 10 * (i + 1), publish=False)
    anonymous = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    user = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}?token={mint('dave')}"))
    for feed in (anonymous, user):
        first = await feed.wait_for(lambda m: m["type"] == "snapshot")
        assert len(first["entries"]) == 2
    await boards.set_policy(board, size=4, access={"publicRead": True, "anonymousLive": False})
    assert (await anonymous.wait_closed())[0] == 4403
    grown = await user.wait_for(lambda m: m["type"] == "snapshot" and len(m["entries"]) == 4)
    assert comparable(grown) == await boards.top(board, 4)
    await boards.redis.delete(BoardKeys(board).policy)
    await boards.changed(board, "deleted")
    assert (await user.wait_closed())[0] == 4404


async def test_unknown_board_is_refused(rt: ServiceProcess, connect: Callable[..., Any]) -> None:
    for path in ("/ws/v1/leaderboards/no-such-board", "/ws/v1/leaderboards/bad%20name"):
        feed = await connect(ws_url(rt, path))
        code, reason = await feed.wait_closed()
        assert code == 4404 and reason == "unknown board"


async def test_data_frames_close_with_1008(
    rt: ServiceProcess, boards: Boards, connect: Callable[..., Any]
) -> None:
    board = await boards.create()
    before = metric_value(rt, "scoreboard_ws_rejected_total", reason="data_frame")
    feed = await connect(ws_url(rt, f"/ws/v1/leaderboards/{board}"))
    await feed.wait_for(lambda m: m["type"] == "snapshot")
    await feed.connection.send("hello")
    code, reason = await feed.wait_closed()
    assert code == 1008 and reason == "this feed is receive-only"
    assert metric_value(rt, "scoreboard_ws_rejected_total", reason="data_frame") == before + 1


async def test_metrics_health_and_page(rt: ServiceProcess, boards: Boards) -> None:
    board = await boards.create()
    async with (
        httpx.AsyncClient(base_url=rt.url) as http,
        websockets.connect(ws_url(rt, f"/ws/v1/leaderboards/{board}")) as ws,
    ):
        await ws.recv()
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["subscribed"] is True
        text = (await http.get("/metrics")).text
        assert f'scoreboard_ws_connections{{board="{board}"}} 1.0' in text
        for name in (
            "scoreboard_ws_messages_sent_total",
            "scoreboard_ws_broadcasts_total",
            "scoreboard_ws_broadcast_latency_seconds",
            "scoreboard_ws_slow_client_drops_total",
            "scoreboard_ws_rejected_total",
            "scoreboard_pubsub_reconnects_total",
            'scoreboard_dependency_up{dependency="redis"} 1.0',
            'scoreboard_http_requests_total{method="GET",route="/healthz",service="realtime"',
        ):
            assert name in text, name
        page = await http.get("/")
        assert page.status_code == 200 and 'type="module"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await http.get("/static/app.js")).status_code == 200
        assert (await http.get("/config.json")).json()["apiUrl"] == ""
