"""Standings in PostgreSQL: the write statement and every read of ``scores``.

The write path is one statement (:data:`SUBMIT_SCORE_SQL`), which is its own transaction:
the audit row in ``score_events`` and the running total in ``scores`` commit together or not at
all. ``bench/`` reuses the constant to compare with pgbench.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import asyncpg
from scoreboard_common.board_store import Standing
from scoreboard_common.ranking import (
    Order,
    encode_score,
    from_micros,
    rank_key_sql,
    to_micros,
)

from scoreboard_api.adapters.postgres import Database, postgres_errors
from scoreboard_api.domain.errors import DomainError, Invalid, Unavailable
from scoreboard_api.domain.scoring import Write
from scoreboard_api.metrics import DB_POOL_EXHAUSTED, WRITE_BATCH_SIZE

_COMMIT_BATCH_SIZE = WRITE_BATCH_SIZE.labels("commit")

log = logging.getLogger("scoreboard.postgres")

# $1 board, $2 action_id, $3 season, $4 user_id, $5 action, $6 increment (best/latest: the
# submitted score), $7 client timestamp, $8 client ip, $9 request id, $10 username (NULL: look it
# up, else the user id), $11 the board's operator, $12 its order, $13 metadata (JSON text or NULL).
# A new action changes the standing and writes the audit row; an action_id the player already
# used returns the stored row (replayed = true) and changes nothing. Action ids are scoped per
# board and player (migration 0003): another player's ids never replay or conflict. Two concurrent
# submissions of one new action_id: the loser fails on the unique (board, user_id, action_id)
# and the whole statement rolls back; the caller runs it again and gets the replay. The CHECK
# on scores.total refuses totals > 2^53-1.
# Operators: increment adds $6; latest replaces the score (reached_at moves only when the score
# changes: ties rank by who *set* the score first); best replaces it only when $6 is better by
# the board's order, otherwise the standing is left as it is (changed = false) and the audit row
# still records the submission. For best/latest the prior row is locked first (`prior`, forced
# before `upsert` by its FROM) so the reported increment is the change actually applied.
# updated_at strictly grows per standing: it is the revision that orders late Redis writes of
# latest boards (ranking.GuardMode).
SUBMIT_SCORE_SQL = """
WITH existing AS (
    SELECT user_id, action, increment, client_ts, new_total, season, score,
           metadata::text AS metadata
    FROM score_events WHERE board = $1 AND user_id = $4 AND action_id = $2
), prior AS (
    SELECT total, reached_at, username, metadata::text AS metadata, updated_at FROM scores
    WHERE $11::text <> 'increment' AND board = $1 AND season = $3 AND user_id = $4
      AND NOT EXISTS (SELECT 1 FROM existing)
    FOR UPDATE
), upsert AS (
    INSERT INTO scores AS s (board, season, user_id, username, total, reached_at, updated_at,
                             metadata)
    SELECT $1, $3, $4,
           COALESCE($10, (SELECT u.username FROM users u WHERE u.id = $4), $4::text),
           $6, clock_timestamp(), clock_timestamp(), $13::text::jsonb
    FROM (SELECT count(*) FROM prior) AS locked
    WHERE NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (board, season, user_id) DO UPDATE
        SET total = CASE WHEN $11::text = 'increment' THEN s.total + EXCLUDED.total
                         ELSE EXCLUDED.total END,
            reached_at = CASE WHEN $11::text = 'latest' AND s.total = EXCLUDED.total
                              THEN s.reached_at ELSE EXCLUDED.reached_at END,
            updated_at = GREATEST(EXCLUDED.updated_at, s.updated_at + interval '1 microsecond'),
            username = EXCLUDED.username,
            metadata = EXCLUDED.metadata
        WHERE $11::text <> 'best'
           OR ($12::text = 'desc' AND EXCLUDED.total > s.total)
           OR ($12::text = 'asc' AND EXCLUDED.total < s.total)
    RETURNING total, reached_at, username, metadata::text AS metadata, updated_at
), outcome AS (
    SELECT total, reached_at, username, metadata, updated_at, true AS changed FROM upsert
    UNION ALL
    SELECT total, reached_at, username, metadata, updated_at, false FROM prior
    WHERE NOT EXISTS (SELECT 1 FROM upsert)
), audit AS (
    INSERT INTO score_events (board, action_id, season, user_id, action, increment, new_total,
                              client_ts, server_ts, client_ip, request_id, score, metadata)
    SELECT $1, $2, $3, $4, $5,
           CASE WHEN $11::text = 'increment' THEN $6
                ELSE o.total - COALESCE((SELECT p.total FROM prior p), 0) END,
           o.total, $7, now(), $8, $9,
           CASE WHEN $11::text = 'increment' THEN NULL ELSE $6 END, $13::text::jsonb
    FROM outcome o
    RETURNING increment
)
SELECT false AS replayed, o.changed, o.total, o.reached_at, o.username, o.metadata,
       o.updated_at, $4::uuid AS user_id, $5::text AS action, a.increment,
       $7::timestamptz AS client_ts, $3::integer AS season, NULL::bigint AS score
