"""The api's and realtime's Redis connections pack commands with hiredis: the same bytes as
redis-py's Python packer, the same errors, whatever connection class the URL chose."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError
from scoreboard_common.redis_client import _HiredisPacking, create_redis

COMMANDS: list[tuple[Any, ...]] = [
    ("SET", "key", "value"),
    ("EVALSHA", b"0123abcd", 3, "k1", "k2", "k3", 1.5, 0.1, 10**20, -3, 1e300),
    ("SCRIPT LOAD", "return 1"),  # a two-word command name is split
    (b"CONFIG GET", "maxmemory"),
    ("SET", "name", "joueur é ✓"),
]


@pytest.mark.parametrize("args", COMMANDS)
def test_hiredis_packing_gives_redis_pys_bytes(args: tuple[Any, ...]) -> None:
    python, hiredis = Connection(), type("C", (_HiredisPacking, Connection), {})()
    assert b"".join(hiredis.pack_command(*args)) == b"".join(python.pack_command(*args))
    assert b"".join(hiredis.pack_commands(COMMANDS)) == b"".join(python.pack_commands(COMMANDS))


@pytest.mark.parametrize("value", [None, True, object()])
def test_a_value_redis_cannot_take_is_a_data_error(value: object) -> None:
    hiredis = type("C", (_HiredisPacking, Connection), {})()
    with pytest.raises(DataError):
        hiredis.pack_command("SET", "key", value)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("redis://127.0.0.1:6379/0", Connection),
        ("rediss://127.0.0.1:6380/0", SSLConnection),
        ("unix:///tmp/redis.sock", UnixDomainSocketConnection),
    ],
)
def test_the_urls_connection_class_is_kept(url: str, base: type[Any]) -> None:
    connection_class = create_redis(url).connection_pool.connection_class
    assert issubclass(connection_class, base)
    assert issubclass(connection_class, _HiredisPacking)
