"""Create the Redis client a service uses: a single server or a Redis Cluster."""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

CLUSTER_SCHEME = "redis+cluster://"


def create_redis(url: str, **options: Any) -> Redis:
    """``redis://`` gives a client for one server, ``redis+cluster://h1:p1,h2:p2`` a
    cluster-aware one seeded with those nodes.

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
        seeds = [seed.rpartition(":") for seed in url.removeprefix(CLUSTER_SCHEME).split(",")]
        nodes = [ClusterNode(host or "127.0.0.1", int(port)) for host, _, port in seeds]
        common.pop("health_check_interval")
        return cast(Redis, RedisCluster(startup_nodes=nodes, **common))
    return cast(Redis, Redis.from_url(url, **common))


def create_pubsub_redis(url: str) -> Redis:
    """A client for Pub/Sub. On a cluster, classic ``PUBLISH`` reaches every node, so a plain
    connection to the first seed node receives every message (redis-py's asyncio cluster
    client has no Pub/Sub of its own). Health checks keep idle subscriptions honest."""
    if url.startswith(CLUSTER_SCHEME):
        first_seed = url.removeprefix(CLUSTER_SCHEME).split(",")[0]
        url = "redis://" + first_seed
    return cast(
        Redis,
        Redis.from_url(
            url, socket_connect_timeout=1.0, health_check_interval=10, socket_keepalive=True
        ),
    )
