"""A service that cannot listen exits with an error (so its pod restarts) instead of hanging.

It used to hang: uvicorn shuts the app down when the bind fails, and a background loop whose
Redis call swallowed the cancellation (redis-py under uvloop) kept running, so the process
never ended and a test waited 60 s for a port that never opened.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import psutil
import pytest
from scoreboard_devstack.servers import ServiceProcess, free_port

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


def test_the_api_workers_share_a_burst_of_connections(
    service_env: dict[str, str], log_dir: Path
) -> None:
    """``serve --workers 2``: each worker listens on its own SO_REUSEPORT socket, so 32
    connections opened at once (a load generator, a proxy's pool) land on both. On uvicorn's
    shared socket the first worker to wake took them all."""
    port = free_port()
    argv = [cli("scoreboard-api"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    api = ServiceProcess(
        "api-workers", [*argv, "--workers", "2"], port, service_env, log_dir, listeners=2
    )
    api.start()  # returns once both workers listen
    assert api.pid is not None
    supervisor = psutil.Process(api.pid)

    def listening(process: psutil.Process) -> set[int]:
        """The inodes of the process's listening sockets on the port."""
        return {
            os.stat(f"/proc/{process.pid}/fd/{c.fd}").st_ino
            for c in process.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }

    def listeners() -> list[set[int]]:
        return [s for s in map(listening, supervisor.children(recursive=True)) if s]

    first, second = listeners()
    assert not first & second, "each worker has a listening socket of its own"
    connections = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(32)]
    try:
        for connection in connections:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        for connection in connections:
            assert connection.recv(64).startswith(b"HTTP/1.1 200"), "every connection is served"
        held = {
            child.pid: sum(
                1
                for c in child.net_connections("tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
            )
            for child in supervisor.children(recursive=True)
        }
        serving = sorted(n for n in held.values() if n > 0)
        # By the kernel's hash of 32 addresses: all on one worker has odds of 2 in 2^32.
        assert len(serving) == 2 and sum(serving) == 32, held
    finally:
        for connection in connections:
            connection.close()
        api.stop()
