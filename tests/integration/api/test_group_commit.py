"""Group commit (issue 13): concurrent writes share one statement and one transaction, keep
their order per player, fail alone, and are answered only after their commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from scoreboard_api.adapters import pg_scores
from scoreboard_api.adapters.pg_scores import Committed, Committer
from scoreboard_api.adapters.postgres import Database
from scoreboard_api.adapters.redis_side import ScriptBatcher
from scoreboard_api.domain.errors import DomainError, Invalid
from scoreboard_api.domain.scoring import Submission, Write
from scoreboard_common.redis_client import create_redis

from tests.support.api import new_board_name

pytestmark = pytest.mark.integration


def _write(board: str, user_id: str, points: int, action_id: str) -> Write:
    return Write(
        submission=Submission(
            action_id, datetime.now(UTC), None, points, user_id, board=board, client_ip="10.0.0.1"
        ),
        season=1,
        operator="increment",
        order="desc",
        value=points,
        points=points,
        metadata_json=None,
        username=None,
    )


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
            await pg_scores.submit_batch(db, [_write(board, b, 1, "b-0")])
            await db.pool.execute(
                "UPDATE scores SET total = 9007199254740990 WHERE board = $1 AND user_id = $2",
                board,
                b,
            )
            outcomes = await pg_scores.submit_batch(
                db,
                [
                    _write(board, a, 1, "a-1"),
                    _write(board, b, 5, "b-1"),  # above 2^53-1: refused alone
                    _write(board, a, 2, "a-2"),  # the same player again: after a-1
                    _write(board, c, 3, "c-1"),
                    _write(board, c, 3, "c-1"),  # a twin in the same batch: a replay
                    _write(board, b, 1, "b-2"),
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
                *(committer.submit(_write(board, player, 1, f"g-{i}")) for i in range(20))
            )
            assert [r.total for r in results] == list(range(1, 21))
            assert sum(batches) == 20
            assert len(batches) < 20  # grouped: fewer statements than writes
            # A lone write later is committed on its own, at once.
            lone = await committer.submit(_write(board, player, 1, "lone"))
            assert lone.total == 21
            assert batches[-1] == 1
            # Operators see the same batches: one observation per commit, of its size.
            count, total = _batch_size_samples("commit")
            assert (count - before[0], total - before[1]) == (len(batches), 21)
            # Switched off: one statement per write, same answers.
            single = Committer(db, group=False)
            assert (await single.submit(_write(board, player, 1, "single"))).total == 22
            assert (await single.submit(_write(board, player, 1, "single"))).replayed
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
