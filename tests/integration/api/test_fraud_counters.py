"""The write guard's fraud counters in Redis (``RedisSide.guard``): a player's points are counted
per minute (Redis's clock), the minutes no reader looks at any more are dropped, and the hash
lives while the player is active. The dropping and the expiry run on the minute's first write,
not on every write."""

from __future__ import annotations

import asyncio
import uuid

from scoreboard_api.adapters.redis_side import GuardResult, RedisSide, fraud_key
from scoreboard_api.domain.ratelimit import Limit
from scoreboard_common.redis_client import create_redis

from tests.support import wait_for
from tests.support.api import new_board_name
from tests.support.writes import increment_write

TTL_MS = 180_000  # the guard script's PEXPIRE


async def _guard(side: RedisSide, board: str, player: str, points: int) -> GuardResult:
    return await side.guard(
        increment_write(board, player, points),
        client_group=None,
        user_limit=Limit("user", 1000, 60),
        ip_limit=None,
        burst_window_ms=0,
    )


def _redis_seconds(redis_url: str) -> float:
    async def now() -> float:
        redis = create_redis(redis_url)
        try:
            seconds, micros = await redis.time()
            return seconds + micros / 1e6
        finally:
            await redis.aclose()

    return asyncio.run(now())


def test_old_minutes_are_dropped_on_a_minutes_first_write_only(redis_url: str) -> None:
    # Start well inside a minute (Redis's clock), so the test's writes all fall in one.
    wait_for(lambda: _redis_seconds(redis_url) % 60 < 40, 45, "the first 40 s of a minute")
    board, player = new_board_name(), str(uuid.uuid4())

    async def main() -> None:
        redis = create_redis(redis_url)
        side = RedisSide(redis)
        key = fraud_key(board, player)
        try:
            seconds, _ = await redis.time()
            minute = seconds // 60
            old = {f"{kind}{minute - back}": 5 for kind in "pr" for back in (1, 2, 3)}
            await redis.hset(key, mapping=old)
            await redis.pexpire(key, 10_000)

            first = await _guard(side, board, player, 7)
            assert first.allowed
            fields = {k.decode(): v.decode() for k, v in (await redis.hgetall(key)).items()}
            # The last minute stays (the sliding-minute reader weighs it); older ones go.
            assert fields[f"p{minute}"] == "7" and fields[f"p{minute - 1}"] == "5", fields
            assert f"r{minute - 1}" in fields
            assert not {f"{kind}{minute - back}" for kind in "pr" for back in (2, 3)} & set(fields)
            assert 10_000 < await redis.pttl(key) <= TTL_MS  # kept while the player is active

            # A second write in the same minute neither prunes nor re-expires.
            await redis.hset(key, f"p{minute - 3}", 1)
            await redis.pexpire(key, 5_000)
            second = await _guard(side, board, player, 2)
            assert second.allowed
            assert await redis.hget(key, f"p{minute}") == b"9"
            assert await redis.hget(key, f"p{minute - 3}") == b"1"
            assert 0 < await redis.pttl(key) <= 5_000  # not re-expired to 180 s
        finally:
            await side.batch.close()
            await redis.aclose()

    asyncio.run(main())