FROM outcome o CROSS JOIN audit a
UNION ALL
SELECT true, false, e.new_total, NULL, NULL, e.metadata, NULL, e.user_id, e.action,
       e.increment, e.client_ts, e.season, e.score
FROM existing e
"""

ORDERS: tuple[Order, ...] = get_args(Order)
_COLUMNS = "user_id::text, username, total, reached_at, metadata::text AS metadata, updated_at"


def _by_order(template: str) -> dict[Order, str]:
    """``template`` for each order: ``{key}``/``{okey}``/``{skey}`` are the rank key (bare, of
    alias ``o.``, of alias ``s.``); ``{asc}``/``{desc}`` the ORDER BY of the board's order and
    its reverse."""
    out: dict[Order, str] = {}
    for order in ORDERS:
        key = rank_key_sql(order)
        out[order] = template.format(
            key=key,
            okey=rank_key_sql(order, "o."),
            skey=rank_key_sql(order, "s."),
            cols=_COLUMNS,
            asc=f"{key}, reached_at, user_id",
            desc=f"{key} DESC, reached_at DESC, user_id DESC",
        )
    return out


TOP_SQL = _by_order(
    """
SELECT {cols} FROM scores
WHERE board = $1 AND season = $2
ORDER BY {asc}
LIMIT $3 OFFSET $4
"""
)

COUNT_SQL = "SELECT count(*) FROM scores WHERE board = $1 AND season = $2"

STANDING_SQL = _by_order(
    """
SELECT s.total, s.reached_at, s.username, s.metadata::text AS metadata,
       1 + (SELECT count(*) FROM scores o
            WHERE o.board = $1 AND o.season = $2
              AND ({okey}, o.reached_at, o.user_id) < ({skey}, s.reached_at, s.user_id))
       AS rank
FROM scores s WHERE s.board = $1 AND s.season = $2 AND s.user_id = $3
"""
)

# Keyset pages: $3 rank key, $4 reached_at, $5 user id of the cursor; $6 the page size.
# PAGE_SQL: the rows after (a, A) or before (b, B, nearest first) the key; BELOW_SQL: how many
# rows rank before the page's first row (a: <= key, A: < key) or before the key (b: <, B: <=).
_PAGE = "SELECT {cols} FROM scores WHERE board = $1 AND season = $2 AND "
_KEY = "({key}, reached_at, user_id) "
_CURSOR = " ($3, $4, $5::uuid)"
_COUNT = "SELECT count(*) FROM scores WHERE board = $1 AND season = $2 AND "
PAGE_SQL: dict[tuple[Order, str], str] = {}
BELOW_SQL: dict[tuple[Order, str], str] = {}
for _kind, _page_op, _direction, _below_op in (
    ("a", ">", "{asc}", "<="),
    ("A", ">=", "{asc}", "<"),
    ("b", "<", "{desc}", "<"),
    ("B", "<=", "{desc}", "<="),
):
    _page = _by_order(f"{_PAGE}{_KEY}{_page_op}{_CURSOR} ORDER BY {_direction} LIMIT $6")
    _below = _by_order(f"{_COUNT}{_KEY}{_below_op}{_CURSOR}")
    for _order in ORDERS:
        PAGE_SQL[_order, _kind] = _page[_order]
        BELOW_SQL[_order, _kind] = _below[_order]

LOOKUP_SQL = _by_order(
    """
