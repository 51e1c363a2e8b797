"""A service that cannot listen exits with an error (so its pod restarts) instead of hanging.

It used to hang: uvicorn shuts the app down when the bind fails, and a background loop whose
Redis call swallowed the cancellation (redis-py under uvloop) kept running, so the process
never ended and a test waited 60 s for a port that never opened.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from tests.support.services import cli


@pytest.mark.parametrize("service", ["api", "realtime"])
def test_a_port_in_use_ends_the_process_with_an_error(
    service: str, service_env: dict[str, str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.run(
            [cli(f"scoreboard-{service}"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=service_env,
            capture_output=True,
            text=True,
            timeout=120,  # a ceiling: it exits in about a second; without the fix, never
            check=False,
        )
    assert process.returncode != 0
    assert "address already in use" in process.stdout + process.stderr
