"""The api's PostgreSQL pool: a released connection costs no reset round trip, and an open
transaction is still rolled back before the next user gets the connection."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from scoreboard_api.adapters.postgres import Database

pytestmark = pytest.mark.integration


async def _last_statement(observer: asyncpg.Connection, backend: int) -> str:
    """What the backend ran last, as pg_stat_activity shows it."""
    return str(
        await observer.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", backend)
    )


def test_a_release_sends_nothing_and_an_open_transaction_is_rolled_back(
    database_url: str,
) -> None:
    async def main() -> None:
        db = await Database.connect(
            database_url, min_size=1, max_size=1, command_timeout=30, connect_timeout=10
        )
        observer = await asyncpg.connect(database_url)
        try:
            async with db.pool.acquire() as connection:
                backend = await connection.fetchval("SELECT pg_backend_pid() AS marker")
            # asyncpg's default reset would have run `... RESET ALL` after the SELECT.
            assert "marker" in await _last_statement(observer, backend)

            async with db.pool.acquire() as connection:
                transaction = connection.transaction()
                await transaction.start()  # left open, as by a request cancelled mid-way
                await connection.execute("CREATE TEMP TABLE left_behind (x int)")
            async with db.pool.acquire() as connection:
                assert await connection.fetchval("SELECT pg_backend_pid()") == backend
                assert not connection.is_in_transaction()
                assert await connection.fetchval("SELECT to_regclass('left_behind')") is None
        finally:
            await observer.close()
            await db.close()

    asyncio.run(main())
