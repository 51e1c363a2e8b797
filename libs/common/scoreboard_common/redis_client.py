"""Create the Redis client a service uses: a single server or a Redis Cluster.

On a cluster every per-board key carries the board's hash tag (``sb:{board}:...``), so each
multi-key Lua script or transaction touches one slot, and the cluster client routes it to the
node holding it. Pub/Sub is classic ``PUBLISH``/``SUBSCRIBE``: a message published on any node
is forwarded to every node over the cluster bus, so a subscriber connected to any one node
receives everything (see docs/scaling.md for why not sharded Pub/Sub).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast
from urllib.parse import unquote

from redis.asyncio import Connection, ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.backoff import ExponentialBackoff
from redis.connection import HiredisRespSerializer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

CLUSTER_SCHEME = "redis+cluster://"


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop.

    redis-py can swallow a cancellation that arrives in the middle of a call (seen under uvloop:
    a pipeline cancelled while its connection was being opened returned normally), and a
    long-lived loop then runs on after ``task.cancel()``: a realtime that could not bind its port
    hung in its shutdown instead of exiting. Every background loop calls this once per turn.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _cluster_netloc(url: str) -> tuple[str, str]:
    """``redis+cluster://[user:password@]h1:p1,h2:p2[/...]`` → (userinfo, hosts)."""
    netloc = url.removeprefix(CLUSTER_SCHEME).split("/")[0]
    userinfo, _, hosts = netloc.rpartition("@")
    return userinfo, hosts


def cluster_seeds(url: str) -> list[tuple[str, int]]:
    """``redis+cluster://h1:p1,h2:p2`` → ``[(h1, p1), (h2, p2)]``."""
    seeds = []
    for seed in _cluster_netloc(url)[1].split(","):
        host, _, port = seed.strip().rpartition(":")
        seeds.append((host or "127.0.0.1", int(port)))
    return seeds


def cluster_credentials(url: str) -> dict[str, str]:
    """``username``/``password`` from ``redis+cluster://user:password@...`` (or ``:password@``),
    as ``redis://`` URLs carry them; the same for every node."""
    userinfo = _cluster_netloc(url)[0]
    if not userinfo:
        return {}
    user, has_password, password = userinfo.partition(":")
    credentials = {"password": unquote(password)} if has_password else {}
    if user:
        credentials["username"] = unquote(user)
    return credentials


class SeedRotatingRedis(Redis):
    """A plain client for Pub/Sub that moves to the next seed node on every new subscription.

    Subscribers call :meth:`pubsub` once, and again only after their connection failed: so a
    subscriber whose node died reconnects to another node (round-robin over the seeds). On a
    cluster any node will do, because classic ``PUBLISH`` reaches every node. Each process
    starts at a random seed (``start`` to choose), so many replicas' subscriptions, and the
    fan-out work they cost Redis, spread over the nodes. Other commands (``PUBLISH``,
    ``PING``) go to the node of the latest subscription.
    """

    def __init__(
        self, seeds: list[tuple[str, int]], *, start: int | None = None, **options: Any
    ) -> None:
        if not seeds:
            raise ValueError("at least one seed node is needed")
        connection_class = _connection_class(Connection, hiredis_packing=False)
        self._pools = [
            ConnectionPool(host=host, port=port, connection_class=connection_class, **options)
            for host, port in seeds
        ]
        self._next = random.randrange(len(seeds)) if start is None else start % len(seeds)
        super().__init__(connection_pool=self._pools[self._next])

    @property
    def seeds(self) -> list[str]:
        return [
            f"{pool.connection_kwargs['host']}:{pool.connection_kwargs['port']}"
            for pool in self._pools
        ]

    def pubsub(self, **kwargs: Any) -> PubSub:
        pool = self._pools[self._next % len(self._pools)]
        self._next += 1
        self.connection_pool = pool
        return PubSub(pool, **kwargs)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool=False)
        for pool in self._pools:
            await pool.disconnect()


class ScoreboardRedisCluster(RedisCluster):
    """redis-py's asyncio cluster client plus the Pub/Sub it lacks: ``publish`` goes to any
    primary (the cluster bus forwards it to all), ``pubsub`` subscribes on one seed node,
    rotating over the seeds on each new subscription."""

    def __init__(self, *, startup_nodes: list[ClusterNode], **options: Any) -> None:
        super().__init__(startup_nodes=startup_nodes, **options)
        # RedisCluster fixes its connection class here; the nodes it has made so far have no
        # connection yet, and the nodes it finds later are made from ``connection_kwargs``.
        connection_class = _connection_class(
            self.connection_kwargs["connection_class"], hiredis_packing=True
        )
        self.connection_kwargs["connection_class"] = connection_class
        for node in self.nodes_manager.startup_nodes.values():
            node.connection_class = connection_class
        credentials = {k: options[k] for k in ("username", "password") if options.get(k)}
        self._pubsub_client = SeedRotatingRedis(
            [(node.host, int(node.port)) for node in startup_nodes],
            **_pubsub_options(),
            **credentials,
        )

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _unreachable_is_a_connection_error():
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)
        return _ClusterPipeline(self, transaction)

    async def publish(self, channel: str | bytes, message: str | bytes) -> int:
        return int(
            await self.execute_command(
                "PUBLISH", channel, message, target_nodes=RedisCluster.RANDOM
            )
        )

    def pubsub(self, **kwargs: Any) -> PubSub:
        return self._pubsub_client.pubsub(**kwargs)

    async def aclose(self) -> None:
        await super().aclose()
        await self._pubsub_client.aclose()


