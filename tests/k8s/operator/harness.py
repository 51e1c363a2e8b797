"""The operator tier's harness: the CRD, the chart's RBAC rendered for the operator's identity, an operator process, a TCP proxy to the api (to cut it), Leaderboard helpers."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from scoreboard_devstack.servers import ManagedProcess, free_port

from tests.k8s.apiserver import REPO_ROOT, KubeAPIServer
from tests.support.services import cli
from tests.support.waits import wait_for

CRD_FILE = (
    REPO_ROOT / "charts" / "scoreboard" / "files" / "crds" / "leaderboards.scoreboard.dev.yaml"
)


PEERING_CRDS = REPO_ROOT / "charts" / "scoreboard" / "crds" / "kopf-peering.yaml"


CHART = REPO_ROOT / "charts" / "scoreboard"


RELEASE = "sb"


RELEASE_NAMESPACE = "scoreboard-system"


GROUP_PATH = "/apis/scoreboard.dev/v1alpha1"


class TcpProxy:
    """A real TCP forwarder on a fixed loopback port; ``down()`` closes the listener and every
    open connection (connection refused, like a dead Service), ``up()`` listens again.
    ``stall()`` keeps connections open but forwards nothing (a hung api) until ``resume()``;
    ``held`` counts the chunks received meanwhile."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self.held = 0

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

    def stall(self) -> None:
        self.held = 0
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

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
                if not self._flowing.is_set():
                    self.held += 1
                    self._flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


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


def event_reasons(kube: KubeAPIServer, namespace: str, name: str) -> list[str]:
    return [e["reason"] for e in events_for(kube, namespace, name)]
