"""`scoreboard-api` command line (docs/contributing.md: the contract used by make, tests, chart)."""

from __future__ import annotations

import asyncio
import functools
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import uvicorn


@click.group()
def main() -> None:
    """Scoreboard score API."""


@main.command()
def migrate() -> None:
    """Apply the database migrations to DATABASE_URL (alembic, idempotent)."""
    from alembic import command
    from alembic.config import Config
    from scoreboard_common.settings import load_settings

    from scoreboard_api.settings import ApiSettings

    settings = load_settings(ApiSettings)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    command.upgrade(config, "head")
    click.echo("migrations applied")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Run the api with uvicorn (uvloop + httptools). Proxy headers are never trusted by
    uvicorn itself: the api resolves client IPs with TRUSTED_PROXIES. Request heads are capped and
    timed by the guarded protocol (HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADERS,
    HTTP_HEADER_TIMEOUT_SECONDS)."""
    import uvicorn
    from scoreboard_common.http_server import GuardedHttpToolsProtocol
    from scoreboard_common.settings import load_settings

    from scoreboard_api.settings import ApiSettings

    settings = load_settings(ApiSettings)
    settings.configure_http_protocol()
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
    }
    if workers == 1:
        uvicorn.run("scoreboard_api.app:create_app", **options)
    else:
        _run_workers(uvicorn.Config("scoreboard_api.app:create_app", workers=workers, **options))


def _run_workers(config: uvicorn.Config) -> None:
    """uvicorn's worker supervisor (restarts, signals), but each worker listens on a socket of
    its own bound with SO_REUSEPORT, so the kernel spreads new connections over the workers.
    uvicorn's own multi-worker mode shares one listening socket, and the worker that wakes first
    accepts a whole burst: a load generator's 32 connections all landed on one of two workers
    while the other stayed idle (bench/write_path.py), and keep-alive connections (an ingress
    controller's) stay where they landed."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    # Bound, never listening: the port is checked once here (taken: exit 1), and a socket that
    # does not listen takes no connections from the workers' group.
    probe = _reuse_port_socket(config.host, config.port)
    server = uvicorn.Server(config)
    Multiprocess(
        config, target=functools.partial(_serve_on_own_socket, server), sockets=[probe]
    ).run()


def _serve_on_own_socket(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
    del sockets  # the supervisor's probe
    server.run(sockets=[_reuse_port_socket(server.config.host, server.config.port)])


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        click.echo(f"cannot listen on {host}:{port}: {error}", err=True)
        sys.exit(1)
    sock.set_inheritable(True)
    return sock


@main.command("ensure-board")
@click.argument("name")
@click.option("--size", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--display-name", default=None)
def ensure_board(name: str, size: int, display_name: str | None) -> None:
    """Create a board with the default policy if it does not exist (dev bootstrap)."""
    from scoreboard_common.policy import BOARD_NAME_RULE, BoardSpec, encode_spec, is_board_name

    if not is_board_name(name):
        raise click.BadParameter(BOARD_NAME_RULE, param_hint="NAME")
    spec = BoardSpec(size=size, display_name=display_name or name.capitalize())
    created = asyncio.run(_ensure_board(name, encode_spec(spec)))
    click.echo(f"board {name} {'created' if created else 'already exists'}")


async def _ensure_board(name: str, spec_json: bytes) -> bool:
    from scoreboard_common.redis_client import create_redis
    from scoreboard_common.settings import load_settings

    from scoreboard_api.adapters import pg_boards
    from scoreboard_api.adapters.postgres import Database
    from scoreboard_api.adapters.redis_side import CONTROL_CHANNEL
    from scoreboard_api.settings import ApiSettings

    settings = load_settings(ApiSettings)
    db = await Database.connect(
        settings.database_url, min_size=1, max_size=1, command_timeout=10, connect_timeout=5
    )
    try:
        created = await pg_boards.ensure_board(db, name, spec_json)
    finally:
        await db.close()
    redis = create_redis(settings.redis_url)
    try:
        await redis.publish(CONTROL_CHANNEL, b"boards")  # running replicas reload at once
    except Exception as error:
        click.echo(f"note: could not notify running replicas ({error})", err=True)
    finally:
        await redis.aclose()
    return created


@main.command("mint-token")
@click.option("--subject", required=True, help="`sub` claim (a user UUID, or a service name).")
@click.option(
    "--scope",
    "scopes",
    default="scoreboard:admin",
    show_default=True,
    help="Space-separated scopes, e.g. 'scores:write:any' or 'scoreboard:admin'.",
)
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(60, 366 * 86400))
@click.option("--username", default=None)
def mint_token(subject: str, scopes: str, ttl: int, username: str | None) -> None:
    """Print a signed access token (needs JWT_PRIVATE_KEY_FILE)."""
    from scoreboard_common.settings import load_settings

    from scoreboard_api.app import load_issuer
    from scoreboard_api.settings import ApiSettings

    settings = load_settings(ApiSettings)
    if not settings.jwt_private_key_file:
        raise click.UsageError("JWT_PRIVATE_KEY_FILE is not set")
    issuer = load_issuer(settings)
    assert issuer is not None
    token = issuer.issue(
        subject=subject, username=username or subject, scopes=scopes.split(), ttl_seconds=ttl
    )
    click.echo(token)


@main.command("generate-key")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the PEM here (mode 0600) instead of stdout.",
)
def generate_key(out: Path | None) -> None:
    """Generate an ES256 (P-256) private key for JWT_PRIVATE_KEY_FILE."""
    from scoreboard_api.domain.tokens import generate_private_key_pem

    pem = generate_private_key_pem()
    if out is None:
        sys.stdout.write(pem.decode())
        return
    out.touch(mode=0o600, exist_ok=True)
    out.write_bytes(pem)
    click.echo(f"wrote {out}")


if __name__ == "__main__":
    main()
