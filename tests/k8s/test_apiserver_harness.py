"""The harness itself: a real kube-apiserver + etcd, kubectl, helm, RBAC, CRDs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from .apiserver import KubeAPIServer, Tools, ToolsMissingError

pytestmark = pytest.mark.k8s

# What the chart renders when the prometheus-operator CRDs exist.
MONITORING_CRDS = {
    "monitoring.coreos.com_servicemonitors.yaml": "servicemonitors.monitoring.coreos.com",
    "monitoring.coreos.com_podmonitors.yaml": "podmonitors.monitoring.coreos.com",
    "monitoring.coreos.com_prometheusrules.yaml": "prometheusrules.monitoring.coreos.com",
}


def new_namespace(kube: KubeAPIServer) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.ensure_namespace(name)
    return name


def test_serves_version(kube: KubeAPIServer) -> None:
    with kube.admin_client() as c:
        r = c.get("/version")
    assert r.status_code == 200
    version = r.json()
    assert version["major"] == "1"
    assert version["gitVersion"].startswith("v1.")
    out = kube.kubectl("version", "-o", "json").stdout
    assert json.loads(out)["serverVersion"]["gitVersion"] == version["gitVersion"]


def test_default_namespace_exists(kube: KubeAPIServer) -> None:
    out = kube.kubectl("get", "namespace", "default", "-o", "jsonpath={.metadata.name}").stdout
    assert out == "default"


def test_namespaced_object_round_trips(kube: KubeAPIServer) -> None:
    ns = new_namespace(kube)
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "round-trip", "namespace": ns, "labels": {"app": "scoreboard"}},
        "data": {"greeting": "hello", "json": '{"a": 1}'},
    }
    with kube.admin_client() as c:
        created = c.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm)
        assert created.status_code == 201, created.text
        uid = created.json()["metadata"]["uid"]

        got = c.get(f"/api/v1/namespaces/{ns}/configmaps/round-trip")
        assert got.status_code == 200
        assert got.json()["data"] == cm["data"]
        assert got.json()["metadata"]["uid"] == uid

        patched = c.patch(
            f"/api/v1/namespaces/{ns}/configmaps/round-trip",
            json={"data": {"greeting": "bye"}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text

    # The same object through kubectl (admin kubeconfig).
    out = kube.kubectl("get", "configmap", "round-trip", "-n", ns, "-o", "json").stdout
    assert json.loads(out)["data"] == {"greeting": "bye", "json": '{"a": 1}'}
    listed = kube.kubectl("get", "configmaps", "-n", ns, "-l", "app=scoreboard", "-o", "name")
    assert listed.stdout.split() == ["configmap/round-trip"]

    kube.kubectl("delete", "configmap", "round-trip", "-n", ns, "--wait=false")
    with kube.admin_client() as c:
        assert c.get(f"/api/v1/namespaces/{ns}/configmaps/round-trip").status_code == 404


def test_service_account_token_is_bound_by_rbac(kube: KubeAPIServer) -> None:
    ns = new_namespace(kube)
    token = kube.create_token(ns, "reader")
    kubeconfig = kube.kubeconfig_for_token(token)

    # Authenticated as the ServiceAccount, but RBAC grants it nothing yet.
    with kube.client_for_token(token) as c:
        review = c.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        assert review.status_code == 201, review.text
        assert review.json()["status"]["userInfo"]["username"] == (
            f"system:serviceaccount:{ns}:reader"
        )
        assert c.get(f"/api/v1/namespaces/{ns}/configmaps").status_code == 403

    denied = kube.kubectl("get", "configmaps", "-n", ns, kubeconfig=kubeconfig, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    assert (
        kube.kubectl(
            "auth", "can-i", "list", "configmaps", "-n", ns, kubeconfig=kubeconfig, check=False
        ).stdout.strip()
        == "no"
    )

    kube.kubectl(
        "create", "role", "cm-reader", "-n", ns, "--verb=get,list", "--resource=configmaps"
    )
    kube.kubectl(
        "create",
        "rolebinding",
        "cm-reader",
        "-n",
        ns,
        "--role=cm-reader",
        f"--serviceaccount={ns}:reader",
    )

    allowed = kube.kubectl("get", "configmaps", "-n", ns, "-o", "name", kubeconfig=kubeconfig)
    assert allowed.returncode == 0
    with kube.client_for_token(token) as c:
        assert c.get(f"/api/v1/namespaces/{ns}/configmaps").status_code == 200
        # The Role grants reads only.
        created = c.post(
            f"/api/v1/namespaces/{ns}/configmaps",
            json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nope"}},
        )
        assert created.status_code == 403
        # And only in its own namespace.
        assert c.get("/api/v1/namespaces/default/configmaps").status_code == 403


def test_unknown_token_is_unauthorized(kube: KubeAPIServer) -> None:
    with kube.client_for_token("not-a-token") as c:
        assert c.get("/api/v1/namespaces").status_code == 401


def test_monitoring_crds_become_established(kube: KubeAPIServer) -> None:
    files = [str(kube.tools.monitoring_crds / f) for f in MONITORING_CRDS]
    args = ["apply", "--server-side", "--force-conflicts"]
    for f in files:
        args += ["-f", f]
    kube.kubectl(*args)
    kube.wait_for_crds_established(MONITORING_CRDS.values())

    ns = new_namespace(kube)
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "scoreboard", "namespace": ns},
        "spec": {
            "groups": [
                {
                    "name": "scoreboard",
                    "rules": [{"alert": "Always", "expr": "vector(1)", "for": "1m"}],
                }
            ]
        },
    }
    kube.kubectl("apply", "-f", "-", input=json.dumps(rule))
    out = kube.kubectl("get", "prometheusrules", "-n", ns, "-o", "name").stdout
    assert out.split() == ["prometheusrule.monitoring.coreos.com/scoreboard"]
    # The CRD's schema is enforced by the API server.
    bad = dict(rule, metadata={"name": "bad", "namespace": ns}, spec={"groups": "nope"})
    result = kube.kubectl("apply", "-f", "-", input=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert "spec.groups" in result.stderr


def test_helm_runs(kube: KubeAPIServer) -> None:
    out = kube.helm("version", "--short").stdout
    assert out.startswith("v4."), out
    # helm talks to this API server through the admin kubeconfig.
    assert kube.helm("list", "--all-namespaces", "-o", "json").stdout.strip() == "[]"


def test_missing_tools_fail_with_make_tools_hint(tmp_path: Path) -> None:
    env_file = tmp_path / "env.sh"
    env_file.write_text(f"export SCOREBOARD_ETCD='{tmp_path / 'etcd'}'\n")
    with pytest.raises(ToolsMissingError, match=r"run `make tools`") as info:
        Tools.find(env={}, env_file=env_file)
    message = str(info.value)
    assert "SCOREBOARD_KUBE_APISERVER is not set" in message
    assert f"SCOREBOARD_ETCD={tmp_path / 'etcd'} is not an executable file" in message
