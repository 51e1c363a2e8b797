"""The harness itself talks to real servers (and so does every integration test)."""

from __future__ import annotations

import socket

from scoreboard_devstack.servers import PostgresServer, RedisClusterServer, RedisServer


def test_postgres_answers_sql(postgres: PostgresServer) -> None:
    assert postgres.psql("postgres", "SELECT 40 + 2") == "42"
    version = postgres.psql("postgres", "SHOW server_version_num")
    assert int(version) >= 150000


def test_redis_answers_ping(redis: RedisServer | RedisClusterServer) -> None:
    with socket.create_connection(("127.0.0.1", redis.port), timeout=2) as conn:
        conn.sendall(b"PING\r\n")
        assert conn.recv(16) == b"+PONG\r\n"
