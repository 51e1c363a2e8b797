"""The chart against a real kube-apiserver: server-side dry-run of every rendered manifest for
each value set, then `helm install`, `helm upgrade`, `helm uninstall`.

No kubelet runs here, so pods never start and nothing becomes Ready. Helm waits for hook Jobs
to complete (the migration Job is a hook), so install/upgrade use `--no-hooks` and never
`--wait`; the hook manifests themselves are covered by the server-side dry-run (helm template
renders hooks too) and by tests/integration/test_chart.py.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_chart import MONITORING, VALUE_SETS

from .apiserver import KubeAPIServer

pytestmark = pytest.mark.k8s

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "scoreboard"
LEADERBOARD_CRD = CHART / "files" / "crds" / "leaderboards.scoreboard.dev.yaml"
PEERING_CRDS = CHART / "crds" / "kopf-peering.yaml"
MONITORING_CRD_FILES = {
    "monitoring.coreos.com_servicemonitors.yaml": "servicemonitors.monitoring.coreos.com",
    "monitoring.coreos.com_podmonitors.yaml": "podmonitors.monitoring.coreos.com",
    "monitoring.coreos.com_prometheusrules.yaml": "prometheusrules.monitoring.coreos.com",
}
NAMESPACED_KINDS = (
    "deployments,statefulsets,services,configmaps,secrets,serviceaccounts,jobs,ingresses,"
    "networkpolicies,poddisruptionbudgets,horizontalpodautoscalers,roles,rolebindings,"
    "servicemonitors,prometheusrules,kopfpeerings,leaderboards"
)
CLUSTER_KINDS = "clusterroles,clusterrolebindings,clusterkopfpeerings"


@pytest.fixture(scope="module")
def cluster(kube: KubeAPIServer) -> KubeAPIServer:
    """The API server with the prometheus-operator CRDs and the chart's CRDs installed."""
    for filename in MONITORING_CRD_FILES:
        kube.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(kube.tools.monitoring_crds / filename),
        )
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(PEERING_CRDS))
    kube.wait_for_crds_established(
        [*MONITORING_CRD_FILES.values(), "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"]
    )
    return kube


def new_namespace(kube: KubeAPIServer, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kube.ensure_namespace(name)
    return name


def leftovers(kube: KubeAPIServer, namespace: str, release: str) -> list[str]:
    """Objects of this release (its namespace, or cluster-scoped ones named after it)."""
    selector = f"app.kubernetes.io/instance={release}"
    names = kube.kubectl(
        "get", NAMESPACED_KINDS, "-n", namespace, "-l", selector, "-o", "name", "--ignore-not-found"
    ).stdout.split()
    cluster_objs = json.loads(
        kube.kubectl("get", CLUSTER_KINDS, "-l", selector, "-o", "json").stdout
    )
    names += [
        f"{item['kind']}/{item['metadata']['name']}"
        for item in cluster_objs["items"]
        if namespace[:20] in item["metadata"]["name"]
    ]
    return names


# ------------------------------------------------------------------ dry-run of every value set


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_rendered_manifest_is_accepted_by_the_apiserver(
    cluster: KubeAPIServer, value_set: str
) -> None:
    kube = cluster
    # The Leaderboard CRD must really exist for the sample Leaderboard to be validated.
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(LEADERBOARD_CRD))
    kube.wait_for_crds_established(["leaderboards.scoreboard.dev"])
    namespace = new_namespace(kube, "dry")
    args = list(VALUE_SETS[value_set])
    if "operator.watchNamespace=games" in args:
        kube.ensure_namespace("games")
    if MONITORING[0] not in args:
        args += MONITORING  # the CRDs are served here, so render the monitoring objects too
    rendered = kube.helm(
        "template", "sb", str(CHART), "--namespace", namespace, "--include-crds", *args
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert any(d["kind"] == "ServiceMonitor" for d in docs)
    result = kube.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--dry-run=server",
        "--field-manager",
        "chart-test",
        "-f",
        "-",
        input=rendered,
        timeout=180,
    )
    applied = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(applied) == len(docs), result.stdout


# ------------------------------------------------------------------ install / upgrade / uninstall


def _secret(kube: KubeAPIServer, namespace: str, name: str) -> dict[str, str]:
    data = json.loads(kube.kubectl("get", "secret", name, "-n", namespace, "-o", "json").stdout)[
        "data"
    ]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def _can(kube: KubeAPIServer, who: str, *args: str) -> bool:
    result = kube.kubectl("auth", "can-i", *args, f"--as={who}", check=False)
    return result.stdout.strip() == "yes"


