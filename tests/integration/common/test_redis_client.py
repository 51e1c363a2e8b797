"""The Redis clients' connections against a real Redis server, under uvloop as the services
run them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from scoreboard_common.redis_client import create_pubsub_redis, create_redis
from scoreboard_devstack.servers import RedisServer


async def _write_after_the_server_closed(client: Redis) -> None:
    connection = await client.connection_pool.get_connection()
    try:
        # What Redis does to a connection it refuses at `maxclients`: an error, then close. When
        # the close is seen before the client's first command, uvloop refuses the write.
        connection._writer.transport.close()
        await asyncio.sleep(0)
        with pytest.raises(RedisConnectionError):
            await connection.send_command("PING")
        assert not connection.is_connected  # dropped, so the pool reconnects next time
    finally:
        await client.connection_pool.release(connection)
    assert await client.ping()  # the next command gets a fresh connection


@pytest.mark.parametrize("make_client", [create_redis, create_pubsub_redis])
def test_a_write_to_a_connection_the_server_closed_is_a_connection_error(
    tmp_path: Path, make_client: Callable[[str], Redis]
) -> None:
    """Not uvloop's ``RuntimeError``: callers degrade on ``ConnectionError`` (a score write under
    Redis client exhaustion answered 500, tests/chaos/test_exhaustion.py)."""
    server = RedisServer(tmp_path / "redis", durable=False)
    server.start()
    try:

        async def scenario() -> None:
            client = make_client(server.url)
            try:
                await _write_after_the_server_closed(client)
            finally:
                await client.aclose()

        uvloop.run(scenario())
    finally:
        server.stop()
