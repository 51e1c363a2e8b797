"""Create the Redis client a service uses: a single server or a Redis Cluster."""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

CLUSTER_SCHEME = "redis+cluster://"


def create_redis(url: str, **options: Any) -> Redis:
    """``redis://`` gives a client for one server, ``redis+cluster://`` a cluster-aware one.

    Short timeouts: when Redis is down, requests must degrade fast, not hang.
    """
    common: dict[str, Any] = {
        "socket_timeout": 2.0,
        "socket_connect_timeout": 1.0,
        "health_check_interval": 15,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
    }
    common.update(options)
    if url.startswith(CLUSTER_SCHEME):
        cluster = RedisCluster.from_url("redis://" + url.removeprefix(CLUSTER_SCHEME), **common)
        return cast(Redis, cluster)
    return cast(Redis, Redis.from_url(url, **common))
