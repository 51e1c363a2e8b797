"""Per-connection buffer sizing applied to a WebSocket's transport and socket."""

from __future__ import annotations

import socket
from typing import Any

from scoreboard_realtime.http.direct import SocketSizing, size_connection
from scoreboard_realtime.settings import RealtimeSettings


class FakeSocket:
    def __init__(self) -> None:
        self.options: dict[tuple[int, int], int] = {}

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options[(level, option)] = value


class FakeTransport:
    def __init__(self) -> None:
        self.sock = FakeSocket()
        self.high: int | None = None

    def set_write_buffer_limits(self, high: int) -> None:
        self.high = high

    def get_extra_info(self, name: str) -> Any:
        return self.sock if name == "socket" else None


def test_sizes_are_applied() -> None:
    transport = FakeTransport()
    size_connection(
        transport, SocketSizing(write_high_water=16384, send_buffer=32768, receive_buffer=4096)
    )
    assert transport.high == 16384
    assert transport.sock.options == {
        (socket.SOL_SOCKET, socket.SO_SNDBUF): 32768,
        (socket.SOL_SOCKET, socket.SO_RCVBUF): 4096,
    }


def test_zero_keeps_the_defaults() -> None:
    transport = FakeTransport()
    size_connection(transport, SocketSizing())
    assert transport.high is None and transport.sock.options == {}


def test_a_stuck_client_is_bounded_by_default() -> None:
    settings = RealtimeSettings(redis_url="redis://localhost")
    assert 0 < settings.ws_write_high_water_bytes <= 16384
