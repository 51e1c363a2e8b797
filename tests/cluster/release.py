"""The `cluster` tier: the chart installed with `helm install --wait` on a real single-node
Kubernetes (``scoreboard-cluster``: containerd + runc, etcd, kube-apiserver, controller-manager,
scheduler, kubelet, kube-proxy, CoreDNS, Traefik), with the images `make images` built here.

The session brings the cluster up (or reuses a healthy one), installs one release and shares
it; the tests run in file order and the last one uninstalls it. ``SCOREBOARD_KEEP_CLUSTER=1``
leaves the cluster running afterwards (``make cluster-down`` removes it);
``SCOREBOARD_KEEP_RELEASE=1`` keeps the release too and reuses it on the next run (to debug one
test: `pytest tests/cluster -k ...`)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from scoreboard_devstack.cluster import Cluster, ClusterError

from tests.support.waits import TRANSIENT_ERRORS

# kubectl failing (an object not there yet) or a server not answering yet: wait on.
NOT_YET = (*TRANSIENT_ERRORS, ClusterError, KeyError)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "scoreboard"
VALUES = Path(__file__).with_name("values.yaml")
HOST = "scoreboard.test"
NAMESPACE = "scoreboard"
RELEASE = "sb"
IMAGES = [
    *(f"ghcr.io/scoreboard-dev/scoreboard-{c}:dev" for c in ("api", "realtime", "operator")),
    "scoreboard.local/postgresql:15-bookworm",
    "scoreboard.local/redis:7-bookworm",
]
PASSWORD = "cluster-tier-passphrase-7"


@dataclass
class Release:
    cluster: Cluster
    name: str
    namespace: str
    chart: Path = CHART

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return self.cluster.kubectl("-n", self.namespace, *args, stdin=stdin)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm(self, *args: str) -> str:
        return self.cluster.helm(*args, "-n", self.namespace)

    def installed(self) -> bool:
        try:
            self.helm("status", self.name)
        except ClusterError:
            return False
        return True

    @property
    def admin_key(self) -> str:
        secret = self.json("get", "secret", f"{self.name}-scoreboard-auth")
        return base64.b64decode(secret["data"]["admin-api-key"]).decode()

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def ingress(self, timeout: float = 15.0) -> httpx.Client:
        """An HTTP client that goes through the cluster's ingress controller as a browser
        asking for ``HOST`` would."""
        return httpx.Client(
            base_url=self.cluster.ingress_url, headers={"Host": HOST}, timeout=timeout
        )

    def pods(self, component: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/instance={self.name},app.kubernetes.io/component={component}"
        items: list[dict[str, Any]] = self.json("get", "pods", "-l", selector)["items"]
        return items


@dataclass
class Player:
    user_id: str
    username: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register(http: httpx.Client, prefix: str = "k") -> Player:
    username = f"{prefix}{secrets.token_hex(5)}"
    created = http.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD})
    assert created.status_code == 201, created.text
    login = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Player(created.json()["user_id"], username, login.json()["access_token"])
