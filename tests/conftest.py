"""Session fixtures: real PostgreSQL, Redis and service processes on free loopback ports.

Nothing here skips: a missing binary or a server that does not start fails the test run.
Service logs are kept in ``test-artifacts/logs/`` for post-mortems.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scoreboard_devstack.keys import ensure_sealing_key, ensure_signing_key
from scoreboard_devstack.servers import (
    PostgresServer,
    RedisClusterServer,
    RedisServer,
    ServiceProcess,
    free_port,
)

from tests.support.services import RedisFactory, cli, migrate, mint_token

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
TIERS = ("unit", "integration", "k8s", "e2e", "chaos")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-cluster",
        action="store_true",
        default=os.environ.get("SCOREBOARD_TEST_REDIS") == "cluster",
        help="run against a 3-primary Redis Cluster instead of one Redis server",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test gets the marker of its tier folder, so `pytest -m integration` just works."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    # Under /tmp (not the work tree) so the PostgreSQL system user can traverse it.
    path = Path(tempfile.mkdtemp(prefix="scoreboard-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def log_dir() -> Path:
    path = ARTIFACTS / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def postgres(tmp_root: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_root / "postgres", durable=False, max_connections=300)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis(
    tmp_root: Path, pytestconfig: pytest.Config
) -> Iterator[RedisServer | RedisClusterServer]:
    """One Redis server, or a Redis Cluster with ``--redis-cluster``; same surface either way."""
    server: RedisServer | RedisClusterServer
    if pytestconfig.getoption("--redis-cluster"):
        server = RedisClusterServer(tmp_root / "redis-cluster")
    else:
        server = RedisServer(tmp_root / "redis", durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis: RedisServer | RedisClusterServer) -> str:
    return redis.url


@pytest.fixture
def redis_factory(tmp_path: Path, pytestconfig: pytest.Config) -> Iterator[RedisFactory]:
    """A Redis of a test's own, of the session's kind (server or cluster), for tests that
    stop, kill or restart it: ``redis_factory(durable=True)``. Started; stopped at the end."""
    started: list[RedisServer | RedisClusterServer] = []

    def make(*, durable: bool = False) -> RedisServer | RedisClusterServer:
        path = tmp_path / f"redis{len(started)}"
        server: RedisServer | RedisClusterServer
        if pytestconfig.getoption("--redis-cluster"):
            server = RedisClusterServer(path, durable=durable)
        else:
            server = RedisServer(path, durable=durable)
        started.append(server)
        server.start()
        return server

    yield make
    for server in reversed(started):
        server.stop()


@pytest.fixture(scope="session")
def jwt_keys(tmp_root: Path) -> tuple[Path, Path]:
    private, public = tmp_root / "jwt-private.pem", tmp_root / "jwt-public.pem"
    ensure_signing_key(private, public)
    return private, public


@pytest.fixture(scope="session")
def admin_api_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def sealing_key_file(tmp_root: Path) -> Path:
    return ensure_sealing_key(tmp_root / "secrets-key")


@pytest.fixture(scope="session")
def base_env(
    jwt_keys: tuple[Path, Path], admin_api_key: str, sealing_key_file: Path
) -> dict[str, str]:
    """Environment shared by every service process, without database/redis URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        JWT_PRIVATE_KEY_FILE=str(jwt_keys[0]),
        AUTH_PUBLIC_KEY_FILE=str(jwt_keys[1]),
        ADMIN_API_KEY=admin_api_key,
        SECRETS_KEY_FILE=str(sealing_key_file),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        # Every test signs in from 127.0.0.1, more than the default 600/min when sign-ins are
        # fast; the per-address limit has its own tests, each with its own api and limit.
        AUTH_RATE_LIMIT_PER_MINUTE="100000",
    )
    return env


@pytest.fixture(scope="session")
def database_url(postgres: PostgresServer, base_env: dict[str, str]) -> Iterator[str]:
    """A fresh, migrated database for the session; dropped at the end."""
    name = f"sb_test_{secrets.token_hex(4)}"
    url = postgres.create_database(name)
    migrate({**base_env, "DATABASE_URL": url})
    yield url
    postgres.drop_database(name)


@pytest.fixture(scope="session")
def service_env(base_env: dict[str, str], database_url: str, redis_url: str) -> dict[str, str]:
    return {**base_env, "DATABASE_URL": database_url, "REDIS_URL": redis_url}


ServiceFactory = Callable[..., ServiceProcess]


def _service_factory(
    name: str, default_env: Callable[[], dict[str, str]], log_dir: Path
) -> Iterator[ServiceFactory]:
    started: list[ServiceProcess] = []

    def start(**overrides: str) -> ServiceProcess:
        port = free_port()
        env = {**default_env(), **overrides}
        argv = [cli(f"scoreboard-{name}"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        process = ServiceProcess(name, argv, port, env, log_dir)
        started.append(process)
        process.start()
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture(scope="session")
def start_api(service_env: dict[str, str], log_dir: Path) -> Iterator[ServiceFactory]:
    """Start extra api replicas: ``start_api(REDIS_URL=...)``; all stopped at session end."""
    yield from _service_factory("api", lambda: service_env, log_dir)


@pytest.fixture(scope="session")
def api(start_api: ServiceFactory) -> ServiceProcess:
    return start_api()


@pytest.fixture(scope="session")
def start_realtime(
    base_env: dict[str, str], redis_url: str, log_dir: Path
) -> Iterator[ServiceFactory]:
    """Start realtime replicas (Redis only; never PostgreSQL)."""
    yield from _service_factory("realtime", lambda: {**base_env, "REDIS_URL": redis_url}, log_dir)


@pytest.fixture(scope="session")
def realtime(start_realtime: ServiceFactory, api: ServiceProcess) -> ServiceProcess:
    return start_realtime(PUBLIC_API_URL=api.url)


@pytest.fixture(scope="session")
def admin_token(service_env: dict[str, str]) -> str:
    return mint_token(service_env, "admin", "scoreboard:admin")


@pytest.fixture(scope="session")
def service_token(service_env: dict[str, str]) -> str:
    return mint_token(service_env, "game-server", "scores:write:any")
