"""A benchmark stack: real PostgreSQL, Redis and api/realtime processes on this machine,
started with the same devstack code as `make dev` and the tests, torn down afterwards."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from scoreboard_devstack.keys import ensure_sealing_key, ensure_signing_key
from scoreboard_devstack.servers import PostgresServer, RedisServer, ServiceProcess, free_port

BENCH_BOARD = "bench"
# High limits: the benchmark measures the write path, not the rate limiter's refusals.
BENCH_SPEC: dict[str, Any] = {
    "displayName": "Benchmark",
    "size": 10,
    "scoring": {"maxIncrement": 100},
    "rateLimit": {
        "perUser": {"limit": 1_000_000, "windowSeconds": 60},
        "perIP": {"limit": 1_000_000, "windowSeconds": 60},
    },
    "writers": ["users", "services"],
    "clockSkewSeconds": 3600,
    "fraud": {
        "maxPointsPerMinute": 10**12,
        "onViolation": "flag",
        "burstCount": 10_000,
        "maxReplaysPerMinute": 1_000_000,
    },
}


def bench_user_id(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


@dataclass
class Stack:
    root: Path
    postgres: PostgresServer
    redis: RedisServer
    env: dict[str, str]
    database: str
    processes: list[ServiceProcess] = field(default_factory=list)

    def cli(self, name: str) -> str:
        return str(Path(sys.executable).parent / name)

    def start_service(self, name: str, workers: int = 1, **overrides: str) -> ServiceProcess:
        port = free_port()
        argv = [self.cli(f"scoreboard-{name}"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        if name == "api":
            argv += ["--workers", str(workers)]
        process = ServiceProcess(
            name, argv, port, {**self.env, **overrides}, self.root / "logs", listeners=workers
        )
        return self._launch(process)

    def start_module(
        self, name: str, module: str, *args: str, listeners: int = 1
    ) -> ServiceProcess:
        """``python -m module *args --port P`` on a free port, with the stack's environment:
        a bench baseline (``listeners``: its worker processes, each listening on the port)."""
        port = free_port()
        argv = [sys.executable, "-m", module, *args, "--port", str(port)]
        process = ServiceProcess(
            name, argv, port, self.env, self.root / "logs", listeners=listeners
        )
        return self._launch(process)

    def start_baseline(self, app: str = "bare") -> ServiceProcess:
        """The framework's minimal endpoint (``bench/minimal_app.py``), served with the api's
        uvicorn settings; ``app`` picks the variant (bare, or with the api's middleware)."""
        return self.start_module(f"baseline-{app}", "bench.minimal_app", "--app", app)

    def _launch(self, process: ServiceProcess) -> ServiceProcess:
        process.start()
        self.processes.append(process)
        return process

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env['ADMIN_API_KEY']}"}

    def put_board(self, api: ServiceProcess, name: str = BENCH_BOARD, **spec: Any) -> None:
        body = {**BENCH_SPEC, **spec, "generation": 1}
        response = httpx.put(
            f"{api.url}/api/v1/admin/leaderboards/{name}",
            json=body,
            headers=self.admin_headers(),
            timeout=120,
        )
        response.raise_for_status()

    def create_users(self, count: int) -> list[str]:
        """Insert users with deterministic ids (pgbench can compute them) and return tokens."""
        self.postgres.psql(
            self.database,
            "INSERT INTO users (id, username) SELECT "
            "('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'bench' || i "
            f"FROM generate_series(1, {count}) AS i ON CONFLICT DO NOTHING",
        )
        from scoreboard_api.domain.tokens import TokenIssuer

        issuer = TokenIssuer(
            Path(self.env["JWT_PRIVATE_KEY_FILE"]).read_bytes(),
            issuer="scoreboard",
            audience="scoreboard",
        )
        return [
            issuer.issue(
                subject=bench_user_id(i), username=f"bench{i}", scopes=[], ttl_seconds=7200
            )
            for i in range(1, count + 1)
        ]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.redis.stop()
        self.postgres.stop()


@contextmanager
def stack(*, durable_postgres: bool = True) -> Iterator[Stack]:
    """``durable_postgres=False``: no fsync, no synchronous commit (diagnostics only)."""
    root = Path(tempfile.mkdtemp(prefix="scoreboard-bench-"))
    root.chmod(0o755)
    postgres = PostgresServer(root / "postgres", max_connections=300, durable=durable_postgres)
    redis = RedisServer(root / "redis", durable=False)
    postgres.start()
    redis.start()
    private, public = root / "jwt-private.pem", root / "jwt-public.pem"
    ensure_signing_key(private, public)
    database = "bench"
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": postgres.create_database(database),
        "REDIS_URL": redis.url,
        "JWT_PRIVATE_KEY_FILE": str(private),
        "AUTH_PUBLIC_KEY_FILE": str(public),
        "ADMIN_API_KEY": secrets.token_urlsafe(24),
        "SECRETS_KEY_FILE": str(ensure_sealing_key(root / "secrets-key")),
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX_SIZE": "40",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "scoreboard-api"), "migrate"],
        env=env,
        check=True,
        capture_output=True,
    )
    running = Stack(root, postgres, redis, env, database)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
