"""WebSocket endpoints of the live feed (DESIGN.md §4).

Refusals that a browser should be able to explain (unknown board, bad token, sign-in required)
are sent as a close frame with a code and reason *after* accepting: a browser cannot read the
HTTP status of a failed handshake. Floods (per-IP limit) and draining are refused before the
handshake completes (HTTP 403), which costs the server least.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.types import WebSocketCloseEvent, WebSocketSendEvent
from scoreboard_common.auth import AuthError, user_id_for_subject
from scoreboard_common.http_server import scope_header
from scoreboard_common.netaddr import client_group
from scoreboard_common.policy import is_board_name

from scoreboard_realtime import metrics
from scoreboard_realtime.domain.access import (
    CLOSE_FORBIDDEN,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    CLOSE_UNKNOWN_BOARD,
    Grant,
    refusal,
)
from scoreboard_realtime.domain.messages import SEED_002, SEED_004, Outgoing, SeedFormat
from scoreboard_realtime.domain.ports import ClientSink, DirectSink
from scoreboard_realtime.http.direct import FrameWriter
from scoreboard_realtime.http.runtime import Runtime

log = logging.getLogger("scoreboard.realtime.ws")
BEARER_PROTOCOL = "bearer"
DEFAULT_BOARD = "default"


class SocketSink:
    """Writes through the ASGI ``send`` of one WebSocket (the portable path; see direct.py for
    the fast one)."""

    __slots__ = ("_send",)

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self._send = socket.send

    async def send_text(self, text: str) -> None:
        event: WebSocketSendEvent = {"type": "websocket.send", "text": text, "bytes": None}
        await self._send(event)

    async def close(self, code: int, reason: str) -> None:
        event: WebSocketCloseEvent = {"type": "websocket.close", "code": code, "reason": reason}
        await self._send(event)


class FormattedSink:
    """A client of a seed path: its format re-shapes what the hub sends (see
    ``messages.SeedFormat``); messages the seed has no shape for are not sent."""

    __slots__ = ("_format", "_inner")

    def __init__(self, inner: ClientSink, fmt: SeedFormat) -> None:
        self._inner = inner
        self._format = fmt

    async def send_text(self, text: str) -> None:
        shaped = self._format.text(text)
        if shaped is not None:
            await self._inner.send_text(shaped)

    async def close(self, code: int, reason: str) -> None:
        await self._inner.close(code, reason)


class FormattedDirectSink(FormattedSink):
    """The same over a direct (frame-writing) sink: the re-shaped message's frame is built once
    and shared too."""

    __slots__ = ("_direct",)

    def __init__(self, inner: DirectSink, fmt: SeedFormat) -> None:
        super().__init__(inner, fmt)
        self._direct = inner

    def write_now(self, message: Outgoing) -> bool:
        shaped = self._format.message(message)
        return True if shaped is None else self._direct.write_now(shaped)

    async def writable(self) -> None:
        await self._direct.writable()


def formatted(sink: ClientSink, fmt: SeedFormat | None) -> ClientSink:
    if fmt is None:
        return sink
    if isinstance(sink, DirectSink):
        return FormattedDirectSink(sink, fmt)
    return FormattedSink(sink, fmt)


def token_from(socket: WebSocket[Any, Any, Any]) -> tuple[str | None, str | None]:
    """``(token, subprotocol to echo)`` from ``Sec-WebSocket-Protocol: bearer, <token>`` or
    ``?token=``."""
    header = scope_header(socket.scope, b"sec-websocket-protocol")
    if header:
        offered = [part.strip() for part in header.split(",") if part.strip()]
        if len(offered) >= 2 and offered[0].lower() == BEARER_PROTOCOL:
            return offered[1], offered[0]
    query = socket.scope.get("query_string", b"")
    token = next(
        (v for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if k == "token"),
        None,
    )
    return (token or None), None


async def _refuse(
    socket: WebSocket[Any, Any, Any], subprotocol: str | None, code: int, reason: str, label: str
) -> None:
    metrics.WS_REJECTED.labels(label).inc()
    await socket.accept(subprotocols=subprotocol)
    await socket.close(code=code, reason=reason)


def origin_allowed(socket: WebSocket[Any, Any, Any], allowed: list[str]) -> bool:
    """No ``Origin`` (not a browser), the service's own origin, or a configured one."""
    origin = scope_header(socket.scope, b"origin")
    if origin is None or "*" in allowed:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in {item.rstrip("/").lower() for item in allowed}:
        return True
    host = (scope_header(socket.scope, b"host") or "").strip().lower()
    return bool(host) and urlsplit(origin).netloc == host


def _client_ip(socket: WebSocket[Any, Any, Any]) -> str:
    client = socket.scope.get("client")
    return str(client[0]) if client else "unknown"