@contextlib.contextmanager
def _unreachable_is_a_connection_error() -> Iterator[None]:
    """redis-py raises ``RedisClusterException`` (not a ``RedisError``) when no node answers or
    a slot is not covered: make it the ``ConnectionError`` a single server would raise, so
    callers' "Redis is down" handling is the same for both."""
    try:
        yield
    except RedisError:
        raise
    except RedisClusterException as error:
        raise RedisConnectionError(f"Redis Cluster unreachable: {error}") from error


class _ClusterPipeline(ClusterPipeline):
    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        with _unreachable_is_a_connection_error():
            return await super().execute(raise_on_error, allow_redirections)


def _pubsub_options() -> dict[str, Any]:
    # Health checks keep idle subscriptions honest.
    return {"socket_connect_timeout": 1.0, "health_check_interval": 10, "socket_keepalive": True}


def create_redis(url: str, **options: Any) -> Redis:
    """``redis://`` gives a client for one server, ``redis+cluster://h1:p1,h2:p2`` a
    cluster-aware one seeded with those nodes (with ``publish``/``pubsub``, see
    :class:`ScoreboardRedisCluster`).

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
        nodes = [ClusterNode(host, port) for host, port in cluster_seeds(url)]
        common.pop("health_check_interval")
        common.update(cluster_credentials(url))
        return cast(Redis, ScoreboardRedisCluster(startup_nodes=nodes, **common))
    return _single_server(url, hiredis_packing=True, **common)


class _HiredisPacking:
    """Commands packed by hiredis (C), as redis-py's synchronous connections already do; its
    asyncio connections pack in Python, ~8% of the api's CPU under the write load
    (``bench/profile_write.py``: ``pack_commands`` and ``Encoder.encode``). hiredis is a
    dependency of the project (the reply parser)."""

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        return cast(list[bytes], self._serializer.pack(*args))

    def pack_commands(self, commands: Any) -> list[bytes]:
        pack = self._serializer.pack
        return [b"".join(pack(*command)[0] for command in commands)]


class _ClosedTransportIsAConnectionError:
    """A write to a connection the server has already closed is a ``ConnectionError``. uvloop
    raises ``RuntimeError`` ("the handler is closed") there, and redis-py only turns
    ``OSError`` into its ``ConnectionError``: a new connection that Redis refuses at
    ``maxclients`` (it answers with an error and closes at once) failed a score write with a
    500 instead of degrading (tests/chaos/test_exhaustion.py)."""

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except RuntimeError as error:
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise RedisConnectionError(f"Error while writing to socket: {error}") from error


def _single_server(url: str, *, hiredis_packing: bool, **options: Any) -> Redis:
    """A client for one server whose connections (plain, TLS or Unix socket, as the URL chose)
    report closed transports as connection errors, and pack with hiredis if asked."""
    client = Redis.from_url(url, **options)
    pool = client.connection_pool
    pool.connection_class = _connection_class(
        pool.connection_class, hiredis_packing=hiredis_packing
    )
    return cast(Redis, client)


def _connection_class(base: type, *, hiredis_packing: bool) -> type:
    """``base`` (plain, TLS or Unix socket) whose closed transports are connection errors, and
    which packs commands with hiredis if asked."""
    mixins: tuple[type, ...] = (_ClosedTransportIsAConnectionError,)
    if hiredis_packing:
        mixins = (_HiredisPacking, *mixins)
    return type(f"Scoreboard{base.__name__}", (*mixins, base), {})


def create_pubsub_redis(url: str) -> Redis:
    """A client for Pub/Sub. On a cluster, a :class:`SeedRotatingRedis` over the URL's seed
    nodes: each subscription uses one node, the next one after a failure."""
    if url.startswith(CLUSTER_SCHEME):
        options: dict[str, Any] = {**_pubsub_options(), **cluster_credentials(url)}
        return SeedRotatingRedis(cluster_seeds(url), **options)
    return _single_server(url, hiredis_packing=False, **_pubsub_options())


async def scan_hash_tag(
    redis: Redis, hash_tag_prefix: str, count: int = 500
) -> AsyncIterator[bytes]:
    """Every key starting with ``hash_tag_prefix`` (e.g. ``sb:{board}``), which all live in the
    tag's slot: on a cluster only the node holding that slot is scanned."""
    options: dict[str, Any] = {}
    client: Any = redis  # typed as Redis everywhere; may be a cluster client at run time
    if isinstance(client, RedisCluster):
        options["target_nodes"] = client.get_node_from_key(hash_tag_prefix)
    match = _glob_escape(hash_tag_prefix) + ":*"
    cursor = 0
    while True:
        reply, found = await redis.scan(cursor, match=match, count=count, **options)
        # The cluster client answers {node: cursor} (one node here); a plain client an int.
        cursor = int(next(iter(reply.values())) if isinstance(reply, dict) else reply)
        for key in found:
            yield key
        if cursor == 0:
            return


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
