"""``scoreboard-realtime serve``: uvicorn with a WebSocket drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from types import FrameType

import click
import prometheus_client
import uvicorn
from litestar import Litestar
from scoreboard_common.http_server import GuardedHttpToolsProtocol
from scoreboard_common.logs import configure_logging
from scoreboard_common.settings import load_settings

from scoreboard_realtime.app import create_app
from scoreboard_realtime.http.direct import CaptureAsgiSend
from scoreboard_realtime.http.headers import SecurityHeadersMiddleware
from scoreboard_realtime.http.protocol import LiveWebSocketProtocol
from scoreboard_realtime.http.runtime import Runtime
from scoreboard_realtime.settings import RealtimeSettings

log = logging.getLogger("scoreboard.realtime")


class DrainingServer(uvicorn.Server):
    """On the first SIGTERM/SIGINT: mark not ready, close every WebSocket with 1001 spread over
    ``WS_DRAIN_SECONDS`` (clients reconnect to other replicas), then shut down. A second signal
    exits at once."""

    def __init__(self, config: uvicorn.Config, app: Litestar, drain_seconds: float) -> None:
        super().__init__(config)
        self.litestar = app
        self.drain_seconds = drain_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is None or self._draining is not None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        self._loop.call_soon_threadsafe(self._start_drain, sig, frame)

    def _start_drain(self, sig: int, frame: FrameType | None) -> None:
        if self._draining is None:
            self._draining = asyncio.ensure_future(self._drain(sig, frame))

    async def _drain(self, sig: int, frame: FrameType | None) -> None:
        runtime: Runtime | None = getattr(self.litestar.state, "runtime", None)
        try:
            if runtime is not None:
                log.info("draining", extra={"clients": runtime.hub.connection_count()})
                await runtime.hub.drain(self.drain_seconds)
        except Exception:
            log.exception("drain failed")
        finally:
            super().handle_exit(sig, frame)


def raise_open_file_limit() -> int:
    """One socket per client: lift the soft open-file limit to the hard one (10,000 clients
    need more than the usual 1,024). Returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("cannot raise the open-file limit", extra={"soft": soft, "hard": hard})
    return soft


def uvicorn_config(
    app: Litestar, settings: RealtimeSettings, host: str, port: int
) -> uvicorn.Config:
    """How the service is served (also used by the tests that need the real fast path)."""
    settings.configure_http_protocol()
    return uvicorn.Config(
        # Security headers on every HTTP response, 404s included (outside Litestar's router);
        # CaptureAsgiSend lets the broadcast write frames directly (http/direct.py).
        CaptureAsgiSend(SecurityHeadersMiddleware(app)),
        interface="asgi3",  # the outer layers return awaitables, not coroutine functions
        host=host,
        port=port,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,  # header caps and a header-read timeout
        timeout_keep_alive=settings.http_keep_alive_seconds,
        ws=LiveWebSocketProtocol,  # websockets' sans-I/O protocol, lean per connection
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        ws_per_message_deflate=False,  # frames are shared by all clients (http/direct.py)
        ws_max_size=settings.ws_max_message_bytes,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_config=None,
        access_log=False,
        backlog=8192,  # reconnect storms
        timeout_graceful_shutdown=max(5, int(settings.ws_drain_seconds) + 5),
        server_header=False,
    )


@click.group()
def main() -> None:
    """Scoreboard live feed."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the WebSocket feed and the web page with uvicorn."""
    settings = load_settings(RealtimeSettings)
    configure_logging(settings.log_level, "realtime")
    raise_open_file_limit()
    if settings.log_level != "DEBUG":
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    app = create_app(settings)
    if settings.metrics_port:
        # A plain thread server on its own port: only Prometheus reaches it (NetworkPolicy).
        prometheus_client.start_http_server(settings.metrics_port, addr=host)
    config = uvicorn_config(app, settings, host, port)
    DrainingServer(config, app, settings.ws_drain_seconds).run()