SELECT * FROM (
    SELECT {cols}, row_number() OVER (ORDER BY {asc}) AS rank
    FROM scores WHERE board = $1 AND season = $2
) ranked WHERE user_id = ANY($3::text[]) ORDER BY rank
"""
)

ALL_STANDINGS_SQL = _by_order("SELECT {cols} FROM scores WHERE board = $1 AND season = $2")["desc"]

UPDATED_SINCE_SQL = _by_order(
    "SELECT {cols} FROM scores WHERE board = $1 AND season = $2 AND updated_at >= $3"
)["desc"]


@dataclass(frozen=True, slots=True)
class Committed:
    """What the write statement returns: the new standing (``replayed`` false) or the stored
    first submission of a replayed action_id (``replayed`` true)."""

    replayed: bool
    total: int
    reached_at: datetime | None
    username: str | None
    user_id: str
    action: str | None
    increment: int
    client_ts: datetime
    season: int
    changed: bool = True  # False: a best submission that did not improve (or a replay)
    metadata: str | None = None  # the standing's (new) / the replayed submission's, JSON text
    revision: int = 0  # µs of the standing's updated_at (new submissions)
    score: int | None = None  # replays: the absolute score the first submission carried


@dataclass(frozen=True, slots=True)
class PageRows:
    """A keyset page from PostgreSQL: ``rows[0]`` has rank ``start + 1``."""

    start: int
    rows: list[Standing]
    total_players: int


def submit_args(write: Write) -> tuple[Any, ...]:
    """The parameters of :data:`SUBMIT_SCORE_SQL` for ``write``."""
    submission = write.submission
    return (
        submission.board,
        submission.action_id,
        write.season,
        submission.user_id,
        submission.action,
        write.value,
        submission.timestamp,
        submission.client_ip,
        submission.request_id,
        write.username,
        write.operator,
        write.order,
        write.metadata_json,
    )


def committed(row: Any, prefix: str = "") -> Committed:
    """A write's outcome from its row: the statement's columns, or a batch element's
    (``prefix="o_"``: the batch function's OUT columns)."""

    def col(name: str) -> Any:
        return row[prefix + name]

    return Committed(
        replayed=col("replayed"),
        total=col("total"),
        reached_at=col("reached_at"),
        username=col("username"),
        user_id=str(col("user_id")),
        action=col("action"),
        increment=col("increment"),
        client_ts=col("client_ts"),
        season=col("season"),
        changed=col("changed"),
        metadata=col("metadata"),
        revision=to_micros(col("updated_at")) if col("updated_at") else 0,
        score=col("score"),
    )


async def submit_score(db: Database, write: Write) -> Committed:
    """Run the write statement (its own transaction) for one submission."""
    args = submit_args(write)
    with postgres_errors():
        for _attempt in range(5):
            try:
                row = await db.pool.fetchrow(SUBMIT_SCORE_SQL, *args)
            except asyncpg.UniqueViolationError:
                continue  # a concurrent twin won; run again to read its result
            except asyncpg.CheckViolationError as error:
                raise Invalid("the total would exceed 2^53-1", code="total_overflow") from error
            if row is None:
                continue
            return committed(row)
    raise Unavailable("postgres")


# ---- group commit -------------------------------------------------------------------------

# The write statement's parameters, in order ($1..$13), and their types.
_PARAMETER_TYPES = (
    "text",  # board
    "text",  # action_id
    "integer",  # season
    "uuid",  # user_id
    "text",  # action
    "bigint",  # value: increment, or the absolute score
    "timestamptz",  # client timestamp
    "inet",  # client ip
    "text",  # request id
    "text",  # username
    "text",  # operator
    "text",  # order
    "text",  # metadata JSON
)
_OUTCOME = (
    ("replayed", "boolean"),
    ("changed", "boolean"),
    ("total", "bigint"),
    ("reached_at", "timestamptz"),
    ("username", "text"),
    ("metadata", "text"),
    ("updated_at", "timestamptz"),
    ("user_id", "uuid"),
    ("action", "text"),
    ("increment", "bigint"),
    ("client_ts", "timestamptz"),
    ("season", "integer"),
    ("score", "bigint"),
)


def batch_function_sql() -> str:
    """``score_submit_batch``: :data:`SUBMIT_SCORE_SQL` for each element of 13 parallel arrays,
    in array order, in the caller's one transaction. Each submission runs in its own
    subtransaction (a savepoint): a unique violation (a concurrent twin committed the same
    action_id first) or a deadlock is retried (up to 5 times, then ``o_error = 'retry'``), a check
    violation (total > 2^53-1) gives ``o_error = 'total_overflow'`` and any other error its
    SQLSTATE, without failing the other submissions. One row per submission, in order.

    The migration that creates it holds a frozen copy of this text (a unit test compares them):
    a change to the write statement needs a new migration."""
    body = re.sub(r"\$(\d+)", lambda m: f"p{m.group(1)}", SUBMIT_SCORE_SQL.strip())
    arrays = ", ".join(f"a{i} {kind}[]" for i, kind in enumerate(_PARAMETER_TYPES, 1))
    outputs = ", ".join(f"o_{name} {kind}" for name, kind in _OUTCOME)
    declares = "\n".join(f"    p{i} {kind};" for i, kind in enumerate(_PARAMETER_TYPES, 1))
    assigns = "\n".join(f"        p{i} := a{i}[i];" for i in range(1, len(_PARAMETER_TYPES) + 1))
    into = ", ".join(f"o_{name}" for name, _ in _OUTCOME)
    statement = "\n".join(f"                {line}" if line else "" for line in body.splitlines())
    return f"""CREATE OR REPLACE FUNCTION score_submit_batch({arrays})
RETURNS TABLE (o_error text, {outputs})
LANGUAGE plpgsql AS $function$
DECLARE
{declares}
BEGIN
    FOR i IN 1 .. coalesce(array_length(a1, 1), 0) LOOP
{assigns}
        o_error := 'retry';
        FOR attempt IN 1 .. 5 LOOP
            BEGIN
{statement}
                INTO {into};
                IF FOUND THEN
                    o_error := NULL;
                    EXIT;
                END IF;
            EXCEPTION
                WHEN unique_violation OR deadlock_detected THEN
                    o_error := 'retry';
                WHEN check_violation THEN
                    o_error := 'total_overflow';
                    EXIT;
                WHEN others THEN
                    o_error := SQLSTATE;
                    EXIT;
            END;
        END LOOP;
        RETURN NEXT;
    END LOOP;
END
$function$"""


# Sent as text, cast by PostgreSQL: asyncpg would build an ``ipaddress`` object per address
# (~3 µs a write); the addresses are the middleware's, already parsed once.
_SENT_AS_TEXT = frozenset({"inet"})
_BATCH_ARGUMENTS = ", ".join(
    f"${i}::text[]::{kind}[]" if kind in _SENT_AS_TEXT else f"${i}::{kind}[]"
    for i, kind in enumerate(_PARAMETER_TYPES, 1)
)
#: Many submissions in one statement (see :func:`batch_function_sql`).
SUBMIT_SCORE_BATCH_SQL = f"SELECT * FROM score_submit_batch({_BATCH_ARGUMENTS})"  # noqa: S608


async def submit_batch(
    db: Database, writes: Sequence[Write], connection: asyncpg.Connection | None = None
) -> list[Committed | DomainError]:
    """Commit ``writes`` in one statement and one transaction, in order; one outcome each: the
    committed row, or the domain error of that submission alone. A failure of the statement
    itself (PostgreSQL lost) raises for all. ``connection``: run on it (the committer's own)
    rather than on a pooled one."""
    columns: list[list[Any]] = [[] for _ in _PARAMETER_TYPES]
    for write in writes:
        for column, value in zip(columns, submit_args(write), strict=True):
            column.append(value)
    with postgres_errors():
        if connection is None:
            rows = await db.pool.fetch(SUBMIT_SCORE_BATCH_SQL, *columns)
        else:
            rows = await connection.fetch(SUBMIT_SCORE_BATCH_SQL, *columns)
    return [_batch_outcome(row) for row in rows]


def _batch_outcome(row: Any) -> Committed | DomainError:
    error = row["o_error"]
    if error is None:
        return committed(row, "o_")
    if error == "total_overflow":
        return Invalid("the total would exceed 2^53-1", code="total_overflow")
    if error.startswith("22"):  # data exception: a value PostgreSQL refuses
        return Invalid(f"invalid value (SQLSTATE {error})")
    log.warning("a grouped submission failed: %s", error)
    return Unavailable("postgres")


class Committer:
    """Commits the service's writes. With ``group`` (``GROUP_COMMIT``, on by default) the writes
    that arrive while a commit is in flight wait for it to return and then go together, up to
    ``max_batch``, in one :func:`submit_batch` (one statement, one transaction): no timer, so a
    lone write is committed at once. Every write is answered only after its own commit. Writes of
    one player keep their arrival order; the batch is sorted by (board, player) so concurrent
    batches (other replicas) lock standings in the same order. A write still queued after
    ``queue_timeout`` (the pool's acquire timeout: the commit in flight is stuck) fails fast
    with :class:`Unavailable`, like a request that gets no pooled connection. Without
    ``group``, each write is its own :func:`submit_score`."""

    def __init__(
        self,
        db: Database,
        *,
        group: bool = True,
        max_batch: int = 64,
        queue_timeout: float | None = None,
    ) -> None:
        self.db = db
        self.group = group
        self.max_batch = max_batch
        self.queue_timeout = db.pool.acquire_timeout if queue_timeout is None else queue_timeout
        self._queue: list[_Queued] = []
        self._drainer: asyncio.Task[None] | None = None
        # The committer's own connection, kept between batches: no pool acquire and no
        # `RESET ALL` round trip on release per batch (a statement in autocommit leaves nothing
        # to reset). Given back to the pool, which resets or replaces it, after any failure.
        self._connection: Any = None

    async def close(self) -> None:
        """Give the held connection back (before the pool closes: it waits for it); at
        shutdown, after the commit in flight (if any) has returned."""
        drainer = self._drainer
        if drainer is not None and drainer is not asyncio.current_task():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(drainer), 5)
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await self.db.pool.give_back(connection)

    async def submit(self, write: Write) -> Committed:
        if not self.group:
            return await submit_score(self.db, write)
        loop = asyncio.get_running_loop()
        queued = _Queued(write, loop.create_future())
        queued.timer = loop.call_later(self.queue_timeout, self._expire, queued)
        self._queue.append(queued)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await queued.future

    def _expire(self, queued: _Queued) -> None:
        if queued in self._queue:  # never taken into a commit: nothing was written
            self._queue.remove(queued)
            DB_POOL_EXHAUSTED.inc()
            if not queued.future.done():
                queued.future.set_exception(Unavailable("postgres"))

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                for queued in batch:
                    if queued.timer is not None:
                        queued.timer.cancel()
                await self._flush(batch)
        finally:
            self._drainer = None

    async def _flush(self, batch: list[_Queued]) -> None:
        _COMMIT_BATCH_SIZE.observe(len(batch))
        # Stable: a player's writes stay in arrival order.
        batch.sort(key=lambda queued: (queued.write.board, queued.write.user_id))
        try:
            with postgres_errors():
                if self._connection is None:
                    self._connection = await self.db.pool.hold()
            try:
                outcomes = await submit_batch(
                    self.db, [queued.write for queued in batch], self._connection
                )
            except BaseException:
                await self.close()
                raise
        except Exception as error:  # the statement failed: no write of the batch committed
            for queued in batch:
                if not queued.future.done():
                    queued.future.set_exception(
                        Unavailable("postgres") if isinstance(error, Unavailable) else error
                    )
            return
        except BaseException:
            for queued in batch:
                if not queued.future.done():
                    queued.future.set_exception(Unavailable("postgres"))
            raise
        for queued, outcome in zip(batch, outcomes, strict=True):
            if queued.future.done():  # the request went away; its write is committed all the same
                continue
            if isinstance(outcome, DomainError):
                queued.future.set_exception(outcome)
            else:
                queued.future.set_result(outcome)


