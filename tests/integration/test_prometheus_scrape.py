"""A real Prometheus scrapes a running api and realtime, and every dashboard panel query is
valid PromQL against what they export; the key panels show data.

Grafana template variables are substituted the way Grafana would expand them:

* ``$__rate_interval`` -> ``1m``, ``$__interval`` -> ``15s``, ``$__range`` -> ``5m``;
* every other ``$var`` / ``${var}`` (``namespace``, ``board``, ``datasource``) -> ``.*``
  (they only appear inside ``=~`` regex matchers, i.e. "All").
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from scoreboard_devstack.servers import ManagedProcess, ServiceProcess, free_port

from tests.support import wait_for, wait_for_async
from tests.support.api import board_and_player

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "observability" / "dashboards"
PROMETHEUS = "/usr/bin/prometheus"

# Panels that must show data after the traffic below (title -> dashboard file).
KEY_PANELS = {
    ("scoreboard-api.json", "Request rate by route"),
    ("scoreboard-api.json", "Requests/s"),
    ("scoreboard-api.json", "Responses by status"),
    ("scoreboard-leaderboards.json", "Writes per board"),
    ("scoreboard-live-feed.json", "Connections"),
    ("scoreboard-live-feed.json", "Connections by board"),
    ("scoreboard-live-feed.json", "Delivery latency p50 / p95 / p99"),
    ("scoreboard-live-feed.json", "Broadcasts by board"),
}

FIXED_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}


def expand(expr: str) -> str:
    """Substitute Grafana template variables (see the module docstring)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return FIXED_VARIABLES.get(name, ".*")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def panel_queries() -> list[tuple[str, str, str]]:
    """``(dashboard file, panel title, expression)`` for every target of every panel."""
    found: list[tuple[str, str, str]] = []

    def walk(dashboard: str, panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((dashboard, panel.get("title", ""), target["expr"]))
            walk(dashboard, panel.get("panels", []))

    for path in sorted(DASHBOARDS.glob("*.json")):
        walk(path.name, json.loads(path.read_text())["panels"])
    return found


class Prometheus(ManagedProcess):
    def __init__(self, workdir: Path, log_dir: Path, targets: dict[str, int]) -> None:
        super().__init__("prometheus", log_dir / f"prometheus-{workdir.name}.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.targets = targets

    def start(self) -> None:
        jobs = "".join(
            f"  - job_name: {job}\n"
            "    metrics_path: /metrics\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{port}']\n"
            f"        labels: {{namespace: scoreboard-test, pod: {job}-0}}\n"
            for job, port in self.targets.items()
        )
        config = self.workdir / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n{jobs}"
        )
        self._spawn(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ]
        )
        wait_for(self._ready, 30, "prometheus ready")

    def _ready(self) -> bool:
        assert self.running(), f"prometheus exited:\n{self.log_tail()}"
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, expr: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def prometheus(
    tmp_path: Path, log_dir: Path, api: ServiceProcess, realtime: ServiceProcess
) -> Iterator[Prometheus]:
    if not Path(PROMETHEUS).exists() and shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: run make system-deps")
    server = Prometheus(
        tmp_path, log_dir, {"scoreboard-api": api.port, "scoreboard-realtime": realtime.port}
    )
    server.start()
    yield server
    server.stop()


async def traffic(
    api: ServiceProcess, realtime: ServiceProcess, admin_token: str, prometheus: Prometheus
) -> str:
    """Users, a board, scores with a live WebSocket client, and a few 4xx; returns the board."""
    async with httpx.AsyncClient(base_url=api.url, timeout=15) as http:
        board, username, token = await board_and_player(http, admin_token, "prom")
        headers = {"Authorization": f"Bearer {token}"}

        ws = realtime.url.replace("http://", "ws://") + f"/ws/v1/leaderboards/{board}"
        async with websockets.connect(ws, open_timeout=5) as feed:
            first = json.loads(await asyncio.wait_for(feed.recv(), 5))
            assert first["type"] == "snapshot", first
            for points in (3, 5, 7):
                response = await http.post(
                    f"/api/v1/leaderboards/{board}/scores",
                    json={
                        "action_id": str(uuid.uuid4()),
                        "score_increment": points,
                        "timestamp": datetime.now(UTC).isoformat(),
                    },
                    headers=headers,
                )
                assert response.status_code == 200, response.text
            top = await http.get(f"/api/v1/leaderboards/{board}/top")
            assert top.status_code == 200, top.text
            version = int(top.json()["version"])
            while True:  # the broadcast of the last write reaches the client
                message = json.loads(await asyncio.wait_for(feed.recv(), 10))
                if message.get("type") == "snapshot" and message.get("version", 0) >= version:
                    break
            # 4xx: bad credentials, unknown board, unauthenticated write.
            bad = await http.post(
                "/api/v1/auth/login", json={"username": username, "password": "wrong-password-1"}
            )
            assert 400 <= bad.status_code < 500
            missing = await http.get(f"/api/v1/leaderboards/nope-{uuid.uuid4().hex[:6]}/top")
            assert 400 <= missing.status_code < 500
            anonymous = await http.post(f"/api/v1/leaderboards/{board}/scores", json={})
            assert 400 <= anonymous.status_code < 500
            # Keep the client connected until a scrape has seen it.
            connected = f'scoreboard_ws_connections{{board="{board}"}} > 0'
            await wait_for_async(lambda: has_data(prometheus, connected), 30, connected)
    return board


def has_data(prometheus: Prometheus, expr: str) -> bool:
    result = prometheus.query(expr)
    return result.get("status") == "success" and bool(result["data"]["result"])


async def test_every_dashboard_query_runs_against_a_real_scrape(
    prometheus: Prometheus, api: ServiceProcess, realtime: ServiceProcess, admin_token: str
) -> None:
    def targets_up() -> bool:
        data = httpx.get(f"{prometheus.url}/api/v1/targets", timeout=5).json()["data"]
        active = data["activeTargets"]
        return len(active) == 2 and all(t["health"] == "up" for t in active)

    wait_for(targets_up, 20, "both scrape targets up")
    await traffic(api, realtime, admin_token, prometheus)
    queries = panel_queries()
    # rate() needs two scrapes after the writes: wait until the key panels have them, however
    # long this machine's Prometheus takes, rather than for a fixed number of seconds.
    key_queries = [
        expand(expr) for dashboard, title, expr in queries if (dashboard, title) in KEY_PANELS
    ]
    await wait_for_async(
        lambda: all(has_data(prometheus, expr) for expr in key_queries),
        30,
        lambda: "the key panels to have data: "
        + "; ".join(expr for expr in key_queries if not has_data(prometheus, expr)),
    )

    assert len(queries) > 40, "dashboards have fewer panel targets than expected"
    errors: list[str] = []
    empty_key_panels: list[str] = []
    with_data = 0
    for dashboard, title, expr in queries:
        expanded = expand(expr)
        assert "$" not in expanded, expanded
        result = prometheus.query(expanded)
        if result.get("status") != "success":
            errors.append(f"{dashboard} / {title}: {expanded}\n  {result.get('error')}")
            continue
        if result["data"]["result"]:
            with_data += 1
        elif (dashboard, title) in KEY_PANELS:
            empty_key_panels.append(f"{dashboard} / {title}: {expanded}")
    print(f"{len(queries)} panel queries ran, {with_data} returned data")
    assert not errors, "PromQL errors:\n" + "\n".join(errors)
    assert not empty_key_panels, "key panels without data:\n" + "\n".join(empty_key_panels)
