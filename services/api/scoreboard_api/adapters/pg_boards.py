"""Board administration in PostgreSQL: create/update with generations, seasons, voids."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import get_args

import asyncpg
from scoreboard_common.board_store import Entry, decode_metadata
from scoreboard_common.policy import BoardSpec, decode_spec
from scoreboard_common.ranking import Order, rank_key_sql

from scoreboard_api.adapters import pg_webhooks
from scoreboard_api.adapters.postgres import Database, postgres_errors
from scoreboard_api.adapters.sealing import Sealer, UnsealError
from scoreboard_api.domain.errors import Conflict

ORDERS: tuple[Order, ...] = get_args(Order)
log = logging.getLogger("scoreboard.boards")


def scoring_change_refused(name: str, old: BoardSpec, new: BoardSpec) -> Conflict:
    return Conflict(
        f"board {name!r} has players in its current season: changing order "
        f"({old.order} -> {new.order}) or operator ({old.operator} -> {new.operator}) would "
        "re-rank scores that were counted another way; reset the season first (its standings "
        "are archived as they are) and apply the change to the empty new season",
        code="scoring_change_requires_reset",
    )


#: The columns of a :class:`BoardRow`, in every statement that returns one.
BOARD_COLUMNS = (
    "name, spec::text AS spec, generation, season, season_started_at, last_reset, "
    "signing_keys::text AS signing_keys"
)


@dataclass(frozen=True, slots=True)
class BoardRow:
    name: str
    spec_json: str
    generation: int
    season: int
    season_started_at: datetime
    last_reset: datetime | None
    # {key id: key} of the board's request signatures, as JSON; never returned by a read.
    signing_keys_json: str | None = field(default=None, repr=False)


def board_row(row: asyncpg.Record, sealer: Sealer) -> BoardRow:
    return BoardRow(
        name=row["name"],
        spec_json=row["spec"],
        generation=int(row["generation"]),
        season=int(row["season"]),
        season_started_at=row["season_started_at"],
        last_reset=row["last_reset"],
        signing_keys_json=_open_signing_keys(row["name"], row.get("signing_keys"), sealer),
    )


def _signing_keys_context(board: str) -> str:
    return f"leaderboards.signing_keys:{board}"


def seal_signing_keys(board: str, keys_json: str | None, sealer: Sealer) -> str | None:
    """The ``signing_keys`` column's value: the keys' JSON sealed, as a JSON string (or, with
    sealing off, the JSON object itself)."""
    if keys_json is None or not sealer.enabled:
        return keys_json
    return json.dumps(sealer.seal(keys_json, _signing_keys_context(board)))


def _sealed_text(stored: str) -> str | None:
    """The sealed value inside the column's JSON string; ``None`` for keys stored before
    sealing was on (the JSON object itself)."""
    return json.loads(stored) if stored.startswith('"') else None


def _open_signing_keys(board: str, stored: str | None, sealer: Sealer) -> str | None:
    sealed = None if stored is None else _sealed_text(stored)
    if sealed is None:
        return stored  # none, or stored before sealing was on: the JSON object itself
    return _open_sealed_keys(board, sealed, sealer)


def _open_sealed_keys(board: str, sealed: str, sealer: Sealer) -> str | None:
    try:
        return sealer.open(sealed, _signing_keys_context(board))
    except UnsealError as error:
        # Fail closed: the board takes no signed submission until its keys open again.
        log.error("signing keys of board %s not loaded: %s", board, error)
        return None


async def load_boards(db: Database) -> tuple[list[BoardRow], list[tuple[str, str]]]:
    with postgres_errors():
        async with db.pool.acquire() as connection:
            rows = await connection.fetch(
                f"SELECT {BOARD_COLUMNS} FROM leaderboards WHERE deleted_at IS NULL"  # noqa: S608
            )
            bans = await connection.fetch("SELECT board, user_id::text FROM player_bans")
    return [board_row(r, db.sealer) for r in rows], [(b["board"], b["user_id"]) for b in bans]


async def get_board(db: Database, name: str) -> BoardRow | None:
    with postgres_errors():
        row = await db.pool.fetchrow(
            f"SELECT {BOARD_COLUMNS} FROM leaderboards WHERE name = $1 AND deleted_at IS NULL",  # noqa: S608
            name,
        )
    return None if row is None else board_row(row, db.sealer)


@dataclass(frozen=True, slots=True)
class UpsertResult:
    board: BoardRow
    applied: bool  # False: the stored generation was newer, nothing changed
    created: bool


async def upsert_board(
    db: Database,
    name: str,
    spec_json: bytes,
    generation: int,
    owner_uid: str | None = None,
    signing_keys_json: str | None = None,
    webhook: pg_webhooks.Target | None = None,
) -> UpsertResult:
    """Create or update a board; when applied, its webhook target (kept apart from the spec,
    see migration 0005) is set or removed in the same transaction. A change of ``order`` or
    ``operator`` while the current season has players is refused (409
    ``scoring_change_requires_reset``): the stored scores were counted and ranked the old way."""
    async with db.transaction() as connection:
        before = await connection.fetchrow(
            "SELECT spec::text AS spec, season FROM leaderboards "
            "WHERE name = $1 AND deleted_at IS NULL FOR UPDATE",
            name,
        )
        row = await connection.fetchrow(
            f"""
            INSERT INTO leaderboards AS l (name, spec, generation, owner_uid, signing_keys)
            VALUES ($1, $2::jsonb, $3, $4, $5::jsonb)
            ON CONFLICT (name) DO UPDATE
                SET spec = EXCLUDED.spec, generation = EXCLUDED.generation,
                    signing_keys = EXCLUDED.signing_keys,
                    owner_uid = COALESCE(EXCLUDED.owner_uid, l.owner_uid),
                    updated_at = now(), deleted_at = NULL
                WHERE l.generation <= EXCLUDED.generation OR l.deleted_at IS NOT NULL
                   OR (EXCLUDED.owner_uid IS NOT NULL
                       AND l.owner_uid IS DISTINCT FROM EXCLUDED.owner_uid)
            RETURNING {BOARD_COLUMNS}, (xmax = 0) AS created
            """,  # noqa: S608
            name,
            spec_json.decode(),
            generation,
            owner_uid,
            seal_signing_keys(name, signing_keys_json, db.sealer),
        )
        if row is not None:
            if before is not None:
                old, new = decode_spec(before["spec"]), decode_spec(spec_json)
                if (old.order, old.operator) != (new.order, new.operator):
                    players = await connection.fetchval(
                        "SELECT EXISTS (SELECT 1 FROM scores WHERE board = $1 AND season = $2)",
                        name,
                        before["season"],
                    )
                    if players:
                        raise scoring_change_refused(name, old, new)  # rolls back
            await pg_webhooks.set_target(connection, name, webhook, db.sealer)
            return UpsertResult(
                board_row(row, db.sealer), applied=True, created=bool(row["created"])
            )
        stored = await connection.fetchrow(
            f"SELECT {BOARD_COLUMNS} FROM leaderboards WHERE name = $1",  # noqa: S608
            name,
        )
        assert stored is not None
        return UpsertResult(board_row(stored, db.sealer), applied=False, created=False)


async def ensure_board(db: Database, name: str, spec_json: bytes) -> bool:
    with postgres_errors():
        status = await db.pool.execute(
            "INSERT INTO leaderboards (name, spec) VALUES ($1, $2::jsonb) "
            "ON CONFLICT (name) DO NOTHING",
            name,
            spec_json.decode(),
        )
    return str(status).endswith(" 1")


_ARCHIVE_SQL: dict[Order, str] = {
    order: f"""
        INSERT INTO season_standings (board, season, rank, user_id, username, total, reached_at,
                                      metadata)
        SELECT board, season,
               row_number() OVER (ORDER BY {rank_key_sql(order)}, reached_at, user_id),
               user_id, username, total, reached_at, metadata
        FROM scores WHERE board = $1 AND season = $2
        ON CONFLICT DO NOTHING
        """  # noqa: S608 - the rank key is one of two constants
    for order in ORDERS
}
_SEASON_SQL: dict[Order, str] = {
    order: f"""
        INSERT INTO seasons (board, season, started_at, ended_at, players, top_score)
        SELECT $1, $2, $3, now(), count(*), COALESCE({"max" if order == "desc" else "min"}(total), 0)
        FROM scores WHERE board = $1 AND season = $2
        ON CONFLICT (board, season) DO NOTHING
        """  # noqa: S608 - max or min
    for order in ORDERS
}


async def _archive(
    connection: asyncpg.Connection, board: BoardRow, season: int, started: datetime
) -> None:
    """Archive the standings of ``season`` ranked by the board's order, with their metadata."""
    order = decode_spec(board.spec_json).order
    await connection.execute(_ARCHIVE_SQL[order], board.name, season)
    await connection.execute(
        _SEASON_SQL[order],
        board.name,
        season,
        started,
    )


