"""`make dev` (``scoreboard-dev``), the README's first command, run for real on free ports: it
starts PostgreSQL, Redis, the api and realtime on embedded defaults, serves the board
``default`` and the page, and stops everything it started on SIGTERM, even when a second one
arrives while it stops (as from ``timeout`` or a process manager)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
from scoreboard_devstack.servers import free_port, port_open

from tests.support import wait_for
from tests.support.services import cli


def test_make_dev_runs_the_platform_and_stops_all_of_it(tmp_path: Path, log_dir: Path) -> None:
    ports = {name: free_port() for name in ("api", "realtime", "postgres", "redis")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    log = (log_dir / "make-dev.log").open("w")
    dev = subprocess.Popen(
        [
            cli("scoreboard-dev"),
            "--state-dir",
            str(tmp_path / "dev"),
            *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api, realtime = (f"http://127.0.0.1:{ports[n]}" for n in ("api", "realtime"))
    try:

        def ready() -> bool:
            assert dev.poll() is None, (log_dir / "make-dev.log").read_text()[-3000:]
            try:
                return httpx.get(f"{api}/readyz", timeout=2).status_code == 200 and (
                    httpx.get(f"{realtime}/healthz", timeout=2).status_code == 200
                )
            except httpx.HTTPError:
                return False

        wait_for(ready, 180, "make dev to serve")
        top = httpx.get(f"{api}/api/v1/leaderboards/default/top", timeout=5)
        assert top.status_code == 200 and top.json()["leaderboard"] == "default", top.text
        page = httpx.get(f"{realtime}/?board=default", timeout=5)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        env_file = (tmp_path / "dev" / "env").read_text()
        for name in ("DATABASE_URL", "REDIS_URL", "ADMIN_API_KEY", "SECRETS_KEY_FILE"):
            assert f"export {name}=" in env_file
    finally:
        dev.send_signal(signal.SIGTERM)
        log.flush()
        wait_for(
            lambda: "stopping ..." in (log_dir / "make-dev.log").read_text()
            or dev.poll() is not None,
            30,
            "make dev to start stopping",
            interval=0.01,
        )
        dev.send_signal(signal.SIGTERM)  # a second one while it stops
        code = dev.wait(90)
        log.close()
    text = (log_dir / "make-dev.log").read_text()
    assert "stopped every process make dev started." in text, text[-3000:]
    assert code == 0, text[-3000:]
    wait_for(
        lambda: not any(port_open(port) for port in ports.values()),
        30,
        lambda: f"every port make dev used to close: {ports}",
    )
