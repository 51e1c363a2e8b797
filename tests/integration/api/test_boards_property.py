"""Property-based: for every order x operator, random submission sequences (ties included) give
the same ranks in every read — top N, entries paged forward and back, around-player, lookup,
PostgreSQL's own queries (the fallback path) and a rebuild of Redis from PostgreSQL — and those
ranks are the ones a plain model of the rules computes.

Runs against the real api (HTTP), Redis and PostgreSQL. Submissions are sequential, so each
one's server time is later than the previous one's: "who reached the score first" is the order
of the steps. Exact ties of (score, reached_at) are covered by test_board_store.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scoreboard_api.adapters import pg_scores
from scoreboard_api.adapters.postgres import Database
from scoreboard_common.board_store import BoardStore, Entry, Page
from scoreboard_common.ranking import encode_score, guard_mode, to_micros
from scoreboard_common.redis_client import create_redis

from tests.support.api import make_board, new_action, now_iso
from tests.support.boards import walk_entries

COMBOS = [(o, p) for o in ("desc", "asc") for p in ("increment", "best", "latest")]
PLAYERS = [
    str(uuid.UUID(int=(i + 1) * 0x1111_1111_1111_4111_8111_1111_1111_1111 % 2**128))
    for i in range(6)
]
METADATA: list[dict[str, Any] | None] = [None, {"lap": 1}, {"car": "red", "splits": [1, 2]}]


@dataclass
class Row:
    user_id: str
    score: int
    step: int
    metadata: dict[str, Any] | None


def model(
    order: str, operator: str, steps: list[tuple[int, int, int]]
) -> tuple[list[Row], list[tuple[int, int]]]:
    """Expected standings by rank, and each submission's (new_total_score, increment)."""
    rows: dict[str, Row] = {}
    answers = []
    for step, (player, value, meta) in enumerate(steps):
        user, metadata = PLAYERS[player], METADATA[meta]
        old = rows.get(user)
        before = old.score if old else 0
        if old is None:
            rows[user] = Row(user, value, step, metadata)
        elif operator == "increment":
            rows[user] = Row(user, old.score + value, step, metadata)
        elif operator == "latest":
            rows[user] = Row(user, value, step if value != old.score else old.step, metadata)
        else:
            better = value > old.score if order == "desc" else value < old.score
            if better:
                rows[user] = Row(user, value, step, metadata)
        answers.append((rows[user].score, rows[user].score - before))
    ranked = sorted(
        rows.values(),
        key=lambda r: (encode_score(r.score, order), r.step, r.user_id),  # type: ignore[arg-type]
    )
    return ranked, answers


def steps_strategy(operator: str) -> st.SearchStrategy[list[tuple[int, int, int]]]:
    low = 1 if operator == "increment" else 0
    step = st.tuples(
        st.integers(0, len(PLAYERS) - 1),
        st.integers(low, low + 3),  # few values: many equal scores
        st.integers(0, len(METADATA) - 1),
    )
    return st.lists(step, min_size=1, max_size=14)


def brief(entries: list[Any]) -> list[tuple[int, str, int, Any]]:
    out = []
    for e in entries:
        if isinstance(e, Entry):
            out.append((e.rank, e.user_id, e.score, e.metadata))
        else:
            out.append((e["rank"], e["user_id"], e["score"], e["metadata"]))
    return out


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def backends(
    loop: asyncio.AbstractEventLoop, database_url: str, redis_url: str
) -> Iterator[tuple[Database, BoardStore]]:
    db = loop.run_until_complete(
        Database.connect(
            database_url, min_size=1, max_size=2, command_timeout=30, connect_timeout=10
        )
    )
    redis = create_redis(redis_url)
    yield db, BoardStore(redis)
    loop.run_until_complete(db.close())
    loop.run_until_complete(redis.aclose())


