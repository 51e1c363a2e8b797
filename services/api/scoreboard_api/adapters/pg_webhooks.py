"""Season webhooks in PostgreSQL: each board's target and the delivery outbox.

The outbox row is written by :func:`enqueue_season_end` inside the reset's transaction, so a
season is archived and its delivery recorded together or not at all. Workers claim due rows with
``FOR UPDATE SKIP LOCKED`` and push ``next_attempt_at`` forward by a lease before sending, so
no transaction stays open during the HTTP call and a replica that dies mid-attempt only delays
the row by the lease; all state (attempts, next attempt, last error) lives in the row.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import msgspec
from scoreboard_common.board_store import Entry

from scoreboard_api.adapters.postgres import Database, postgres_errors
from scoreboard_api.adapters.sealing import Sealer, UnsealError
from scoreboard_api.domain.webhooks import NextState, Status, delivery_id

log = logging.getLogger("scoreboard.webhooks")


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    secret: str


def _secret_context(board: str) -> str:
    return f"board_webhooks.secret:{board}"


def _target(
    board: str, url: str | None, stored_secret: str | None, sealer: Sealer
) -> Target | None:
    if url is None or stored_secret is None:
        return None
    return Target(url, sealer.open(stored_secret, _secret_context(board)))


async def set_target(
    connection: asyncpg.Connection, board: str, target: Target | None, sealer: Sealer
) -> None:
    """Store (or, with ``None``, remove) a board's webhook target (inside the PUT's transaction);
    the secret sealed (see ``sealing``)."""
    if target is None:
        await connection.execute("DELETE FROM board_webhooks WHERE board = $1", board)
        return
    # A sealed value differs at every sealing (a fresh nonce), so "unchanged" is judged on the
    # opened secret: an admin PUT that repeats the board's webhook writes nothing.
    current = await connection.fetchrow(
        "SELECT url, secret FROM board_webhooks WHERE board = $1 FOR UPDATE", board
    )
    if current is not None and _unchanged(current["url"], current["secret"], board, target, sealer):
        return
    await connection.execute(
        """
        INSERT INTO board_webhooks (board, url, secret) VALUES ($1, $2, $3)
        ON CONFLICT (board) DO UPDATE
            SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = now()
        """,
        board,
        target.url,
        sealer.seal(target.secret, _secret_context(board)),
    )


def _unchanged(url: str, stored: str, board: str, target: Target, sealer: Sealer) -> bool:
    """Whether the stored target is ``target``, sealed with the current key."""
    if url != target.url or sealer.needs_resealing(stored):
        return False
    try:
        return hmac.compare_digest(
            sealer.open(stored, _secret_context(board)).encode(), target.secret.encode()
        )
    except UnsealError:
        return False  # does not open here: replaced by the one given


class SeasonEnd(msgspec.Struct, kw_only=True):
    """The body POSTed to the receiver (DESIGN §3)."""

    board: str
    season: int
    started_at: datetime
    ended_at: datetime
    total_players: int
    standings: list[Entry]


_encoder = msgspec.json.Encoder()


async def enqueue_season_end(
    connection: asyncpg.Connection, board: str, season: int, top: int
) -> bool:
    """Record the delivery of ``season``'s end (after :func:`pg_boards._archive` in the same
    transaction). Nothing when the board has no webhook; nothing new when the delivery exists
    (its id is unique). The body is encoded once here: every attempt sends the same bytes."""
    has_target = await connection.fetchval("SELECT 1 FROM board_webhooks WHERE board = $1", board)
    if has_target is None:
        return False
    archived = await connection.fetchrow(
        "SELECT started_at, ended_at, players FROM seasons WHERE board = $1 AND season = $2",
        board,
        season,
    )
    if archived is None:
        return False
    rows = await connection.fetch(
        "SELECT rank, user_id::text, username, total, reached_at FROM season_standings "
        "WHERE board = $1 AND season = $2 ORDER BY rank LIMIT $3",
        board,
        season,
        top,
    )
    body = SeasonEnd(
        board=board,
        season=season,
        started_at=archived["started_at"],
        ended_at=archived["ended_at"],
        total_players=int(archived["players"]),
        standings=[
            Entry(rank=r[0], user_id=r[1], username=r[2], score=int(r[3]), last_updated=r[4])
            for r in rows
        ],
    )
    status = await connection.execute(
        """
        INSERT INTO webhook_deliveries (id, board, season, payload) VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING
        """,
        delivery_id(board, season),
        board,
        season,
        _encoder.encode(body).decode(),
    )
    return str(status).endswith(" 1")


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    board: str
    payload: bytes
    attempts: int  # before this attempt
    created_at: datetime
    target: Target | None  # None: the board no longer has a webhook


async def claim_due(db: Database, *, limit: int, lease_seconds: float) -> list[Claimed]:
    """Up to ``limit`` due pending deliveries, leased to this worker for ``lease_seconds``
    (other replicas skip locked rows and, after the update, see them as not yet due)."""
    with postgres_errors():
        rows = await db.pool.fetch(
            """
            WITH due AS (
                SELECT id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE webhook_deliveries d
               SET next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
              FROM due
             WHERE d.id = due.id
            RETURNING d.id, d.board, d.payload, d.attempts, d.created_at,
                      (SELECT w.url FROM board_webhooks w WHERE w.board = d.board) AS url,
                      (SELECT w.secret FROM board_webhooks w WHERE w.board = d.board) AS secret
            """,
            limit,
            float(lease_seconds),
        )
    claimed = []
    for r in rows:
        try:
            target = _target(r["board"], r["url"], r["secret"], db.sealer)
        except UnsealError as error:
            # Left pending: it is claimed again after the lease, once the key is back.
            log.error("webhook secret of board %s does not open: %s", r["board"], error)
            continue
        claimed.append(
            Claimed(
                id=r["id"],
                board=r["board"],
                payload=r["payload"].encode(),
                attempts=int(r["attempts"]),
                created_at=r["created_at"],
                target=target,
            )
        )
    return claimed


async def record_attempt(
    db: Database, delivery: str, state: NextState, status_code: int | None
) -> None:
    """Write one attempt's result: attempts + 1 and the new state."""
    with postgres_errors():
        await db.pool.execute(
            """
            UPDATE webhook_deliveries
               SET attempts = attempts + 1,
                   status = $2,
                   next_attempt_at = COALESCE($3, next_attempt_at),
                   last_error = $4,
                   last_status = $5,
                   delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END,
                   updated_at = now()
             WHERE id = $1 AND status = 'pending'
            """,
            delivery,
            state.status,
            state.next_attempt_at,
            state.last_error,
            status_code,
        )


async def now(db: Database) -> datetime:
    """The database's clock (the one ``created_at`` and ``next_attempt_at`` are measured on)."""
    with postgres_errors():
        value: datetime = await db.pool.fetchval("SELECT now()")
    return value


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_age_seconds: float


async def backlog(db: Database) -> Backlog:
    with postgres_errors():
        row = await db.pool.fetchrow(
            """
            SELECT count(*) AS pending,
                   COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS age
            FROM webhook_deliveries WHERE status = 'pending'
            """
        )
    assert row is not None
    return Backlog(int(row["pending"]), float(row["age"]))


@dataclass(frozen=True, slots=True)
class DeliveryState:
    id: str
    season: int
    status: Status
    attempts: int
    last_error: str | None
    last_status: int | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


async def last_delivery(db: Database, board: str) -> tuple[Target | None, DeliveryState | None]:
    """``(the board's webhook target, its latest delivery)``."""
    with postgres_errors():
        async with db.pool.acquire() as connection:
            configured = await connection.fetchrow(
                "SELECT url, secret FROM board_webhooks WHERE board = $1", board
            )
            row = await connection.fetchrow(
                """
                SELECT id, season, status, attempts, last_error, last_status, created_at,
                       next_attempt_at, delivered_at
                FROM webhook_deliveries WHERE board = $1
                ORDER BY created_at DESC, season DESC LIMIT 1
                """,
                board,
            )
    target = None
    if configured is not None:
        try:
            target = _target(board, configured["url"], configured["secret"], db.sealer)
        except UnsealError as error:
            # Reported with a fingerprint that matches nothing: the operator's drift check
            # puts the secret again, sealed with a key this api has.
            log.error("webhook secret of board %s does not open: %s", board, error)
            target = Target(configured["url"], "")
    if row is None:
        return target, None
    return target, DeliveryState(
        id=row["id"],
        season=int(row["season"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        last_status=row["last_status"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "pending" else None,
        delivered_at=row["delivered_at"],
    )


async def reseal_secrets(db: Database) -> int:
    """Seal again, with the current key, every webhook secret that is not sealed with it; as
    ``pg_boards.reseal_signing_keys``."""
    sealer = db.sealer
    if not sealer.enabled:
        return 0
    with postgres_errors():
        rows = await db.pool.fetch("SELECT board, secret FROM board_webhooks")
    resealed = 0
    for row in rows:
        board, stored = row["board"], row["secret"]
        if not sealer.needs_resealing(stored):
            continue
        try:
            secret = sealer.open(stored, _secret_context(board))
        except UnsealError as error:
            log.error("webhook secret of board %s does not open: %s", board, error)
            continue
        with postgres_errors():
            status = await db.pool.execute(
                "UPDATE board_webhooks SET secret = $2 WHERE board = $1 AND secret = $3",
                board,
                sealer.seal(secret, _secret_context(board)),
                stored,
            )
        resealed += str(status).endswith(" 1")
    return resealed