async def reset_board(
    db: Database, name: str, new_season: int, keep: int, top: int = 10
) -> tuple[BoardRow, bool] | None:
    """Archive the current season and start ``new_season``. ``None`` when the board is unknown;
    ``(board, False)`` when ``new_season`` is not after the current one (idempotent no-op).
    A board with a webhook gets the season's delivery (its ``top`` standings) in the outbox,
    in this transaction."""
    async with db.transaction() as connection:
        row = await connection.fetchrow(
            f"SELECT {BOARD_COLUMNS} FROM leaderboards "  # noqa: S608
            "WHERE name = $1 AND deleted_at IS NULL FOR UPDATE",
            name,
        )
        if row is None:
            return None
        board = board_row(row, db.sealer)
        if new_season <= board.season:
            return board, False
        await _archive(connection, board, board.season, board.season_started_at)
        await pg_webhooks.enqueue_season_end(connection, name, board.season, top)
        await connection.execute(
            "DELETE FROM scores WHERE board = $1 AND season <= $2", name, board.season
        )
        updated = await connection.fetchrow(
            f"""
            UPDATE leaderboards SET season = $2, season_started_at = now(), last_reset = now(),
                                    updated_at = now()
            WHERE name = $1 RETURNING {BOARD_COLUMNS}
            """,  # noqa: S608
            name,
            new_season,
        )
        await connection.execute(
            """
            WITH kept AS (
                SELECT season FROM seasons WHERE board = $1 ORDER BY season DESC LIMIT $2
            )
            DELETE FROM season_standings
            WHERE board = $1 AND season NOT IN (SELECT season FROM kept)
            """,
            name,
            keep,
        )
        await connection.execute(
            """
            DELETE FROM seasons WHERE board = $1 AND season NOT IN (
                SELECT season FROM seasons WHERE board = $1 ORDER BY season DESC LIMIT $2)
            """,
            name,
            keep,
        )
        assert updated is not None
        return board_row(updated, db.sealer), True


