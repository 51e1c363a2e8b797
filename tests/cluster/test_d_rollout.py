"""Rolling the pods while players score through the ingress: `helm upgrade` of a value and an
api pod deleted under a bounded write load. No acknowledged write is lost, nothing is counted
twice, and the only errors are 503 with Retry-After (a client retries those with the same
action_id)."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Any

import httpx

from tests.cluster.release import HOST, NOT_YET, Player, Release, register
from tests.support.api import make_board, now_iso
from tests.support.load import WriteLoad
from tests.support.waits import wait_for


def _settle(
    load: WriteLoad, ingress: httpx.Client, board: str, players: list[Player]
) -> dict[str, Any]:
    """Check the load's outcome, replay what was not acknowledged (same action_id), and check
    that every player's total is exactly the sum of their actions."""
    statuses = load.status_counts()
    assert set(statuses) <= {200, 503}, statuses
    assert sum(a.retry_after_missing for a in load.attempts) == 0
    by_id = {p.user_id: p for p in players}
    refused = [a for a in load.attempts if not a.acknowledged]
    for attempt in refused:
        response = ingress.post(
            f"/api/v1/leaderboards/{board}/scores",
            json={
                "action_id": attempt.action_id,
                "score_increment": attempt.increment,
                "timestamp": now_iso(),
            },
            headers=by_id[attempt.user_id].headers,
        )
        assert response.status_code == 200, response.text
    expected: Counter[str] = Counter()
    for attempt in load.attempts:
        expected[attempt.user_id] += attempt.increment

    def totals() -> dict[str, int]:
        return {
            p.user_id: ingress.get(f"/api/v1/leaderboards/{board}/players/{p.user_id}").json()[
                "score"
            ]
            for p in players
        }

    wait_for(
        lambda: totals() == dict(expected), 30, "every total equals its actions", ignoring=NOT_YET
    )
    return {"attempted": len(load.attempts), "statuses": dict(statuses), "replayed": len(refused)}


def _load(release: Release, board: str, players: list[Player]) -> WriteLoad:
    """Players scoring through the ingress at 40 writes/s until the test stops them."""
    return WriteLoad(
        [release.cluster.ingress_url],
        board,
        players,
        workers=4,
        rate=40.0,
        max_writes=20000,
        duration=600.0,
        headers={"Host": HOST},
    )


def _api_pods(release: Release) -> set[str]:
    return {p["metadata"]["name"] for p in release.pods("api")}


def test_helm_upgrade_rolls_the_pods_under_load(release: Release, ingress: httpx.Client) -> None:
    board = make_board(ingress, release.admin_headers)
    players = [register(ingress, "roll") for _ in range(4)]
    before = _api_pods(release)
    with _load(release, board, players) as load:
        load.wait_acknowledged(20)
        started = time.monotonic()
        release.helm(
            "upgrade",
            release.name,
            str(release.chart),
            "--reuse-values",
            "--set-string",
            f"api.podAnnotations.rollout={secrets.token_hex(4)}",
            "--set-string",
            f"realtime.podAnnotations.rollout={secrets.token_hex(4)}",
            "--wait",
            "--timeout",
            "10m",
        )
        rolled = time.monotonic() - started
        after = wait_for(
            lambda: (pods := _api_pods(release)) and not pods & before and pods,
            120,
            "only new api pods",
            ignoring=NOT_YET,
        )
        mark = time.monotonic()
        wait_for(
            lambda: load.count_after(mark) >= 20, 60, "writes after the rollout", ignoring=NOT_YET
        )
        load.stop()
    figures = _settle(load, ingress, board, players)
    assert len(after) >= 1
    print(f"\n[cluster] helm upgrade under load: rollout {rolled:.0f}s, {figures}")


def test_deleting_an_api_pod_under_load_loses_nothing(
    release: Release, ingress: httpx.Client
) -> None:
    board = make_board(ingress, release.admin_headers)
    players = [register(ingress, "del") for _ in range(4)]
    victim = sorted(_api_pods(release))[0]
    with _load(release, board, players) as load:
        load.wait_acknowledged(20)
        release.kubectl("delete", "pod", victim, "--wait=false")
        deleted = time.monotonic()
        wait_for(lambda: victim not in _api_pods(release), 120, "the pod gone", ignoring=NOT_YET)
        wait_for(
            lambda: load.count_after(deleted) >= 40,
            60,
            "writes after the deletion",
            ignoring=NOT_YET,
        )
        load.stop()
    figures = _settle(load, ingress, board, players)
    print(f"\n[cluster] api pod deleted under load: {figures}")
