"""The Leaderboard CRD on a real API server: schema, defaults, CEL messages, printer columns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.k8s.apiserver import KubeAPIServer
from tests.k8s.operator.harness import GROUP_PATH, apply_leaderboard, get_leaderboard

pytestmark = pytest.mark.usefixtures("leaderboard_crd")


def _create(
    kube: KubeAPIServer, namespace: str, name: str, spec: dict[str, Any]
) -> tuple[int, str]:
    body = {
        "apiVersion": "scoreboard.dev/v1alpha1",
        "kind": "Leaderboard",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    with kube.admin_client() as c:
        r = c.post(f"{GROUP_PATH}/namespaces/{namespace}/leaderboards", json=body)
    return r.status_code, r.text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"size": 0}, "size must be between 1 and 100"),
        ({"size": 101}, "size must be between 1 and 100"),
        (
            {"season": {"schedule": "every monday"}},
            "season.schedule must be a 5-field cron expression",
        ),
        ({"season": {"schedule": "* * * *"}}, "season.schedule must be a 5-field cron expression"),
        (
            {"season": {"schedule": "0 0 * * 1", "timeZone": ""}},
            "season.timeZone must not be empty",
        ),
        (
            {"rateLimit": {"perUser": {"limit": 0}}},
            "rateLimit.perUser.limit must be between 1 and 1000000",
        ),
        (
            {"rateLimit": {"perIP": {"windowSeconds": -5}}},
            "rateLimit.perIP.windowSeconds must be between 1 and 86400",
        ),
        ({"scoring": {"maxIncrement": 0}}, "scoring.maxIncrement must be between 1 and 2147483647"),
        (
            {"scoring": {"maxIncrement": 5, "actions": {"win": 10}}},
            "scoring.actions points must not exceed scoring.maxIncrement",
        ),
        (
            {"scoring": {"actions": {"bad name": 1}}},
            "scoring.actions names must be 1-64 characters",
        ),
        ({"fraud": {"onViolation": "ban"}}, "fraud.onViolation must be flag or reject"),
        ({"fraud": {"maxPointsPerMinute": 0}}, "fraud.maxPointsPerMinute must be positive"),
        ({"deletionPolicy": "Orphan"}, "deletionPolicy must be Retain or Delete"),
        (
            {"writers": ["users", "admins"]},
            "writers must be a non-empty subset of [users, services]",
        ),
        ({"writers": []}, "writers must be a non-empty subset of [users, services]"),
        ({"clockSkewSeconds": 0}, "clockSkewSeconds must be between 1 and 86400"),
        (
            {"broadcast": {"minIntervalMs": 1}},
            "broadcast.minIntervalMs must be between 10 and 60000",
        ),
        (
            {"operator": "best", "scoring": {"actions": {"win": 10}}},
            "scoring.actions only applies to operator increment",
        ),
        ({"order": "up"}, "spec.order: Unsupported value"),
        ({"operator": "sum"}, "spec.operator: Unsupported value"),
    ],
)
def test_invalid_leaderboards_are_rejected_with_the_cel_message(
    kube: KubeAPIServer, namespace: str, spec: dict[str, Any], message: str
) -> None:
    status, text = _create(kube, namespace, "bad", spec)
    assert status == 422, text
    assert message in text
    assert get_leaderboard(kube, namespace, "bad") is None


def test_unknown_fields_are_refused(kube: KubeAPIServer, namespace: str) -> None:
    result = kube.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "scoreboard.dev/v1alpha1",
                "kind": "Leaderboard",
                "metadata": {"name": "typo", "namespace": namespace},
                "spec": {"sise": 5},
            }
        ),
        check=False,
    )
    assert result.returncode != 0
    assert 'unknown field "spec.sise"' in result.stderr


def test_defaults_fill_a_minimal_spec(kube: KubeAPIServer, namespace: str) -> None:
    apply_leaderboard(kube, namespace, "minimal", {"season": {"schedule": "@weekly"}})
    lb = get_leaderboard(kube, namespace, "minimal")
    assert lb is not None
    spec = lb["spec"]
    assert spec["size"] == 10
    assert spec["rateLimit"] == {
        "perUser": {"limit": 10, "windowSeconds": 60},
        "perIP": {"limit": 100, "windowSeconds": 3600},
    }
    assert spec["writers"] == ["users"]
    assert spec["access"] == {"publicRead": True, "anonymousLive": True}
    assert spec["season"] == {"schedule": "@weekly", "timeZone": "UTC", "keep": 12}
    assert spec["fraud"]["onViolation"] == "flag"
    assert spec["deletionPolicy"] == "Retain"
    assert spec["suspended"] is False
    assert (spec["order"], spec["operator"]) == ("desc", "increment")


def test_status_is_a_subresource(kube: KubeAPIServer, namespace: str) -> None:
    apply_leaderboard(kube, namespace, "sub", {"size": 3})
    path = f"{GROUP_PATH}/namespaces/{namespace}/leaderboards/sub"
    with kube.admin_client() as c:
        # A status written through the main resource is ignored...
        r = c.patch(
            path,
            json={"status": {"players": 5}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        assert "players" not in (r.json().get("status") or {})
        # ...and accepted through /status, without bumping the generation.
        r = c.patch(
            f"{path}/status",
            json={"status": {"players": 5}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"]["players"] == 5
        assert r.json()["metadata"]["generation"] == 1


def test_printer_columns_through_the_table_api(kube: KubeAPIServer, namespace: str) -> None:
    apply_leaderboard(kube, namespace, "table", {"size": 7, "displayName": "Table Board"})
    with kube.admin_client() as c:
        r = c.patch(
            f"{GROUP_PATH}/namespaces/{namespace}/leaderboards/table/status",
            json={
                "status": {
                    "players": 4,
                    "topScore": 120,
                    "season": 3,
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "Reconciled",
                            "message": "",
                            "lastTransitionTime": "2025-01-01T00:00:00Z",
                        }
                    ],
                }
            },
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert r.status_code == 200, r.text
        r = c.get(
            f"{GROUP_PATH}/namespaces/{namespace}/leaderboards",
            headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"},
        )
    assert r.status_code == 200, r.text
    table = r.json()
    assert table["kind"] == "Table"
    columns = [(col["name"], col.get("priority", 0)) for col in table["columnDefinitions"]]
    assert columns[:7] == [
        ("Name", 0),
        ("Size", 0),
        ("Players", 0),
        ("Top Score", 0),
        ("Season", 0),
        ("Ready", 0),
        ("Age", 0),
    ]
    assert {name for name, priority in columns if priority == 1} >= {
        "Reason",
        "Display Name",
        "Next Reset",
    }
    (row,) = table["rows"]
    cells = dict(zip([name for name, _ in columns], row["cells"], strict=True))
    assert (
        cells["Name"],
        cells["Size"],
        cells["Players"],
        cells["Top Score"],
        cells["Season"],
        cells["Ready"],
    ) == (
        "table",
        7,
        4,
        120,
        3,
        "True",
    )
    assert (cells["Reason"], cells["Display Name"]) == ("Reconciled", "Table Board")


def test_short_name_and_category(kube: KubeAPIServer, namespace: str) -> None:
    apply_leaderboard(kube, namespace, "short", {})
    assert "short" in kube.kubectl("get", "lb", "-n", namespace, "-o", "name").stdout
    assert "short" in kube.kubectl("get", "scoreboard", "-n", namespace, "-o", "name").stdout
    wide = kube.kubectl("get", "leaderboards", "-n", namespace, "-o", "wide").stdout
    header = wide.splitlines()[0].split()
    assert header[:8] == ["NAME", "SIZE", "PLAYERS", "TOP", "SCORE", "SEASON", "READY", "AGE"]
    assert "SCHEDULE" in header
