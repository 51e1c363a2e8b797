"""The Redis clients' connections against a real Redis (a server, or a Redis Cluster with
``--redis-cluster``), under uvloop as the services run them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvloop
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from scoreboard_common.redis_client import create_pubsub_redis, create_redis


async def _borrow(client: Redis) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """One of ``client``'s connections, connected, and how to give it back."""
    if isinstance(client, RedisCluster):
        await client.initialize()
        node = client.get_default_node()
        connection = node.acquire_connection()
        await connection.connect()

        async def give_back_to_node() -> None:
            node.release(connection)

        return connection, give_back_to_node
    pool = client.connection_pool
    connection = await pool.get_connection()

    async def give_back_to_pool() -> None:
        await pool.release(connection)

    return connection, give_back_to_pool


async def _write_after_the_server_closed(client: Redis) -> None:
    connection, give_back = await _borrow(client)
    try:
        # What Redis does to a connection it refuses at `maxclients`: an error, then close. When
        # the close is seen before the client's first command, uvloop refuses the write.
        connection._writer.transport.close()
        await asyncio.sleep(0)
        with pytest.raises(RedisConnectionError):
            await connection.send_command("PING")
        assert not connection.is_connected  # dropped, so the pool reconnects next time
    finally:
        await give_back()
    assert await client.ping()  # the next command gets a fresh connection


@pytest.mark.parametrize("make_client", [create_redis, create_pubsub_redis])
def test_a_write_to_a_connection_the_server_closed_is_a_connection_error(
    redis_url: str, make_client: Callable[[str], Redis]
) -> None:
    """Not uvloop's ``RuntimeError``: callers degrade on ``ConnectionError`` (a score write under
    Redis client exhaustion answered 500, tests/chaos/test_exhaustion.py)."""

    async def scenario() -> None:
        client = make_client(redis_url)
        try:
            await _write_after_the_server_closed(client)
        finally:
            await client.aclose()

    uvloop.run(scenario())
