"""A realtime replica SIGTERMed while writes flow: its clients get 1001, reconnect to the other
replica, and their next snapshot is what GET /top returns."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx
import websockets

from tests.chaos.stack import Stack, board_and_users, figures
from tests.support.feeds import Feed, comparable, ws_url
from tests.support.load import WriteLoad
from tests.support.waits import TRANSIENT_ERRORS, seconds_until, wait_for_async

CLIENTS = 20


async def test_realtime_sigterm_clients_move_to_the_other_replica(stack: Stack) -> None:
    api = stack.start_api()
    leaving = stack.start_realtime(WS_DRAIN_SECONDS="1")
    staying = stack.start_realtime()
    board, users = board_and_users(api, stack)
    path = f"/ws/v1/leaderboards/{board}"
    feeds = [Feed(await websockets.connect(ws_url(leaving, path))) for _ in range(CLIENTS)]
    for feed in feeds:
        await feed.wait_for(lambda m: m["type"] == "snapshot")

    with WriteLoad([api.url], board, users, workers=2, max_writes=20000, duration=90.0) as load:
        await asyncio.to_thread(load.wait_acknowledged, 20)
        leaving.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        codes = [(await feed.wait_closed(timeout=10))[0] for feed in feeds]
        closed_in = time.monotonic() - signalled
        # Reconnect elsewhere at once, while writes continue.
        moved = [Feed(await websockets.connect(ws_url(staying, path))) for _ in range(CLIENTS)]
        first = [await feed.wait_for(lambda m: m["type"] == "snapshot") for feed in moved]
        reconnected_in = time.monotonic() - signalled
        moved_at = time.monotonic()
        await asyncio.to_thread(
            seconds_until, lambda: load.count_after(moved_at) >= 20, 30, "writes after the move"
        )
        load.stop()
    assert codes == [1001] * CLIENTS, codes
    assert leaving.process is not None
    await asyncio.to_thread(leaving.process.wait, 15)

    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        # The first snapshot after the move is at least as new as what the old replica sent.
        last_seen = max(f.snapshots[-1]["version"] for f in feeds)
        assert all(s["version"] >= last_seen for s in first)
        # Once the writes stop, every moved client converges on exactly GET /top (once GET /top
        # shows every committed write: its cache is fresh for 100 ms).
        totals = stack.pg_totals(board)
        top: dict[str, Any] = {}

        async def top_is_committed() -> bool:
            nonlocal top
            top = (await http.get(f"/api/v1/leaderboards/{board}/top")).json()
            return {e["user_id"]: e["score"] for e in top["entries"]} == totals

        await wait_for_async(
            top_is_committed, 10, "GET /top shows every committed write", ignoring=TRANSIENT_ERRORS
        )
        expected = comparable(top)
        for feed in moved:
            await feed.wait_for(
                lambda m: m["type"] == "snapshot"
                and comparable(m)["entries"] == expected["entries"],
                timeout=10,
            )
        # A client that connects now gets exactly that snapshot first.
        late = Feed(await websockets.connect(ws_url(staying, path)))
        snapshot = await late.wait_for(lambda m: m["type"] == "snapshot")
        assert comparable(snapshot)["entries"] == expected["entries"]
    for feed in [*moved, late]:
        await feed.close()

    figures(
        "realtime SIGTERM",
        clients=CLIENTS,
        close_codes=sorted(set(codes)),
        all_closed_after_s=closed_in,
        all_resubscribed_with_snapshot_after_s=reconnected_in,
        writes_acknowledged=len(load.acknowledged),
        writes_statuses=dict(load.status_counts()),
    )
