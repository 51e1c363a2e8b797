"""Several api replicas on one PostgreSQL and one Redis: a board's Redis state is rebuilt by
the replica that created it, once, not again by every replica that learns of it."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from scoreboard_devstack.servers import ServiceProcess

from tests.support import wait_for
from tests.support.api import make_board


def rebuilds(metrics: str) -> dict[tuple[str, str], float]:
    """``scoreboard_board_rebuilds_total`` by (board, reason)."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics):
        if family.name == "scoreboard_board_rebuilds":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = (sample.labels["board"], sample.labels["reason"])
                    found[key] = sample.value
    return found


def has_board_gauge(http: httpx.Client, board: str) -> bool:
    return f'scoreboard_board_players{{board="{board}"}}' in http.get("/metrics").text


def test_a_created_board_is_rebuilt_once_not_by_every_replica(
    start_api: Any, admin_token: str
) -> None:
    # Monitors and policy reloads far faster than the defaults, so each replica looks at a new
    # board many times while the creating one writes its keys.
    fast = {"HEALTH_CHECK_INTERVAL_SECONDS": "0.02", "POLICY_REFRESH_SECONDS": "0.02"}
    replicas: list[ServiceProcess] = [start_api(**fast) for _ in range(3)]
    admin = {"Authorization": f"Bearer {admin_token}"}
    clients = [httpx.Client(base_url=replica.url, timeout=15) for replica in replicas]
    try:
        boards = [make_board(clients[0], admin) for _ in range(6)]
        for http in clients:
            wait_for(lambda http=http: has_board_gauge(http, boards[-1]), 15, "every replica")
        # The board gauges are refreshed every fifth tick: once a board created now has its
        # gauge on every replica, each has ticked at least five times with all six boards.
        marker = make_board(clients[0], admin)
        for http in clients:
            wait_for(lambda http=http: has_board_gauge(http, marker), 15, "five more ticks")

        counted = [rebuilds(http.get("/metrics").text) for http in clients]
        for board in boards:
            by_replica = {
                (index, reason): value
                for index, found in enumerate(counted)
                for (name, reason), value in found.items()
                if name == board
            }
            # Once in all: by its creator ("created"), or, when another replica learnt of the
            # board from PostgreSQL and took the rebuild lock first, by that one ("missing").
            assert sum(by_replica.values()) == 1, f"{board} rebuilt {by_replica}"
            assert set(by_replica) <= {(0, "created"), (1, "missing"), (2, "missing")}
    finally:
        for http in clients:
            http.close()
        for replica in replicas:
            replica.stop()
