"""Fixtures for the operator against a real kube-apiserver and a real api (PostgreSQL + Redis).

The operator runs as a real subprocess (``scoreboard-operator run``) with a kubeconfig holding a
TokenRequest token of the chart's ServiceAccount, bound by the RBAC objects the chart renders:
a permission the chart forgets fails these tests. The api is reached through a TCP proxy the
tests can switch off and on, to cut the operator from a live api without stopping it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from scoreboard_devstack.servers import ManagedProcess, ServiceProcess, free_port

from tests.conftest import cli
from tests.k8s.apiserver import REPO_ROOT, KubeAPIServer

CRD_FILE = (
    REPO_ROOT / "charts" / "scoreboard" / "files" / "crds" / "leaderboards.scoreboard.dev.yaml"
)
PEERING_CRDS = REPO_ROOT / "charts" / "scoreboard" / "crds" / "kopf-peering.yaml"
CHART = REPO_ROOT / "charts" / "scoreboard"
RELEASE = "sb"
RELEASE_NAMESPACE = "scoreboard-system"
GROUP_PATH = "/apis/scoreboard.dev/v1alpha1"

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], timeout: float = 30.0, what: str = "", interval: float = 0.2
) -> T:
    """Poll ``probe`` until it returns a truthy value; fail with ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


# --------------------------------------------------------------------------- TCP proxy


class TcpProxy:
    """A real TCP forwarder on a fixed loopback port; ``down()`` closes the listener and every
    open connection (connection refused, like a dead Service), ``up()`` listens again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        if self._thread is not None:
            self._thread.join(5)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


# --------------------------------------------------------------------------- cluster setup


@pytest.fixture(scope="session")
def leaderboard_crd(kube: KubeAPIServer) -> Path:
    """The chart's CRD file, applied as is (server-side) and Established."""
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(PEERING_CRDS))
    kube.wait_for_crds_established(
        ["leaderboards.scoreboard.dev", "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"]
    )
    return CRD_FILE


def render_chart(kube: KubeAPIServer, *templates: str, values: dict[str, str] | None = None) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE]
    for template in templates:
        args += ["--show-only", template]
    for key, value in (values or {}).items():
        args += ["--set", f"{key}={value}"]
    return kube.helm(*args).stdout


@dataclass(frozen=True)
class OperatorIdentity:
    """The chart's operator ServiceAccount and a kubeconfig holding a TokenRequest token of it."""

    namespace: str
    service_account: str
    peering_name: str
    kubeconfig: Path


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


# --------------------------------------------------------------------------- api side


@pytest.fixture(scope="session")
def api_proxy(api: ServiceProcess) -> Iterator[TcpProxy]:
    proxy = TcpProxy(api.port)
    proxy.up()
    yield proxy
    proxy.down()


@dataclass
class AdminClient:
    """The api's admin and public endpoints, called by the tests (not the operator)."""

    url: str
    token: str

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    def get(self, path: str) -> httpx.Response:
        with self._client() as c:
            return c.get(path)

    def board(self, name: str) -> dict[str, Any] | None:
        r = self.get(f"/api/v1/leaderboards/{name}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return dict(r.json())

    def stats(self, name: str) -> dict[str, Any] | None:
        r = self.get(f"/api/v1/admin/leaderboards/{name}/stats")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return dict(r.json())

    def seasons(self, name: str) -> dict[str, Any]:
        r = self.get(f"/api/v1/leaderboards/{name}/seasons")
        r.raise_for_status()
        return dict(r.json())

    def delete(self, name: str, archive: bool = False) -> httpx.Response:
        with self._client() as c:
            return c.delete(
                f"/api/v1/admin/leaderboards/{name}", params={"archive": str(archive).lower()}
            )


@pytest.fixture(scope="session")
def admin(api: ServiceProcess, admin_token: str) -> AdminClient:
    return AdminClient(api.url, admin_token)


# --------------------------------------------------------------------------- operator


class OperatorProcess(ManagedProcess):
    """``scoreboard-operator run`` as the chart's ServiceAccount."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__(name, log_dir / f"{name}.log")
        self.env = env
        self.health_port = int(env["HEALTH_PORT"])
        self.metrics_port = int(env["METRICS_PORT"])

    def start(self, timeout: float = 60.0) -> None:
        self._spawn([cli("scoreboard-operator"), "run"], env=self.env)
        wait_for(self._healthy, timeout, f"{self.name} /healthz\n{self.log_tail()}")

    def _healthy(self) -> bool:
        if not self.running():
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail(80)}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1).is_success
        except httpx.HTTPError:
            return False

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records


OperatorFactory = Callable[..., OperatorProcess]


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


# --------------------------------------------------------------------------- CR helpers


def apply_leaderboard(
    kube: KubeAPIServer, namespace: str, name: str, spec: dict[str, Any], **meta: Any
) -> None:
    body = {
        "apiVersion": "scoreboard.dev/v1alpha1",
        "kind": "Leaderboard",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": spec,
    }
    kube.kubectl("apply", "-f", "-", input=json.dumps(body))


def get_leaderboard(kube: KubeAPIServer, namespace: str, name: str) -> dict[str, Any] | None:
    with kube.admin_client() as c:
        r = c.get(f"{GROUP_PATH}/namespaces/{namespace}/leaderboards/{name}")
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return dict(r.json())


def condition(lb: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((lb or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def wait_ready(
    kube: KubeAPIServer, namespace: str, name: str, status: str = "True", timeout: float = 30.0
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        lb = get_leaderboard(kube, namespace, name)
        ready = condition(lb, "Ready")
        if (
            lb is not None
            and ready is not None
            and ready["status"] == status
            and lb.get("status", {}).get("observedGeneration") == lb["metadata"]["generation"]
        ):
            return lb
        return None

    return wait_for(probe, timeout, f"{namespace}/{name} Ready={status}")


def events_for(kube: KubeAPIServer, namespace: str, name: str) -> list[dict[str, Any]]:
    with kube.admin_client() as c:
        r = c.get(
            f"/api/v1/namespaces/{namespace}/events",
            params={"fieldSelector": f"involvedObject.name={name},involvedObject.kind=Leaderboard"},
        )
    r.raise_for_status()
    return list(r.json()["items"])


@dataclass
class Player:
    """A registered user of the api with an access token."""

    api_url: str
    username: str
    token: str

    def submit(self, board: str, increment: int = 1) -> httpx.Response:
        return httpx.post(
            f"{self.api_url}/api/v1/leaderboards/{board}/scores",
            json={
                "action_id": secrets.token_hex(8),
                "score_increment": increment,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )


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


def event_reasons(kube: KubeAPIServer, namespace: str, name: str) -> list[str]:
    return [e["reason"] for e in events_for(kube, namespace, name)]
