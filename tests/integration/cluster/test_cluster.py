"""What only a Redis Cluster can show: keys of one board share a slot while boards spread over
the nodes, and the live feed crosses nodes (the realtime subscriber sits on one node, the
board's keys and its Lua ``PUBLISH`` on another), including after the subscriber's node dies.

These tests start clusters of their own, so they run (and mean the same) with or without
``--redis-cluster``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync
import websockets
from redis.crc import key_slot
from scoreboard_api.adapters.redis_side import RedisSide, upm_key
from scoreboard_api.domain.ratelimit import Limit
from scoreboard_api.domain.scoring import Submission, Write
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.events import (
    SCORE_CHANNEL,
    ScoreChanged,
    score_changed_template,
)
from scoreboard_common.keys import BoardKeys
from scoreboard_common.redis_client import cluster_credentials, cluster_seeds, create_redis
from scoreboard_devstack.metrics import metric_value
from scoreboard_devstack.servers import RedisClusterServer, ServiceProcess

from tests.support import wait_for_async
from tests.support.api import OPEN_LIMITS, register_user, submit
from tests.support.feeds import Feed, comparable, ws_url

ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServer]:
    server = RedisClusterServer(tmp_path_factory.mktemp("cluster") / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[RedisClusterServer]:
    """A cluster for a test that kills nodes."""
    server = RedisClusterServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def store(cluster: RedisClusterServer) -> AsyncIterator[BoardStore]:
    client = create_redis(cluster.url)
    yield BoardStore(client)
    await client.aclose()


def node_client(port: int) -> redis_sync.Redis:
    return redis_sync.Redis(host="127.0.0.1", port=port)


def slot_owners(cluster: RedisClusterServer) -> dict[int, int]:
    """slot → port of the primary serving it, from ``CLUSTER NODES``."""
    with node_client(cluster.nodes[0].port) as r:
        lines = r.execute_command("CLUSTER", "NODES").decode().splitlines()
    owners: dict[int, int] = {}
    for line in lines:
        fields = line.split()
        if "master" not in fields[2]:
            continue
        port = int(fields[1].split("@")[0].rpartition(":")[2])
        for span in fields[8:]:
            if span.startswith("["):  # a slot being migrated
                continue
            low, _, high = span.partition("-")
            for slot in range(int(low), int(high or low) + 1):
                owners[slot] = port
    assert len(owners) == 16384, "every slot is served"
    return owners


def board_on(owners: dict[int, int], port: int, *, avoid: int | None = None) -> str:
    """A fresh board name whose hash tag lands on the node at ``port`` (or not on ``avoid``)."""
    while True:
        board = f"c-{secrets.token_hex(4)}"
        owner = owners[key_slot(BoardKeys(board).prefix.encode())]
        if (avoid is None and owner == port) or (avoid is not None and owner != avoid):
            return board


def subscribers(port: int, channel: str = SCORE_CHANNEL) -> int:
    with node_client(port) as r:
        return int(dict(r.pubsub_numsub(channel))[channel.encode()])


async def subscribed_node(cluster: RedisClusterServer) -> int:
    """Index of the node the (one) realtime replica subscribed on: a random seed."""
    found: list[int] = []

    def check() -> bool:
        found[:] = [i for i, node in enumerate(cluster.nodes) if subscribers(node.port) >= 1]
        return len(found) == 1

    await wait_for_async(check, 10, "realtime's subscription")
    return found[0]


async def write_like_the_api(store: BoardStore, board: str, user: str, total: int) -> int:
    """``apply_total_and_publish``: the api's post-commit Lua (ZADD … PUBLISH) on the board's
    node."""
    event = ScoreChanged(
        board=board, season=1, version=0, user_id=user, username=user, total=total, rank=None,
        increment=total,
    )  # fmt: skip
    result = await store.apply_total_and_publish(
        board,
        Standing(user_id=user, username=user, total=total, reached_at=datetime.now(UTC)),
        channel=SCORE_CHANNEL,
        template=score_changed_template(event),
        counter=(upm_key(board), str(int(time.time() // 60)), 180),
    )
    return result.version


async def test_keys_of_a_board_share_a_slot_and_boards_spread_over_the_nodes(
    cluster: RedisClusterServer, store: BoardStore
) -> None:
    side = RedisSide(store.redis)
    boards = [f"spread-{secrets.token_hex(4)}" for _ in range(40)]
    for board in boards:
        keys = BoardKeys(board)
        # Every kind of per-board key the services write, through their own code.
        await write_like_the_api(store, board, "alice", 10)
        await store.apply_total(
            board, Standing(user_id="bob", username="bob", total=5, reached_at=datetime.now(UTC))
        )
        await side.guard(
            Write(
                submission=Submission(
                    "a-1", datetime.now(UTC), None, 1, "alice", board=board, client_ip="10.0.0.1"
                ),
                season=1,
                operator="increment",
                order="desc",
                value=1,
                points=1,
                metadata_json=None,
                username="alice",
            ),
            client_group="10.0.0.1",
            user_limit=Limit("user", 100, 60),
            ip_limit=Limit("ip", 100, 60),
            burst_window_ms=50,
        )
        await side.store_top(board, 10, 1, b"{}")
        await store.redis.set(keys.policy, "{}")
        await store.redis.set(f"{keys.prefix}:rebuild-lock", "1", px=60_000)

    owners = slot_owners(cluster)
    used_nodes: set[int] = set()
    for board in boards:
        prefix = BoardKeys(board).prefix
        with node_client(cluster.nodes[0].port) as r:
            slot = int(r.execute_command("CLUSTER", "KEYSLOT", prefix))
        owner = owners[slot]
        used_nodes.add(owner)
        written: list[bytes] = []
        for node in cluster.nodes:
            with node_client(node.port) as r:
                found = list(r.scan_iter(match=f"{prefix}:*", count=1000))
                slots = {int(r.execute_command("CLUSTER", "KEYSLOT", key)) for key in found}
                if node.port != owner:
                    assert found == [], f"{board}'s keys must all be on one node"
                    continue
                written = found
                assert slots == {slot}
                # The slot holds at least this board's keys (another board may share it).
                count = int(r.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot))
                assert count >= len(found)
        names = {key.decode().removeprefix(prefix) for key in written}
        assert {
            ":rank",
            ":member",
            ":names",
            ":version",
            ":policy",
            ":top:10",
            ":stats:upm",
            ":rebuild-lock",
            ":rl:user:alice",
            ":rl:ip:10.0.0.1",
            ":rl:fraud:alice",
        } <= names
    # 40 boards over 3 primaries: all are used (chance of missing one ≈ 3·(2/3)^40 ≈ 2e-7).
    assert used_nodes == {node.port for node in cluster.nodes}
    for node in cluster.nodes:
        with node_client(node.port) as r:
            assert int(r.dbsize()) > 0


async def test_live_feed_crosses_nodes(
    cluster: RedisClusterServer, store: BoardStore, start_realtime: ServiceFactory
) -> None:
    """The realtime replica subscribes on one seed node; the board lives on another
    node, whose Lua script publishes the event there. The cluster bus carries it over."""
    service = start_realtime(REDIS_URL=cluster.url)
    subscribed = cluster.nodes[await subscribed_node(cluster)].port
    board = board_on(slot_owners(cluster), 0, avoid=subscribed)
    await store.redis.set(
        BoardKeys(board).policy,
        '{"size": 5, "access": {"publicRead": true, "anonymousLive": true},'
        ' "broadcast": {"minIntervalMs": 20}}',
    )
    await write_like_the_api(store, board, "early", 5)
    feed = Feed(await websockets.connect(ws_url(service, f"/ws/v1/leaderboards/{board}")))
    try:
        await feed.wait_for(lambda m: m["type"] == "snapshot")
        version = await write_like_the_api(store, board, "late", 50)
        pushed = await feed.wait_for(lambda m: m["version"] >= version)
        assert pushed["entries"][0]["user_id"] == "late"
        assert comparable(pushed) == comparable(await store.top(board, 5))
    finally:
        await feed.close()


async def test_api_and_realtime_on_a_cluster_survive_the_subscriber_node_dying(
    own_cluster: RedisClusterServer,
    start_api: ServiceFactory,
    start_realtime: ServiceFactory,
    admin_token: str,
) -> None:
    """Through the real services: the api writes, realtime pushes. The node realtime
    subscribed on is killed; realtime moves to the next seed node and the feed resumes."""
    api = start_api(REDIS_URL=own_cluster.url, HEALTH_CHECK_INTERVAL_SECONDS="0.2")
    rt = start_realtime(REDIS_URL=own_cluster.url, PUBLIC_API_URL=api.url)
    first = await subscribed_node(own_cluster)  # a random seed; after it, the next ones
    second, third = ((first + step) % 3 for step in (1, 2))
    owners = slot_owners(own_cluster)
    # The board lives neither where realtime subscribes now nor where it will next.
    board = board_on(owners, own_cluster.nodes[third].port)
    admin = {"Authorization": f"Bearer {admin_token}"}
    spec: dict[str, Any] = {
        "size": 5,
        **OPEN_LIMITS,
        "generation": 1,
        "access": {"publicRead": True, "anonymousLive": True},
        "broadcast": {"minIntervalMs": 20},
    }
    with httpx.Client(base_url=api.url, timeout=15) as http:
        created = http.put(f"/api/v1/admin/leaderboards/{board}", json=spec, headers=admin)
        assert created.status_code == 200, created.text
        player = register_user(http)
        feed = Feed(await websockets.connect(ws_url(rt, f"/ws/v1/leaderboards/{board}")))
        try:
            await feed.wait_for(lambda m: m["type"] == "snapshot")
            answer = submit(http, board, player.headers, 7)
            assert answer.status_code == 200, answer.text
            await feed.wait_for(lambda m: bool(m.get("entries")) and m["entries"][0]["score"] == 7)

            reconnects = metric_value(rt, "scoreboard_pubsub_reconnects_total")
            own_cluster.nodes[first].kill()
            # Round-robin: the next seed in the URL.
            await wait_for_async(
                lambda: subscribers(own_cluster.nodes[second].port) >= 1, 20, "the next seed"
            )
            assert metric_value(rt, "scoreboard_pubsub_reconnects_total") >= reconnects + 1
            own_cluster.nodes[first].start()  # its slots come back (empty: not durable)
            await wait_for_async(own_cluster._cluster_ok, 20, "cluster state ok")
            await wait_for_async(
                lambda: http.get("/readyz").status_code == 200, 20, "the api to see Redis back"
            )
            answer = submit(http, board, player.headers, 5)
            assert answer.status_code == 200, answer.text
            # The event is published on the third node and received on the second one.
            pushed = await feed.wait_for(
                lambda m: bool(m.get("entries")) and m["entries"][0]["score"] == 12, timeout=15
            )
            assert pushed["entries"][0]["user_id"] == player.user_id
            top = http.get(f"/api/v1/leaderboards/{board}/top").json()
            assert comparable(pushed) == comparable(top)
        finally:
            await feed.close()


def test_cluster_urls_carry_seeds_and_credentials() -> None:
    url = "redis+cluster://:p%40ss@10.0.0.1:7000,10.0.0.2:7001/0"
    assert cluster_seeds(url) == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert cluster_credentials(url) == {"password": "p@ss"}
    assert cluster_credentials("redis+cluster://app:s3cret@h:1") == {
        "username": "app",
        "password": "s3cret",
    }
    assert cluster_credentials("redis+cluster://h:1,h:2") == {}
