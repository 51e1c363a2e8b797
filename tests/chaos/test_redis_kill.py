"""Redis SIGKILLed during a steady write load, then restarted empty."""

from __future__ import annotations

import time
from typing import Any

import httpx
import websockets

from tests.chaos.stack import Stack, board_and_users, check_postgres_matches, figures
from tests.support.feeds import Feed, comparable, ws_url
from tests.support.load import WriteLoad
from tests.support.waits import TRANSIENT_ERRORS, seconds_until


async def test_redis_sigkill_under_load_loses_nothing_and_is_rebuilt(stack: Stack) -> None:
    api = stack.start_api()
    realtime = stack.start_realtime(PUBLIC_API_URL=api.url)
    board, users = board_and_users(api, stack)
    http = httpx.Client(base_url=api.url, timeout=10)
    feed = Feed(await websockets.connect(ws_url(realtime, f"/ws/v1/leaderboards/{board}")))
    await feed.wait_for(lambda m: m["type"] == "snapshot")

    with WriteLoad([api.url], board, users, workers=4, max_writes=20000, duration=90.0) as load:
        load.wait_acknowledged(50)
        stack.redis.kill()
        killed = time.monotonic()
        unready = seconds_until(
            lambda: http.get("/readyz").status_code == 503,
            10,
            "readyz 503",
            ignoring=TRANSIENT_ERRORS,
        )
        seconds_until(
            lambda: load.during(killed, time.monotonic())[200] >= 20,
            30,
            "writes, Redis down",
            ignoring=TRANSIENT_ERRORS,
        )
        stack.redis.start()  # same port, empty (not durable)
        restarted = time.monotonic()
        ready = seconds_until(
            lambda: http.get("/readyz").status_code == 200,
            15,
            "readyz 200",
            ignoring=TRANSIENT_ERRORS,
        )
        seconds_until(
            lambda: load.count_after(restarted) >= 50,
            30,
            "writes after the restart",
            ignoring=TRANSIENT_ERRORS,
        )
        load.stop()
    statuses = load.status_counts()
    outage = load.during(killed, restarted)
    assert outage[200] > 0, "no write happened while Redis was down"

    # PostgreSQL: every acknowledged write exactly once, totals = sum of audit rows.
    totals = check_postgres_matches(stack, board, load)
    assert set(statuses) == {200}, statuses  # writes commit while Redis is away
    for user_id, acked in load.acked_sum_by_user().items():
        assert totals[user_id] == acked

    # Redis is rebuilt to match PostgreSQL.
    rebuilt = seconds_until(
        lambda: stack.redis_totals(board) == totals, 15, "redis rebuilt", ignoring=TRANSIENT_ERRORS
    )
    top = http.get(f"/api/v1/leaderboards/{board}/top").json()
    assert {e["user_id"]: e["score"] for e in top["entries"]} == totals

    # The live feed resumes: the connected client (or a reconnect after a 1013 close) ends up
    # with the snapshot GET /top returns.
    expected = comparable(top)
    if feed.closed is None:
        await feed.wait_for(
            lambda m: m["type"] == "snapshot" and comparable(m)["entries"] == expected["entries"],
            timeout=10,
        )
        await feed.close()
        resumed = "same connection"
    else:
        resumed = f"reconnected after close {feed.closed}"
    fresh = Feed(await websockets.connect(ws_url(realtime, f"/ws/v1/leaderboards/{board}")))
    snapshot: dict[str, Any] = await fresh.wait_for(lambda m: m["type"] == "snapshot", timeout=10)
    assert comparable(snapshot)["entries"] == expected["entries"]
    assert snapshot["version"] >= top["version"]
    await fresh.close()
    http.close()

    figures(
        "redis SIGKILL",
        attempted=len(load.attempts),
        acknowledged=len(load.acknowledged),
        load_s=load.elapsed,
        statuses=dict(statuses),
        acknowledged_while_redis_down=outage[200],
        readyz_unready_after_s=unready,
        redis_outage_s=restarted - killed,
        readyz_ready_after_restart_s=ready,
        redis_rebuilt_after_ready_s=rebuilt,
        feed=resumed,
    )
