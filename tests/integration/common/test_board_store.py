"""The Redis board store against a real Redis, and its tie order against a real PostgreSQL."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.ranking import Order, rank_key_sql
from scoreboard_common.redis_client import create_redis
from scoreboard_devstack.servers import PostgresServer, RedisClusterServer, RedisServer

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
async def store(redis: RedisServer | RedisClusterServer) -> AsyncIterator[BoardStore]:
    client: Redis = create_redis(redis.url)
    yield BoardStore(client)
    await client.aclose()


def board_name() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def standings_with_ties(count: int) -> list[Standing]:
    rng = random.Random(7)
    return [
        Standing(
            user_id=str(uuid.UUID(int=rng.getrandbits(128))),
            username=f"player{i}",
            total=rng.choice([10, 20, 20, 30, 2**53 - 1]),
            reached_at=T0 + timedelta(microseconds=rng.choice([0, 1, 5])),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_tie_order_matches_postgresql(
    store: BoardStore, postgres: PostgresServer, order: Order
) -> None:
    """Exact ties of score and reached_at (the user id decides), in both orders, in the order
    PostgreSQL's rank key gives (the same expression the api's queries and indexes use)."""
    board = board_name()
    standings = standings_with_ties(60)
    for standing in random.Random(1).sample(standings, len(standings)):
        await store.apply_total(board, standing, order=order)
    snapshot = await store.top(board, 100)
    assert [e.score for e in snapshot.entries] == sorted(
        (s.total for s in standings), reverse=order == "desc"
    )

    rows = ",".join(
        f"('{s.user_id}'::uuid, {s.total}, '{s.reached_at.isoformat()}'::timestamptz)"
        for s in standings
    )
    ordered = postgres.psql(
        "postgres",
        f"SELECT string_agg(user_id::text, ',' ORDER BY {rank_key_sql(order)}, reached_at, user_id) "
        f"FROM (VALUES {rows}) AS s(user_id, total, reached_at)",
    ).split(",")
    assert [entry.user_id for entry in snapshot.entries] == ordered
    assert [entry.rank for entry in snapshot.entries] == list(range(1, 61))
    assert snapshot.total_players == 60
    for entry in snapshot.entries[:5]:
        assert await store.standing_of(board, entry.user_id) == (entry.rank, entry.score)


async def test_stale_total_never_overwrites_newer(store: BoardStore) -> None:
    board = board_name()
    newer = Standing(user_id="u", username="u", total=50, reached_at=T0 + timedelta(seconds=2))
    older = Standing(user_id="u", username="u", total=40, reached_at=T0 + timedelta(seconds=1))
    first = await store.apply_total(board, newer)
    late = await store.apply_total(board, older)
    assert first.changed and not late.changed
    assert late.version == first.version
    assert await store.standing_of(board, "u") == (1, 50)


async def test_versions_only_grow_across_rebuild_and_removal(
    store: BoardStore, redis: RedisServer
) -> None:
    board = board_name()
    seen = [(await store.apply_total(board, s)).version for s in standings_with_ties(3)]
    seen.append(await store.remove_player(board, standings_with_ties(3)[0].user_id))
    seen.append(await store.replace_all(board, 2, standings_with_ties(5)))
    assert seen == sorted(set(seen)), seen
    snapshot = await store.top(board, 3)
    assert snapshot.season == 2 and snapshot.total_players == 5 and len(snapshot.entries) == 3
    assert await store.standing_of(board, "nobody") is None


async def test_a_write_counts_in_its_period_and_old_periods_go(store: BoardStore) -> None:
    """``apply_total_and_publish``'s counter: one field per period (the api's writes per
    minute), the periods no reader looks at dropped, the hash kept alive while written to."""
    board = board_name()
    counter_key = f"sb:{{{board}}}:upm"
    template = (b'{"version":', b',"rank":', b"}")
    first = 29_000_000
    for period in range(first, first + 4):
        for write in range(3):
            standing = Standing(user_id="u", username="u", total=10 * period + write, reached_at=T0)
            applied = await store.apply_total_and_publish(
                board,
                standing,
                channel=f"test:{board}",
                template=template,
                counter=(counter_key, str(period), 180),
            )
            assert applied.changed
    counts = await store.redis.hgetall(counter_key)
    assert counts == {str(first + 2).encode(): b"3", str(first + 3).encode(): b"3"}
    assert 0 < await store.redis.ttl(counter_key) <= 180