async def delete_board(db: Database, name: str, *, archive: bool) -> BoardRow | None:
    async with db.transaction() as connection:
        row = await connection.fetchrow(
            f"SELECT {BOARD_COLUMNS} FROM leaderboards "  # noqa: S608
            "WHERE name = $1 AND deleted_at IS NULL FOR UPDATE",
            name,
        )
        if row is None:
            return None
        board = board_row(row, db.sealer)
        if archive:
            await _archive(connection, board, board.season, board.season_started_at)
        await connection.execute("DELETE FROM scores WHERE board = $1", name)
        await connection.execute(
            "UPDATE leaderboards SET deleted_at = now(), updated_at = now() WHERE name = $1", name
        )
        return board


async def void_player(
    db: Database,
    *,
    board: str,
    season: int,
    user_id: str,
    reason: str,
    ban: bool,
    actor: str,
    request_id: str | None,
) -> int | None:
    """Remove a player's current total (audited); ``None`` when there was nothing to void and no
    ban was asked for."""
    async with db.transaction() as connection:
        previous = await connection.fetchval(
            "DELETE FROM scores WHERE board = $1 AND season = $2 AND user_id = $3 RETURNING total",
            board,
            season,
            user_id,
        )
        if previous is None and not ban:
            return None
        if ban:
            await connection.execute(
                """
                INSERT INTO player_bans (board, user_id, reason) VALUES ($1, $2, $3)
                ON CONFLICT (board, user_id) DO UPDATE SET reason = EXCLUDED.reason
                """,
                board,
                user_id,
                reason,
            )
        await connection.execute(
            """
            INSERT INTO score_voids (board, season, user_id, previous_total, reason, banned, actor,
                                     request_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            board,
            season,
            user_id,
            int(previous or 0),
            reason,
            ban,
            actor,
            request_id,
        )
        return int(previous or 0)


async def fraud_event_counts(db: Database, board: str) -> tuple[int, int]:
    """``(all time, last hour)`` fraud events of a board."""
    with postgres_errors():
        row = await db.pool.fetchrow(
            """
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS recent
            FROM fraud_events WHERE board = $1
            """,
            board,
        )
    assert row is not None
    return int(row["total"]), int(row["recent"])


async def updates_last_minute(db: Database, board: str) -> int:
    with postgres_errors():
        value = await db.pool.fetchval(
            "SELECT count(*) FROM score_events WHERE board = $1 "
            "AND server_ts > now() - interval '1 minute'",
            board,
        )
    return int(value)


@dataclass(frozen=True, slots=True)
class SeasonRow:
    season: int
    started_at: datetime
    ended_at: datetime
    players: int
    top_score: int


async def list_seasons(db: Database, board: str) -> list[SeasonRow]:
    with postgres_errors():
        rows = await db.pool.fetch(
            "SELECT season, started_at, ended_at, players, top_score FROM seasons "
            "WHERE board = $1 ORDER BY season DESC",
            board,
        )
    return [SeasonRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def season_top(db: Database, board: str, season: int, limit: int) -> list[Entry] | None:
    with postgres_errors():
        async with db.pool.acquire() as connection:
            exists = await connection.fetchval(
                "SELECT 1 FROM seasons WHERE board = $1 AND season = $2", board, season
            )
            if exists is None:
                return None
            rows = await connection.fetch(
                "SELECT rank, user_id::text, username, total, reached_at, metadata::text "
                "FROM season_standings "
                "WHERE board = $1 AND season = $2 ORDER BY rank LIMIT $3",
                board,
                season,
                limit,
            )
    return [
        Entry(
            rank=r[0],
            user_id=r[1],
            username=r[2],
            score=r[3],
            last_updated=r[4],
            metadata=decode_metadata(r[5]),
        )
        for r in rows
    ]


async def reseal_signing_keys(db: Database) -> int:
    """Seal again, with the current key, every board's signing keys that are not sealed with
    it (stored before sealing was on, or under a key being rotated out); returns how many.
    Each row is replaced only if unchanged meanwhile, so replicas doing this at once agree."""
    sealer = db.sealer
    if not sealer.enabled:
        return 0
    with postgres_errors():
        rows = await db.pool.fetch(
            "SELECT name, signing_keys::text AS stored FROM leaderboards "
            "WHERE signing_keys IS NOT NULL"
        )
    resealed = 0
    for row in rows:
        name, stored = row["name"], row["stored"]
        sealed = _sealed_text(stored)
        if sealed is not None and not sealer.needs_resealing(sealed):
            continue
        keys_json = stored if sealed is None else _open_sealed_keys(name, sealed, sealer)
        if keys_json is None:
            continue  # does not open: logged, left as it is
        with postgres_errors():
            status = await db.pool.execute(
                "UPDATE leaderboards SET signing_keys = $2::jsonb "
                "WHERE name = $1 AND signing_keys::text = $3",
                name,
                seal_signing_keys(name, keys_json, sealer),
                stored,
            )
        resealed += str(status).endswith(" 1")
    return resealed
