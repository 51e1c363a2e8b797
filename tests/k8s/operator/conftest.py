"""Fixtures for the operator against a real kube-apiserver and a real api (PostgreSQL + Redis).

The operator runs as a real subprocess (``scoreboard-operator run``) with a kubeconfig holding a
TokenRequest token of the chart's ServiceAccount, bound by the RBAC objects the chart renders:
a permission the chart forgets fails these tests. The api is reached through a TCP proxy the
tests can switch off and on, to cut the operator from a live api without stopping it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from scoreboard_devstack.servers import ServiceProcess, free_port

from tests.k8s.apiserver import KubeAPIServer
from tests.k8s.operator.harness import (
    CRD_FILE,
    PEERING_CRDS,
    RELEASE_NAMESPACE,
    AdminClient,
    OperatorFactory,
    OperatorIdentity,
    OperatorProcess,
    Player,
    TcpProxy,
    render_chart,
)


@pytest.fixture(scope="session")
def leaderboard_crd(kube: KubeAPIServer) -> Path:
    """The chart's CRD file, applied as is (server-side) and Established."""
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(PEERING_CRDS))
    kube.wait_for_crds_established(
        ["leaderboards.scoreboard.dev", "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"]
    )
    return CRD_FILE


@pytest.fixture(scope="session")
def operator_identity(kube: KubeAPIServer, leaderboard_crd: Path) -> OperatorIdentity:
    """Apply exactly what the chart renders for the operator's identity (ServiceAccount,
    ClusterRole/Role and bindings, peering object), then mint a token for that account."""
    kube.ensure_namespace(RELEASE_NAMESPACE)
    rendered = render_chart(
        kube,
        "templates/operator/serviceaccount.yaml",
        "templates/operator/rbac.yaml",
        "templates/operator/peering.yaml",
    )
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    kube.kubectl("apply", "-f", "-", input=rendered)
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    peering = next(d for d in docs if d["kind"] in ("ClusterKopfPeering", "KopfPeering"))
    token = kube.create_token(
        RELEASE_NAMESPACE, sa["metadata"]["name"], expiration_seconds=3 * 3600, create=False
    )
    return OperatorIdentity(
        namespace=RELEASE_NAMESPACE,
        service_account=sa["metadata"]["name"],
        peering_name=peering["metadata"]["name"],
        kubeconfig=kube.kubeconfig_for_token(token),
    )


@pytest.fixture(scope="session")
def api_proxy(api: ServiceProcess) -> Iterator[TcpProxy]:
    proxy = TcpProxy(api.port)
    proxy.up()
    yield proxy
    proxy.down()


@pytest.fixture(scope="session")
def admin(api: ServiceProcess, admin_token: str) -> AdminClient:
    return AdminClient(api.url, admin_token)


@pytest.fixture(scope="session")
def start_operator(
    kube: KubeAPIServer,
    operator_identity: OperatorIdentity,
    api_proxy: TcpProxy,
    admin_token: str,
    base_env: dict[str, str],
    log_dir: Path,
) -> Iterator[OperatorFactory]:
    """Start operator replicas (peering on, fast timers); all stopped at the end."""
    started: list[OperatorProcess] = []

    def start(**overrides: str) -> OperatorProcess:
        name = f"operator-{len(started)}-{secrets.token_hex(2)}"
        env = {
            **base_env,
            "KUBECONFIG": str(operator_identity.kubeconfig),
            "SCOREBOARD_API_URL": api_proxy.url,
            "SCOREBOARD_API_TOKEN": admin_token,
            "SCOREBOARD_API_TIMEOUT_SECONDS": "3",
            "DRIFT_CHECK_SECONDS": "2",
            "SEASON_CHECK_SECONDS": "1",
            "RETRY_MAX_DELAY_SECONDS": "3",
            "METRICS_PORT": str(free_port()),
            "HEALTH_PORT": str(free_port()),
            "PEERING_NAME": operator_identity.peering_name,
            "POD_NAME": name,
            "LOG_LEVEL": "INFO",
            **overrides,
        }
        if "WATCH_NAMESPACE" not in overrides:
            env.pop("WATCH_NAMESPACE", None)
        process = OperatorProcess(name, env, log_dir)
        started.append(process)
        process.start()
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture(scope="session")
def operator(start_operator: OperatorFactory) -> OperatorProcess:
    """The session's operator replica, peering priority 1000 (the peering test starts replicas
    below and above it)."""
    return start_operator(PEERING_PRIORITY="1000")


@pytest.fixture
def namespace(kube: KubeAPIServer) -> str:
    name = f"lb-{secrets.token_hex(3)}"
    kube.ensure_namespace(name)
    return name


@pytest.fixture
def player(api: ServiceProcess) -> Player:
    username = f"p{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    with httpx.Client(base_url=api.url, timeout=10) as c:
        r = c.post("/api/v1/auth/register", json={"username": username, "password": password})
        assert r.status_code == 201, r.text
        r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        return Player(api.url, username, r.json()["access_token"])
