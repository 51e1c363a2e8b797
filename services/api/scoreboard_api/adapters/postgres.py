"""PostgreSQL access, the shared part: the pool, transactions and the mapping of driver errors
to domain errors. The statements live with their aggregate, one module each, all in the same
style (free functions taking the :class:`Database`): ``pg_scores`` (standings and the write
statement), ``pg_boards``, ``pg_identity`` (users, refresh tokens), ``pg_webhooks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
from scoreboard_common.metrics import DEPENDENCY_ERRORS

from scoreboard_api.adapters.sealing import Sealer
from scoreboard_api.domain.errors import DomainError, Invalid, Unavailable
from scoreboard_api.metrics import DB_POOL_EXHAUSTED

log = logging.getLogger("scoreboard.postgres")

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionFailureError,
    # A connection left mid-operation by a dropped server: a dependency failure, not a bug.
    asyncpg.InternalClientError,
)


@contextlib.contextmanager
def postgres_errors() -> Iterator[None]:
    """Turn a lost or slow PostgreSQL into :class:`Unavailable` (and count it), a value it
    refuses into :class:`Invalid`."""
    try:
        yield
    except DomainError:
        raise
    except asyncpg.DataError as error:
        raise Invalid(f"invalid value: {error}") from error
    except _CONNECTION_ERRORS as error:
        DEPENDENCY_ERRORS.labels("postgres").inc()
        log.warning("postgres unavailable: %s", type(error).__name__)
        raise Unavailable("postgres") from error


class BoundedPool:
    """asyncpg's pool with a bounded wait for a free connection. asyncpg waits forever by
    default, so an exhausted pool (connections stuck behind a lock, a slow query) would queue
    every request; here a request that gets no connection within ``acquire_timeout`` fails with
    ``TimeoutError``, which :func:`postgres_errors` turns into :class:`Unavailable`.
    (``timeout`` keeps asyncpg's meaning, a per-statement limit, hence the ASYNC109 waivers.)"""

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float) -> None:
        self.raw = pool
        self.acquire_timeout = acquire_timeout

    @contextlib.asynccontextmanager
    async def acquire(self, *, timeout: float | None = None) -> AsyncIterator[Any]:  # noqa: ASYNC109
        try:
            connection = await self.raw.acquire(timeout=timeout or self.acquire_timeout)
        except TimeoutError:
            DB_POOL_EXHAUSTED.inc()
            log.warning("postgres pool exhausted: no free connection in time")
            raise
        try:
            yield connection
        finally:
            await self.raw.release(connection)

    async def hold(self) -> Any:
        """A connection taken out of the pool for one long-lived user (the group committer),
        with the same bounded wait; hand it back with :meth:`give_back`."""
        try:
            return await self.raw.acquire(timeout=self.acquire_timeout)
        except TimeoutError:
            DB_POOL_EXHAUSTED.inc()
            log.warning("postgres pool exhausted: no free connection in time")
            raise

    async def give_back(self, connection: Any) -> None:
        await self.raw.release(connection)

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        async with self.acquire() as connection:
            return await connection.fetch(query, *args, timeout=timeout)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        async with self.acquire() as connection:
            return await connection.fetchrow(query, *args, timeout=timeout)

    async def fetchval(self, query: str, *args: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        async with self.acquire() as connection:
            return await connection.fetchval(query, *args, timeout=timeout)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        async with self.acquire() as connection:
            return await connection.execute(query, *args, timeout=timeout)

    async def executemany(self, query: str, args: Any, *, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        async with self.acquire() as connection:
            return await connection.executemany(query, args, timeout=timeout)

    async def close(self) -> None:
        await self.raw.close()


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset on release, after asyncpg's own (which rolls back an open transaction
    and drops listeners): nothing more. asyncpg's default also sends ``SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release, a round trip
    per use of the pool (two of a sign-in's nine); the api changes no session state (no ``SET``
    outside a transaction, no session advisory locks, no ``LISTEN``, no held cursors), so there
    is nothing for it to undo. Whoever adds session state must reset it here."""
    del connection


class Database:
    """The api's PostgreSQL: a bounded pool, and the sealer of the secrets stored in it."""

    def __init__(
        self, pool: asyncpg.Pool, acquire_timeout: float = 1.0, sealer: Sealer | None = None
    ) -> None:
        self.pool = BoundedPool(pool, acquire_timeout)
        self.sealer = sealer or Sealer([])

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int,
        max_size: int,
        command_timeout: float,
        connect_timeout: float,
        acquire_timeout: float = 1.0,
        sealer: Sealer | None = None,
    ) -> Database:
        kwargs: dict[str, Any] = {
            "max_size": max_size,
            "command_timeout": command_timeout,
            "timeout": connect_timeout,
            "max_inactive_connection_lifetime": 120.0,
            "reset": _keep_session,
        }
        try:
            pool = await asyncpg.create_pool(dsn, min_size=min_size, **kwargs)
        except _CONNECTION_ERRORS as error:
            log.warning("postgres not reachable at start (%s); connecting lazily", error)
            pool = await asyncpg.create_pool(dsn, min_size=0, **kwargs)
        return cls(pool, acquire_timeout, sealer)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pool.close(), 5)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        with postgres_errors():
            async with self.pool.acquire() as connection, connection.transaction():
                yield connection

    async def ping(self) -> bool:
        try:
            await self.pool.fetchval("SELECT 1", timeout=1.0)
        except Exception:
            return False
        return True
