"""A `Leaderboard` reconciled by the operator pod, with only the chart's RBAC, through the api
Service's DNS name; `kubectl get lb` shows the board's live figures."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import httpx

from tests.cluster.release import NOT_YET, Release, register
from tests.support.waits import wait_for


def _ready(release: Release, name: str) -> bool:
    board = release.json("get", "leaderboard", name)
    conditions = board.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_leaderboard_is_reconciled_and_shows_its_figures(
    release: Release, ingress: httpx.Client
) -> None:
    name = f"cluster-{secrets.token_hex(3)}"
    manifest = {
        "apiVersion": "scoreboard.dev/v1alpha1",
        "kind": "Leaderboard",
        "metadata": {"name": name},
        "spec": {"displayName": "Cluster board", "size": 10, "deletionPolicy": "Delete"},
    }
    release.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    wait_for(lambda: _ready(release, name), 120, f"Leaderboard {name} Ready", ignoring=NOT_YET)

    # The board exists in the api now: a player scores through the ingress.
    player = register(ingress)
    body = {
        "action_id": f"a-{secrets.token_hex(8)}",
        "score_increment": 7,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    response = ingress.post(
        f"/api/v1/leaderboards/{name}/scores", json=body, headers=player.headers
    )
    assert response.status_code == 200, response.text

    # The operator refreshes the status; kubectl shows it in the printer columns.
    def columns() -> list[str]:
        line = release.kubectl("get", "lb", name, "--no-headers")
        return line.split()

    row = wait_for(
        lambda: (c := columns()) and c[2] == "1" and c[3] == "7" and c,
        180,
        "players 1 and top score 7 in `kubectl get lb`",
        ignoring=NOT_YET,
    )
    assert row[0] == name and row[1] == "10" and row[-2] == "True"  # ..., READY, AGE

    release.kubectl("delete", "leaderboard", name, "--wait=true", "--timeout=120s")
    # deletionPolicy Delete: the finalizer archived and deleted the board in the api.
    wait_for(
        lambda: ingress.get(f"/api/v1/leaderboards/{name}").status_code == 404,
        60,
        "board gone from the api",
        ignoring=NOT_YET,
    )