@pytest.mark.parametrize(("order", "operator"), COMBOS)
def test_every_read_agrees_on_every_rank(
    order: str,
    operator: str,
    client: httpx.Client,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
    loop: asyncio.AbstractEventLoop,
    backends: tuple[Database, BoardStore],
) -> None:
    db, store = backends

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,
    )
    @given(steps=steps_strategy(operator), page_size=st.integers(1, 4))
    def check(steps: list[tuple[int, int, int]], page_size: int) -> None:
        board = make_board(client, admin_headers, order=order, operator=operator, size=100)
        expected_rows, answers = model(order, operator, steps)
        for (player, value, meta), (new_total, increment) in zip(steps, answers, strict=True):
            body: dict[str, Any] = {
                "action_id": new_action(),
                "timestamp": now_iso(),
                "user_id": PLAYERS[player],
            }
            body["score_increment" if operator == "increment" else "score"] = value
            if METADATA[meta] is not None:
                body["metadata"] = METADATA[meta]
            answer = client.post(
                f"/api/v1/leaderboards/{board}/scores", json=body, headers=service_headers
            )
            assert answer.status_code == 200, answer.text
            got = answer.json()
            assert (got["new_total_score"], got["increment"]) == (new_total, increment)
        expected = [
            (rank, r.user_id, r.score, r.metadata) for rank, r in enumerate(expected_rows, 1)
        ]
        base = f"/api/v1/leaderboards/{board}"

        # Redis: top N, entries forward and back, around every player, lookup.
        top = client.get(f"{base}/top", params={"limit": 1000}).json()
        assert brief(top["entries"]) == expected
        assert top["total_players"] == len(expected)
        forward, backward = walk_entries(client, board, page_size)
        assert brief(forward) == expected
        assert brief(backward) == expected
        for rank, user_id, score, metadata in expected:
            around = client.get(f"{base}/players/{user_id}/around", params={"radius": 1}).json()
            assert around["rank"] == rank
            assert brief(around["entries"]) == expected[max(rank - 2, 0) : rank + 1]
            player = client.get(f"{base}/players/{user_id}").json()
            assert (player["rank"], player["score"], player["metadata"]) == (
                rank,
                score,
                metadata,
            )
        ids = [str(uuid.uuid4()), *reversed(PLAYERS)]
        lookup = client.post(f"{base}/players/lookup", json={"user_ids": ids}).json()
        assert brief(lookup["entries"]) == expected

        # PostgreSQL: the fallback path's own queries.
        async def from_postgres() -> None:
            season = top["season"]
            rows = await pg_scores.top(db, board, season, 1000, 0, order)  # type: ignore[arg-type]
            assert brief([s.entry(i) for i, s in enumerate(rows, 1)]) == expected
            looked = await pg_scores.lookup(db, board, season, PLAYERS, order)  # type: ignore[arg-type]
            assert brief([s.entry(rank) for rank, s in looked]) == expected
            for rank, user_id, score, _ in expected:
                assert await pg_scores.standing(db, board, season, user_id, order) == (  # type: ignore[arg-type]
                    rank,
                    score,
                    user_id,
                )
            # Keyset pages from PostgreSQL match Redis's from the same cursor keys.
            keys = [
                (e.score, to_micros(e.last_updated), e.user_id) for e in (s.entry(0) for s in rows)
            ]
            for key in keys:
                for kind in ("a", "A", "b", "B"):
                    redis_page: Page = await store.page(board, kind, key, page_size, order)  # type: ignore[arg-type]
                    pg_page = await pg_scores.page(db, board, season, kind, key, page_size, order)  # type: ignore[arg-type]
                    assert pg_page.start == redis_page.start
                    assert [s.user_id for s in pg_page.rows] == [
                        e.user_id for e in redis_page.entries
                    ]
            # A rebuild of Redis from PostgreSQL reproduces the same ranks, times and metadata.
            shadow = f"{board}-rebuilt"
            standings = await pg_scores.all_standings(db, board, season)
            await store.replace_all(
                shadow,
                season,
                standings,
                order=order,  # type: ignore[arg-type]
                guard=guard_mode(order, operator),  # type: ignore[arg-type]
            )
            live, rebuilt = await store.top(board, 1000), await store.top(shadow, 1000)
            assert rebuilt.entries == live.entries
            await store.redis.delete(
                *[
                    f"sb:{{{shadow}}}:{k}"
                    for k in ("rank", "member", "names", "meta", "rev", "version", "season")
                ]
            )

        loop.run_until_complete(from_postgres())

    check()
