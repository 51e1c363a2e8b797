"""Users and their refresh tokens in PostgreSQL: accounts, rotation within a token family,
and family revocation on reuse."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg

from scoreboard_api.adapters.postgres import Database, postgres_errors


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    username: str
    password_hash: str | None
    disabled: bool


RotateStatus = Literal["ok", "unknown", "reused", "revoked", "expired", "disabled"]


@dataclass(frozen=True, slots=True)
class RotateResult:
    status: RotateStatus
    user: UserRow | None = None
    family_id: str | None = None  # the session id (`sid`) of the token's family


async def store_refresh_token(
    db: Database, *, user_id: str, token_hash: bytes, ttl_seconds: int, family_id: str
) -> None:
    with postgres_errors():  # one statement: its own transaction, one round trip
        await db.pool.execute(
            """
            INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
            VALUES ($1, $2, $3, $4, $5)
            """,
            str(uuid.uuid4()),
            family_id,
            user_id,
            token_hash,
            datetime.now(UTC) + timedelta(seconds=ttl_seconds),
        )


async def rotate_refresh_token(
    db: Database, *, token_hash: bytes, new_hash: bytes, ttl_seconds: int
) -> RotateResult:
    """Consume a refresh token and store its successor in the same family.

    Presenting a token that was already rotated means it leaked: the whole family is revoked
    (committed) and the caller answers 401.
    """
    async with db.transaction() as connection:
        row = await connection.fetchrow(
            """
            SELECT t.id, t.family_id::text, t.rotated_at, t.revoked_at, t.expires_at,
                   u.id::text AS user_id, u.username, u.password_hash, u.disabled
            FROM refresh_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = $1
            FOR UPDATE OF t
            """,
            token_hash,
        )
        if row is None:
            return RotateResult("unknown")
        user = UserRow(row["user_id"], row["username"], row["password_hash"], row["disabled"])
        if row["revoked_at"] is not None:
            return RotateResult("revoked")
        if row["rotated_at"] is not None:
            await connection.execute(
                "UPDATE refresh_tokens SET revoked_at = now() "
                "WHERE family_id = $1 AND revoked_at IS NULL",
                row["family_id"],
            )
            return RotateResult("reused", family_id=row["family_id"])
        if row["expires_at"] <= datetime.now(UTC):
            return RotateResult("expired")
        if user.disabled:
            return RotateResult("disabled")
        await connection.execute(
            "UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", row["id"]
        )
        await connection.execute(
            """
            INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
            VALUES ($1, $2, $3, $4, $5)
            """,
            str(uuid.uuid4()),
            row["family_id"],
            user.id,
            new_hash,
            datetime.now(UTC) + timedelta(seconds=ttl_seconds),
        )
        return RotateResult("ok", user, family_id=row["family_id"])


async def revoke_family_of(db: Database, token_hash: bytes) -> str | None:
    """Revoke the family of a refresh token; returns its id (the session id), None if unknown."""
    async with db.transaction() as connection:
        family_id = await connection.fetchval(
            "SELECT family_id::text FROM refresh_tokens WHERE token_hash = $1", token_hash
        )
        if family_id is None:
            return None
        await connection.execute(
            "UPDATE refresh_tokens SET revoked_at = now() "
            "WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )
    return str(family_id)


async def purge_expired_refresh_tokens(db: Database, older_than_seconds: int) -> int:
    """Delete refresh tokens that expired more than ``older_than_seconds`` ago (they can no
    longer be used, and reuse detection only needs them while they could be)."""
    async with db.transaction() as connection:
        status = await connection.execute(
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
            datetime.now(UTC) - timedelta(seconds=older_than_seconds),
        )
    return int(str(status).split()[-1])


async def create_user(
    db: Database, username: str, password_hash: str, email: str | None = None
) -> str | None:
    """The new user's id; None when the name is taken, "" when the e-mail address is."""
    user_id = str(uuid.uuid4())
    with postgres_errors():
        try:
            await db.pool.execute(
                "INSERT INTO users (id, username, password_hash, email) VALUES ($1, $2, $3, $4)",
                user_id,
                username,
                password_hash,
                email,
            )
        except asyncpg.UniqueViolationError as error:
            return "" if error.constraint_name == "users_email_lower_key" else None
    return user_id


async def user_by_email(db: Database, email: str) -> UserRow | None:
    with postgres_errors():
        row = await db.pool.fetchrow(
            "SELECT id::text, username, password_hash, disabled FROM users "
            "WHERE lower(email) = lower($1)",
            email,
        )
    return None if row is None else UserRow(row[0], row[1], row[2], row[3])


async def user_by_name(db: Database, username: str) -> UserRow | None:
    with postgres_errors():
        row = await db.pool.fetchrow(
            "SELECT id::text, username, password_hash, disabled FROM users "
            "WHERE lower(username) = lower($1)",
            username,
        )
    return None if row is None else UserRow(row[0], row[1], row[2], row[3])


async def user_by_id(db: Database, user_id: str) -> UserRow | None:
    with postgres_errors():
        row = await db.pool.fetchrow(
            "SELECT id::text, username, password_hash, disabled FROM users WHERE id = $1",
            user_id,
        )
    return None if row is None else UserRow(row[0], row[1], row[2], row[3])


async def replace_password_hash(db: Database, user_id: str, old: str, new: str) -> bool:
    """Swap ``old`` for ``new`` unless the password changed meanwhile (then nothing happens)."""
    with postgres_errors():
        status = await db.pool.execute(
            "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
            user_id,
            old,
            new,
        )
    return str(status).endswith(" 1")


async def disabled_users(db: Database) -> set[str]:
    with postgres_errors():
        rows = await db.pool.fetch("SELECT id::text FROM users WHERE disabled")
    return {r["id"] for r in rows}


async def set_user_disabled(db: Database, user_id: str, disabled: bool) -> bool:
    async with db.transaction() as connection:
        status = await connection.execute(
            "UPDATE users SET disabled = $2 WHERE id = $1", user_id, disabled
        )
        if disabled:
            await connection.execute(
                "UPDATE refresh_tokens SET revoked_at = now() "
                "WHERE user_id = $1 AND revoked_at IS NULL",
                user_id,
            )
    return str(status).endswith(" 1")
