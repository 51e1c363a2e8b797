"""``scoreboard-realtime serve``: uvicorn with a WebSocket drain on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType

import click
import uvicorn
from litestar import Litestar
from scoreboard_common.logs import configure_logging
from scoreboard_common.settings import load_settings

from scoreboard_realtime.app import create_app
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
    if settings.log_level != "DEBUG":
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets",
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_message_bytes,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_config=None,
        access_log=False,
        backlog=4096,
        timeout_graceful_shutdown=max(5, int(settings.ws_drain_seconds) + 5),
        server_header=False,
    )
    DrainingServer(config, app, settings.ws_drain_seconds).run()
