"""`helm install --wait` on a real node: every workload Ready under the chart's security
contexts, the migration hook done, Services and DNS working, `helm test` green."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.release import NOT_YET, Release
from tests.support.waits import wait_for

COMPONENTS = ("api", "realtime", "operator", "postgresql", "redis")


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _all_available(release: Release) -> list[dict[str, Any]] | None:
    """The Deployments once each is Available with all its replicas Ready and, under an HPA,
    scaled to at least the HPA's minimum (the HPA acts some seconds after the install)."""
    minimum = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"].get("minReplicas", 1)
        for hpa in release.json("get", "hpa")["items"]
    }
    deployments: list[dict[str, Any]] = release.json("get", "deployments")["items"]
    for deployment in deployments:
        if deployment["spec"]["replicas"] < minimum.get(deployment["metadata"]["name"], 0):
            return None
        status = deployment["status"]
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        if conditions.get("Available") != "True":
            return None
        if status.get("readyReplicas") != deployment["spec"]["replicas"]:
            return None
    return deployments


def test_every_deployment_and_statefulset_is_available(release: Release) -> None:
    # The HPAs raise api and realtime from 1 to their minimum after `helm install --wait`
    # returned (a Deployment under an HPA has no replicas of its own): wait for those too.
    deployments = wait_for(
        lambda: _all_available(release), 180, "all replicas Ready", ignoring=NOT_YET
    )
    assert {d["metadata"]["name"] for d in deployments} == {
        f"{release.name}-scoreboard-{c}" for c in ("api", "realtime", "operator")
    }
    replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in deployments}
    assert replicas[f"{release.name}-scoreboard-api"] >= 2, replicas
    for statefulset in release.json("get", "statefulsets")["items"]:
        assert statefulset["status"]["readyReplicas"] == 1, statefulset["metadata"]["name"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_pods_run_non_root_on_a_read_only_root(release: Release, component: str) -> None:
    pods = release.pods(component)
    assert pods, f"no {component} pod"
    for pod in pods:
        assert _ready(pod), pod["metadata"]["name"]
        name = pod["metadata"]["name"]
        for container in pod["spec"]["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["runAsNonRoot"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
        # What the running process really is (exec goes api server -> kubelet -> runc).
        uid = release.kubectl("exec", name, "--", "sh", "-c", "id -u").strip()
        assert uid != "0" and int(uid) > 0
        probe = release.kubectl("exec", name, "--", "sh", "-c", "touch /probe 2>&1 || echo refused")
        assert "Read-only file system" in probe, probe


def test_the_api_pods_migrated_before_serving(release: Release) -> None:
    """On install the migration runs in each api pod's init container (a post-install hook
    would deadlock `helm install --wait`); it completed, and the schema is there."""
    for pod in release.pods("api"):
        statuses = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
        done = statuses["migrate"]["state"]["terminated"]
        assert done["exitCode"] == 0 and done["reason"] == "Completed", done
    tables = release.kubectl(
        "exec",
        f"{release.name}-scoreboard-postgresql-0",
        "--",
        "psql",
        "-U",
        "scoreboard",
        "-d",
        "scoreboard",
        "-Atc",
        "SELECT version_num FROM alembic_version",
    )
    assert tables.strip(), "no alembic version recorded"


def test_services_resolve_through_cluster_dns(release: Release) -> None:
    """From inside a pod: the api's Service name resolves (CoreDNS) and answers through its
    ClusterIP (kube-proxy)."""
    realtime = release.pods("realtime")[0]["metadata"]["name"]
    api = f"{release.name}-scoreboard-api"
    script = (
        "import socket, urllib.request;"
        f"print(socket.gethostbyname('{api}'));"
        f"print(urllib.request.urlopen('http://{api}:8000/healthz', timeout=5).status)"
    )
    out = release.kubectl("exec", realtime, "--", "python3", "-c", script).split()
    cluster_ip = release.json("get", "service", api)["spec"]["clusterIP"]
    assert out == [cluster_ip, "200"]


def test_helm_test_passes(release: Release) -> None:
    out = release.helm("test", release.name, "--timeout", "5m")
    assert "Phase:          Succeeded" in out or "Succeeded" in out, out