async def serve_live(
    socket: WebSocket[Any, Any, Any], board: str, fmt: SeedFormat | None = None
) -> None:
    runtime: Runtime = socket.app.state.runtime
    hub = runtime.hub
    if hub.draining:
        metrics.WS_REJECTED.labels("draining").inc()
        await socket.close(code=1001, reason="server shutting down")
        return
    if not origin_allowed(socket, runtime.settings.ws_allowed_origins):
        # Cross-site WebSocket hijacking: refused before the handshake (HTTP 403).
        metrics.WS_REJECTED.labels("origin").inc()
        await socket.close(code=CLOSE_POLICY, reason="origin not allowed")
        return
    ip = client_group(_client_ip(socket))
    refused = runtime.limiter.try_acquire(ip)
    if refused is not None:
        metrics.WS_REJECTED.labels("ip_limit" if refused == "ip" else "global_limit").inc()
        await socket.close(code=CLOSE_TRY_AGAIN, reason="too many connections")
        return
    try:
        await _serve_admitted(socket, runtime, board, fmt)
    finally:
        runtime.limiter.release(ip)


async def _serve_admitted(
    socket: WebSocket[Any, Any, Any], runtime: Runtime, board: str, fmt: SeedFormat | None
) -> None:
    hub = runtime.hub
    token, subprotocol = token_from(socket)
    if not is_board_name(board):
        await _refuse(socket, subprotocol, CLOSE_UNKNOWN_BOARD, "unknown board", "unknown_board")
        return
    user_id: str | None = None
    grant: Grant | None = None
    if token is not None:
        if runtime.verifier is None:
            await _refuse(
                socket, subprotocol, CLOSE_UNAUTHORIZED, "tokens are not accepted", "invalid_token"
            )
            return
        try:
            principal = await runtime.verifier.verify(token)
        except AuthError as error:
            await _refuse(socket, subprotocol, CLOSE_UNAUTHORIZED, error.detail, "invalid_token")
            return
        except Exception:
            log.exception("token verification failed")
            await _refuse(
                socket, subprotocol, CLOSE_TRY_AGAIN, "cannot verify tokens now", "unavailable"
            )
            return
        user_id = principal.subject
        grant = Grant(
            account_id=user_id_for_subject(principal.subject, runtime.verifier.issuer),
            expires_at=principal.expires_at,
            session_id=principal.session_id,
        )
        verdict = refusal(grant, time.time(), runtime.revocations)
        if verdict is not None:
            await _refuse(socket, subprotocol, *verdict)
            return
    try:
        policy = await hub.policy_for(board)
    except Exception:
        await _refuse(socket, subprotocol, CLOSE_TRY_AGAIN, "try again later", "unavailable")
        return
    if policy is None:
        await _refuse(socket, subprotocol, CLOSE_UNKNOWN_BOARD, "unknown board", "unknown_board")
        return
    if user_id is None and not policy.anonymous_live_allowed:
        await _refuse(
            socket,
            subprotocol,
            CLOSE_FORBIDDEN,
            "sign-in required on this board",
            "unauthenticated",
        )
        return
    await socket.accept(subprotocols=subprotocol)
    sink = formatted(
        FrameWriter.wrap(socket.scope, SocketSink(socket), runtime.sizing),  # type: ignore[arg-type]
        fmt,
    )
    client = hub.register(board, policy, user_id, sink, grant)
    try:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message["type"] == "websocket.receive":
                metrics.WS_REJECTED.labels("data_frame").inc()
                client.request_close(CLOSE_POLICY, "this feed is receive-only")
                hub.unregister(client)
                break
    except WebSocketDisconnect:
        pass
    finally:
        hub.unregister(client)
        writer = client.task
        if writer is not None and not writer.done():
            if client.closing:
                # The writer is sending the close frame; uvicorn bounds that by its timeout.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(writer), timeout=15)
            else:
                writer.cancel()
                with contextlib.suppress(BaseException):
                    await writer


@websocket("/ws/v1/leaderboards/{board:str}", name="live")
async def live(socket: WebSocket[Any, Any, Any], board: str) -> None:
    await serve_live(socket, board)


# Seed compatibility paths (DESIGN §4), all on the board `default`: seeds 001 and 003 speak v1,
# seeds 002 and 004 their own shapes.


@websocket("/ws/scoreboard", name="live-compat-scoreboard")
async def live_compat_scoreboard(socket: WebSocket[Any, Any, Any]) -> None:
    """Seed 003: the v1 live feed."""
    await serve_live(socket, DEFAULT_BOARD)


@websocket("/ws/score", name="live-compat-score")
async def live_compat_score(socket: WebSocket[Any, Any, Any]) -> None:
    """Seed 001: the v1 live feed."""
    await serve_live(socket, DEFAULT_BOARD)


@websocket("/scores/live", name="live-compat-scores")
async def live_compat_scores(socket: WebSocket[Any, Any, Any]) -> None:
    """Seed 004: ``{event: "scoresUpdate", topScores: [{userId, score, rank}]}``."""
    await serve_live(socket, DEFAULT_BOARD, SEED_004)


@websocket("/scores/websocket", name="live-compat-scores-websocket")
async def live_compat_scores_websocket(socket: WebSocket[Any, Any, Any]) -> None:
    """Seed 002: ``{scores: [{email, score}]}`` (``email`` is the public username)."""
    await serve_live(socket, DEFAULT_BOARD, SEED_002)


handlers = [
    live,
    live_compat_scoreboard,
    live_compat_score,
    live_compat_scores,
    live_compat_scores_websocket,
]
