"""Seed a board with N players in PostgreSQL and Redis, identically on both sides."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.redis_client import create_redis

from bench.stack import Stack, bench_user_id

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MODULUS = 1_000_003


def total_of(index: int) -> int:
    return (index * 7919) % MODULUS + 1


def seed_board(stack: Stack, board: str, players: int) -> None:
    stack.postgres.psql(
        stack.database,
        "INSERT INTO scores (board, season, user_id, username, total, reached_at, updated_at) "
        f"SELECT '{board}', 1, ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, "
        f"'player' || i, (i::bigint * 7919) % {MODULUS} + 1, "
        f"'{T0.isoformat()}'::timestamptz + make_interval(secs => i / 1000000.0), now() "
        f"FROM generate_series(1, {players}) AS i ON CONFLICT DO NOTHING",
    )
    standings = [
        Standing(
            user_id=bench_user_id(i),
            username=f"player{i}",
            total=total_of(i),
            reached_at=T0 + timedelta(microseconds=i),
        )
        for i in range(1, players + 1)
    ]

    async def write() -> None:
        client = create_redis(stack.redis.url, socket_timeout=120)
        try:
            await BoardStore(client).replace_all(board, 1, standings)
        finally:
            await client.aclose()

    asyncio.run(write())
