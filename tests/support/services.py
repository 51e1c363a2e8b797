"""The processes and servers behind the tests: console scripts of this virtualenv, the
migration, a synchronous Redis client for checks."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import redis as redis_sync
from redis.cluster import ClusterNode
from scoreboard_common.redis_client import CLUSTER_SCHEME, cluster_seeds
from scoreboard_devstack.servers import PostgresServer, RedisClusterServer, RedisServer


def cli(name: str) -> str:
    """Path of a console script installed in this virtualenv."""
    return str(Path(sys.executable).parent / name)


RedisFactory = Callable[..., "RedisServer | RedisClusterServer"]


def sync_redis(url: str) -> redis_sync.Redis:
    """A synchronous client for a test's checks: ``redis://`` or ``redis+cluster://`` URLs."""
    if url.startswith(CLUSTER_SCHEME):
        nodes = [ClusterNode(host, port) for host, port in cluster_seeds(url)]
        return cast(redis_sync.Redis, redis_sync.RedisCluster(startup_nodes=nodes))
    return redis_sync.Redis.from_url(url)


def migrate(env: dict[str, str]) -> None:
    result = subprocess.run(
        [cli("scoreboard-api"), "migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"migrate failed:\n{result.stdout}\n{result.stderr}"


@contextlib.contextmanager
def migrated_database(postgres: PostgresServer, env: dict[str, str], prefix: str) -> Iterator[str]:
    """A new database on ``postgres``, migrated with ``env``, dropped afterwards: its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    url = postgres.create_database(name)
    try:
        migrate({**env, "DATABASE_URL": url})
        yield url
    finally:
        postgres.drop_database(name)


def mint_token(env: dict[str, str], subject: str, scope: str, ttl: int = 3600) -> str:
    result = subprocess.run(
        [
            cli("scoreboard-api"),
            "mint-token",
            "--subject",
            subject,
            "--scope",
            scope,
            "--ttl",
            str(ttl),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"mint-token failed:\n{result.stderr}"
    return result.stdout.strip()
