"""Alembic environment: async, through SQLAlchemy's asyncpg dialect. The DSN in DATABASE_URL is
a plain ``postgresql://`` URL handed verbatim to asyncpg (so sslmode etc. keep working)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncpg
from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

_LOCK_ID = 0x5C0AEB0A4D  # advisory lock: concurrent `migrate` runs wait for each other


def _dsn() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
        context.run_migrations()


async def _main() -> None:
    dsn = _dsn()

    async def creator() -> Any:
        return await asyncpg.connect(dsn)

    engine = create_async_engine("postgresql+asyncpg://", async_creator=creator, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported; run `scoreboard-api migrate`")
asyncio.run(_main())