def test_install_upgrade_uninstall(cluster: KubeAPIServer) -> None:
    kube = cluster
    namespace = new_namespace(kube, "helm")
    release = "sb"
    common = [
        "--namespace",
        namespace,
        "--no-hooks",
        "--timeout",
        "60s",
        # the CRD may already exist (other tests apply it): adopt it into the release.
        # The monitoring CRDs are served, so ServiceMonitors and the PrometheusRule render.
        "--take-ownership",
    ]
    kube.helm("install", release, str(CHART), *common, "--set", "networkPolicy.enabled=true")

    status = json.loads(kube.helm("status", release, "-n", namespace, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"
    deployments = kube.kubectl("get", "deployments", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(deployments) == [
        f"deployment.apps/{release}-scoreboard-{c}" for c in ("api", "operator", "realtime")
    ]
    kinds_present = kube.kubectl(
        "get", "servicemonitors,prometheusrules,networkpolicies", "-n", namespace, "-o", "name"
    ).stdout
    assert "servicemonitor" in kinds_present and "prometheusrule" in kinds_present
    crd = json.loads(kube.kubectl("get", "crd", "leaderboards.scoreboard.dev", "-o", "json").stdout)
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    peering = f"{release}-scoreboard-{namespace}"
    kube.kubectl("get", "clusterkopfpeering", peering)

    # The operator's RBAC is what kopf needs, and nothing more.
    operator = f"system:serviceaccount:{namespace}:{release}-scoreboard-operator"
    assert _can(kube, operator, "watch", "leaderboards.scoreboard.dev", "--all-namespaces")
    assert _can(
        kube,
        operator,
        "patch",
        "leaderboards.scoreboard.dev",
        "--subresource=status",
        "-n",
        "default",
    )
    assert _can(
        kube,
        operator,
        "update",
        "leaderboards.scoreboard.dev",
        "--subresource=finalizers",
        "-n",
        "default",
    )
    assert not _can(kube, operator, "update", "leaderboards.scoreboard.dev", "-n", "default")
    assert _can(kube, operator, "create", "events", "-n", "default")
    assert _can(kube, operator, "list", "customresourcedefinitions.apiextensions.k8s.io")
    assert _can(kube, operator, "patch", f"clusterkopfpeerings.kopf.dev/{peering}")
    assert not _can(kube, operator, "patch", "clusterkopfpeerings.kopf.dev/someone-else")
    # Secrets: one named by a Leaderboard (webhook, signing keys) is read; never listed/watched.
    assert _can(kube, operator, "get", "secrets", "-n", namespace)
    assert not _can(kube, operator, "list", "secrets", "-n", namespace)
    assert not _can(kube, operator, "watch", "secrets", "-n", namespace)
    assert not _can(kube, operator, "delete", "leaderboards.scoreboard.dev", "-n", "default")
    assert not _can(kube, operator, "create", "pods", "-n", namespace)
    api_sa = f"system:serviceaccount:{namespace}:{release}-scoreboard-api"
    assert not _can(kube, api_sa, "list", "leaderboards.scoreboard.dev", "-n", namespace)

    auth_before = _secret(kube, namespace, f"{release}-scoreboard-auth")
    pg_before = _secret(kube, namespace, f"{release}-scoreboard-postgresql")
    assert "BEGIN EC PRIVATE KEY" in auth_before["jwt-private-key.pem"]

    # Upgrade with a changed value: config changes, generated secrets are kept (lookup).
    kube.helm(
        "upgrade",
        release,
        str(CHART),
        *common,
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "api.registrationEnabled=false",
        "--set",
        "config.logLevel=DEBUG",
    )
    cm = json.loads(
        kube.kubectl(
            "get", "configmap", f"{release}-scoreboard-api", "-n", namespace, "-o", "json"
        ).stdout
    )["data"]
    assert cm["REGISTRATION_ENABLED"] == "false" and cm["LOG_LEVEL"] == "DEBUG"
    assert _secret(kube, namespace, f"{release}-scoreboard-auth") == auth_before
    assert _secret(kube, namespace, f"{release}-scoreboard-postgresql") == pg_before
    history = json.loads(kube.helm("history", release, "-n", namespace, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2]

    # Uninstall: nothing of the release remains but the kept CRD (and crds/ kopf CRDs).
    kube.helm("uninstall", release, "-n", namespace, "--timeout", "60s")
    assert leftovers(kube, namespace, release) == []
    kube.kubectl("get", "crd", "leaderboards.scoreboard.dev")  # resource-policy: keep
    kube.kubectl("get", "crd", "clusterkopfpeerings.kopf.dev")
    remaining = kube.kubectl(
        "get", "all,cm,secret,sa,ingress,networkpolicy,pdb,hpa", "-n", namespace, "-o", "json"
    ).stdout
    items: list[dict[str, Any]] = json.loads(remaining)["items"]
    ours = [
        i
        for i in items
        if i["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "scoreboard"
    ]
    assert ours == []


def test_namespaced_operator_install(cluster: KubeAPIServer) -> None:
    kube = cluster
    namespace = new_namespace(kube, "helmns")
    watched = new_namespace(kube, "games")
    release = "boards"
    kube.helm(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--no-hooks",
        "--take-ownership",
        "--set",
        f"operator.watchNamespace={watched}",
        "--set",
        "ingress.enabled=false",
    )
    operator = f"system:serviceaccount:{namespace}:{release}-scoreboard-operator"
    assert _can(kube, operator, "watch", "leaderboards.scoreboard.dev", "-n", watched)
    assert not _can(kube, operator, "watch", "leaderboards.scoreboard.dev", "-n", "default")
    assert not _can(kube, operator, "list", "namespaces")
    kube.kubectl("get", "kopfpeering", f"{release}-scoreboard", "-n", watched)
    kube.helm("uninstall", release, "-n", namespace)
    assert (
        kube.kubectl(
            "get", "kopfpeerings,roles,rolebindings", "-n", watched, "-o", "name"
        ).stdout.strip()
        == ""
    )
    assert leftovers(kube, namespace, release) == []