@dataclass(eq=False, slots=True)
class _Queued:
    write: Write
    future: asyncio.Future[Committed]
    timer: asyncio.TimerHandle | None = None


async def top(
    db: Database, board: str, season: int, limit: int, offset: int = 0, order: Order = "desc"
) -> list[Standing]:
    with postgres_errors():
        rows = await db.pool.fetch(TOP_SQL[order], board, season, limit, offset)
    return [_standing(r) for r in rows]


async def page(
    db: Database,
    board: str,
    season: int,
    kind: str,
    key: tuple[int, int, str] | None,
    limit: int,
    order: Order = "desc",
) -> PageRows:
    """A keyset page (see ``BoardStore.page`` for ``kind``), its start and the player
    count, read from one snapshot."""
    with postgres_errors():
        async with (
            db.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            total = int(await connection.fetchval(COUNT_SQL, board, season))
            if kind == "first" or key is None:
                rows = await connection.fetch(TOP_SQL[order], board, season, limit, 0)
                return PageRows(0, [_standing(r) for r in rows], total)
            score, micros, user_id = key
            cursor = (encode_score(score, order), from_micros(micros), user_id)
            below = int(await connection.fetchval(BELOW_SQL[order, kind], board, season, *cursor))
            rows = await connection.fetch(PAGE_SQL[order, kind], board, season, *cursor, limit)
    standings = [_standing(r) for r in rows]
    if kind in ("b", "B"):
        standings.reverse()
        return PageRows(below - len(standings), standings, total)
    return PageRows(below, standings, total)


async def lookup(
    db: Database, board: str, season: int, user_ids: list[str], order: Order = "desc"
) -> list[tuple[int, Standing]]:
    """``(rank, standing)`` of those of ``user_ids`` with a standing, by rank."""
    with postgres_errors():
        rows = await db.pool.fetch(LOOKUP_SQL[order], board, season, user_ids, timeout=60)
    return [(int(r["rank"]), _standing(r)) for r in rows]


async def count_players(db: Database, board: str, season: int) -> int:
    with postgres_errors():
        return int(await db.pool.fetchval(COUNT_SQL, board, season))


async def standing(
    db: Database, board: str, season: int, user_id: str, order: Order = "desc"
) -> tuple[int, int, str] | None:
    """``(rank, total, username)`` from PostgreSQL (fallback path)."""
    found = await standing_entry(db, board, season, user_id, order)
    if found is None:
        return None
    rank, standing = found
    return rank, standing.total, standing.username


async def standing_entry(
    db: Database, board: str, season: int, user_id: str, order: Order = "desc"
) -> tuple[int, Standing] | None:
    """``(rank, standing)`` from PostgreSQL (fallback path)."""
    with postgres_errors():
        row = await db.pool.fetchrow(STANDING_SQL[order], board, season, user_id)
    if row is None:
        return None
    return int(row["rank"]), Standing(
        user_id=user_id,
        username=row["username"],
        total=int(row["total"]),
        reached_at=row["reached_at"],
        metadata=row["metadata"],
    )


async def all_standings(db: Database, board: str, season: int) -> list[Standing]:
    with postgres_errors():
        rows = await db.pool.fetch(ALL_STANDINGS_SQL, board, season, timeout=60)
    return [_standing(r) for r in rows]


async def standings_updated_since(
    db: Database, board: str, season: int, since: datetime
) -> list[Standing]:
    with postgres_errors():
        rows = await db.pool.fetch(UPDATED_SINCE_SQL, board, season, since)
    return [_standing(r) for r in rows]


async def board_totals(
    db: Database, board: str, season: int, order: Order = "desc"
) -> tuple[int, int]:
    """``(players, top score)`` from PostgreSQL (the top score is the best by ``order``)."""
    best = "max" if order == "desc" else "min"
    with postgres_errors():
        row = await db.pool.fetchrow(
            f"""
            SELECT count(*) AS players, COALESCE({best}(total), 0) AS top
            FROM scores WHERE board = $1 AND season = $2
            """,  # noqa: S608 - `best` is one of two constants
            board,
            season,
        )
    assert row is not None
    return int(row["players"]), int(row["top"])


async def record_fraud(
    db: Database,
    *,
    board: str,
    user_id: str,
    hits: list[tuple[str, str, str]],
    action_id: str | None,
    client_ip: str | None,
    request_id: str | None,
) -> None:
    with postgres_errors():
        await db.pool.executemany(
            """
            INSERT INTO fraud_events (board, user_id, rule, action, detail, action_id,
                                      client_ip, request_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            [
                (board, user_id, rule, action, detail, action_id, client_ip, request_id)
                for rule, action, detail in hits
            ],
        )


def _standing(row: asyncpg.Record) -> Standing:
    return Standing(
        user_id=row["user_id"],
        username=row["username"],
        total=int(row["total"]),
        reached_at=row["reached_at"],
        metadata=row["metadata"],
        revision=to_micros(row["updated_at"]),
    )
