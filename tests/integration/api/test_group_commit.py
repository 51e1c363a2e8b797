"""Group commit (issue 13): concurrent writes share one statement and one transaction, keep
their order per player, fail alone, and are answered only after their commit."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from scoreboard_api.adapters import pg_scores
from scoreboard_api.adapters.pg_scores import Committed, Committer
from scoreboard_api.adapters.postgres import Database
from scoreboard_api.adapters.redis_side import ScriptBatcher
from scoreboard_api.domain.errors import DomainError, Invalid
from scoreboard_api.domain.scoring import Write
from scoreboard_common.redis_client import create_redis
from scoreboard_devstack.servers import RedisServer

from tests.support.api import new_board_name
from tests.support.writes import increment_write

pytestmark = pytest.mark.integration


async def _connect(database_url: str) -> Database:
    return await Database.connect(
        database_url, min_size=1, max_size=2, command_timeout=30, connect_timeout=10
    )


def _batch_size_samples(stage: str) -> tuple[float, float]:
    """(batches, submissions) recorded so far by ``scoreboard_write_batch_size{stage}``."""
    labels = {"stage": stage}
    count = REGISTRY.get_sample_value("scoreboard_write_batch_size_count", labels) or 0.0
    total = REGISTRY.get_sample_value("scoreboard_write_batch_size_sum", labels) or 0.0
    return count, total


def _committed(outcome: Committed | DomainError) -> Committed:
    assert isinstance(outcome, Committed), outcome
    return outcome


def test_a_batch_applies_in_order_and_one_bad_submission_fails_alone(database_url: str) -> None:
    async def main() -> None:
        db = await _connect(database_url)
        try:
            board = new_board_name()
            a, b, c = (str(uuid.uuid4()) for _ in range(3))
            await pg_scores.submit_batch(db, [increment_write(board, b, 1, "b-0")])
            await db.pool.execute(
                "UPDATE scores SET total = 9007199254740990 WHERE board = $1 AND user_id = $2",
                board,
                b,
            )
            outcomes = await pg_scores.submit_batch(
                db,
                [
                    increment_write(board, a, 1, "a-1"),
                    increment_write(board, b, 5, "b-1"),  # above 2^53-1: refused alone
                    increment_write(board, a, 2, "a-2"),  # the same player again: after a-1
                    increment_write(board, c, 3, "c-1"),
                    increment_write(board, c, 3, "c-1"),  # a twin in the same batch: a replay
                    increment_write(board, b, 1, "b-2"),
                ],
            )
            assert len(outcomes) == 6
            assert _committed(outcomes[0]).total == 1
            assert isinstance(outcomes[1], Invalid) and outcomes[1].code == "total_overflow"
            assert _committed(outcomes[2]).total == 3
            assert not _committed(outcomes[3]).replayed
            assert _committed(outcomes[4]).replayed and _committed(outcomes[4]).total == 3
            assert _committed(outcomes[5]).total == 2**53 - 1
            stored = await db.pool.fetch(
                "SELECT action_id FROM score_events WHERE board = $1 ORDER BY id", board
            )
            assert [r["action_id"] for r in stored] == ["b-0", "a-1", "a-2", "c-1", "b-2"]
        finally:
            await db.close()

    asyncio.run(main())


def test_concurrent_writes_are_grouped_and_kept_in_arrival_order(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    real = pg_scores.submit_batch

    async def counting(
        db: Database, writes: Sequence[Write], connection: Any = None
    ) -> list[Committed | DomainError]:
        batches.append(len(writes))
        return await real(db, writes, connection)

    monkeypatch.setattr(pg_scores, "submit_batch", counting)

    async def main() -> None:
        db = await _connect(database_url)
        try:
            board = new_board_name()
            player = str(uuid.uuid4())
            committer = Committer(db, group=True, max_batch=64)
            before = _batch_size_samples("commit")
            results = await asyncio.gather(
                *(committer.submit(increment_write(board, player, 1, f"g-{i}")) for i in range(20))
            )
            assert [r.total for r in results] == list(range(1, 21))
            assert sum(batches) == 20
            assert len(batches) < 20  # grouped: fewer statements than writes
            # A lone write later is committed on its own, at once.
            lone = await committer.submit(increment_write(board, player, 1, "lone"))
            assert lone.total == 21
            assert batches[-1] == 1
            # Operators see the same batches: one observation per commit, of its size.
            count, total = _batch_size_samples("commit")
            assert (count - before[0], total - before[1]) == (len(batches), 21)
            # Switched off: one statement per write, same answers.
            single = Committer(db, group=False)
            assert (await single.submit(increment_write(board, player, 1, "single"))).total == 22
            assert (await single.submit(increment_write(board, player, 1, "single"))).replayed
            await committer.close()
        finally:
            await db.close()

    asyncio.run(main())


def test_concurrent_script_calls_share_a_pipeline_and_get_their_own_results(
    redis_url: str,
) -> None:
    async def main() -> None:
        redis = create_redis(redis_url)
        try:
            batcher = ScriptBatcher(redis)
            echo = redis.register_script("return tonumber(ARGV[1]) * 2")
            before = _batch_size_samples("redis")
            key = f"{{{new_board_name()}}}:k"
            results = await asyncio.gather(*(batcher.run(echo, [key], [i]) for i in range(20)))
            assert results == [2 * i for i in range(20)]
            count, total = _batch_size_samples("redis")
            if batcher.pipelined:
                # Calls made while none is in flight go together: fewer pipelines than calls.
                assert total - before[1] == 20
                assert 1 <= count - before[0] < 20
            else:  # Redis Cluster: each call on its own, no pipeline to measure
                assert (count, total) == before
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_script_batches_survive_a_redis_restart_and_a_stalled_redis_times_out(
    tmp_path: Path,
) -> None:
    """The batcher's own connection: a Redis restarted between two batches costs nothing (the
    dead connection fails before any reply, so the batch goes again on a new one, and the
    scripts are loaded again); an error reply fails its own call only; a Redis that stops
    answering fails the batch at the client's socket timeout, not later."""
    # One server of the test's own in every pass: on Redis Cluster calls are not batched.
    server = RedisServer(tmp_path / "redis", durable=False)
    server.start()

    async def main() -> None:
        redis = create_redis(server.url, socket_timeout=1.0)
        batcher = ScriptBatcher(redis)
        double = redis.register_script("return tonumber(ARGV[1]) * 2")
        fail = redis.register_script("return redis.error_reply('NOPE ' .. ARGV[1])")
        key = f"{{{new_board_name()}}}:k"
        try:
            doubled = await asyncio.gather(*(batcher.run(double, [key], [i]) for i in range(5)))
            assert doubled == [0, 2, 4, 6, 8]
            server.stop()
            server.start()
            mixed = await asyncio.gather(
                batcher.run(double, [key], [21]),
                batcher.run(fail, [key], ["x"]),
                batcher.run(double, [key], [4]),
                return_exceptions=True,
            )
            assert mixed[0] == 42 and mixed[2] == 8, mixed
            assert isinstance(mixed[1], ResponseError) and "NOPE x" in str(mixed[1])

            server.send_signal(signal.SIGSTOP)
            try:
                started = time.monotonic()
                with pytest.raises(RedisTimeoutError):
                    await batcher.run(double, [key], [1])
                # The 1 s deadline, with room for a slow machine.
                assert time.monotonic() - started < 10
            finally:
                server.send_signal(signal.SIGCONT)
            assert await batcher.run(double, [key], [3]) == 6  # a new connection after the timeout
        finally:
            await batcher.close()
            await redis.aclose()

    try:
        asyncio.run(main())
    finally:
        server.stop()
