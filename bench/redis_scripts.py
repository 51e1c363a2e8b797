"""Redis CPU per score write: the two Lua scripts every write runs (the api's guard before the
commit, ``BoardStore.apply_total_and_publish`` after it), called as the api calls them against a
real redis-server, timed by Redis itself (``INFO commandstats``: microseconds of server CPU per
call, and the commands each script ran inside).

Redis is the one part every api replica shares: its CPU per write, not the api's, sets the
platform's write ceiling when the api scales out (docs/scaling.md).

    .venv/bin/python -m bench.redis_scripts [--writes 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from scoreboard_api.adapters.redis_side import RedisSide, fraud_key, upm_key
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.events import SCORE_CHANNEL, ScoreChanged, score_changed_template
from scoreboard_common.keys import BoardKeys
from scoreboard_devstack.servers import RedisServer

BOARD = "bench"
USERS = 200


async def _commandstats(redis: Redis) -> dict[str, dict[str, float]]:
    info: dict[str, Any] = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): stats for name, stats in info.items()}


async def _guard_calls(side: RedisSide, writes: int) -> None:
    """The guard script with the arguments the api sends (IP limit on, as in the chart)."""
    keys = BoardKeys(BOARD)
    now_ms = int(time.time() * 1000)
    for i in range(writes):
        user = f"user-{i % USERS}"
        await side._guard(
            keys=[
                keys.rate_limit("user", user),
                keys.rate_limit("ip", f"10.0.{i % 50}.0/24"),
                fraud_key(BOARD, user),
            ],
            args=[100000, 60, 100000, 60, "1", 5, now_ms + i, 50],
        )


async def _apply_calls(store: BoardStore, writes: int, totals: list[int]) -> None:
    """``apply_total_and_publish`` as the api calls it after a commit (no metadata); ``totals``
    carries on across calls, so every total grows (none refused as stale)."""
    for i in range(writes):
        user = i % USERS
        totals[user] += 5
        user_id = str(uuid.UUID(int=user + 1))
        event = ScoreChanged(
            board=BOARD,
            season=1,
            version=0,
            user_id=user_id,
            username=f"user-{user}",
            total=totals[user],
            rank=None,
            increment=5,
        )
        await store.apply_total_and_publish(
            BOARD,
            Standing(
                user_id=user_id,
                username=f"user-{user}",
                total=totals[user],
                reached_at=datetime.now(UTC),
            ),
            channel=SCORE_CHANNEL,
            template=score_changed_template(event),
            counter=(upm_key(BOARD), str(int(time.time() // 60)), 180),
        )


async def _measure(url: str, writes: int) -> dict[str, tuple[float, float]]:
    """script -> (µs of Redis CPU per call, commands run inside per call)."""
    redis = Redis.from_url(url)
    side, store = RedisSide(redis), BoardStore(redis)
    totals = [0] * USERS
    figures: dict[str, tuple[float, float]] = {}
    try:
        phases: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("guard", lambda: _guard_calls(side, writes)),
            ("apply", lambda: _apply_calls(store, writes, totals)),
        ]
        for name, calls in phases:
            await redis.flushall()
            await calls()  # warm: keys exist, scripts cached
            await redis.config_resetstat()
            await calls()
            stats = await _commandstats(redis)
            scripts = stats["evalsha"]
            inner = sum(
                s["calls"] for n, s in stats.items() if n not in ("evalsha", "config", "info")
            )
            figures[name] = (
                scripts["usec"] / scripts["calls"],
                inner / scripts["calls"],
            )
    finally:
        await redis.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        server = RedisServer(Path(root) / "redis", durable=False)
        server.start()
        try:
            rounds = [
                asyncio.run(_measure(server.url, options.writes)) for _ in range(options.rounds)
            ]
        finally:
            server.stop()
    print(f"Redis CPU per write, {options.writes} writes per script, median of {options.rounds}:")
    total = 0.0
    for name in ("guard", "apply"):
        usec = statistics.median(r[name][0] for r in rounds)
        commands = statistics.median(r[name][1] for r in rounds)
        total += usec
        print(f"  {name:6} {usec:6.2f} µs per call, {commands:4.1f} commands inside")
    print(f"  both   {total:6.2f} µs per write")


if __name__ == "__main__":
    main()
