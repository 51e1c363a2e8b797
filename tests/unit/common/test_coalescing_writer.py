"""Responses written in one system call (scoreboard_common.http_server.CoalescingWriter)."""

from __future__ import annotations

import asyncio

from scoreboard_common.http_server import CoalescingWriter


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_writes_of_one_step_go_out_together_at_the_next_pass() -> None:
    transport = RecordingTransport()
    writer = CoalescingWriter(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
    writer.write(b"body")
    assert transport.writes == []
    await asyncio.sleep(0)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    writer.write(b"next")
    await asyncio.sleep(0)
    assert transport.writes[-1] == b"next"


async def test_close_sends_what_is_pending_first_and_a_closed_transport_gets_nothing() -> None:
    transport = RecordingTransport()
    writer = CoalescingWriter(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
    writer.write(b"last words")
    writer.close()
    assert transport.writes == [b"last words"] and transport.closed
    writer.write(b"too late")
    await asyncio.sleep(0)
    assert transport.writes == [b"last words"]
    assert writer.get_extra_info("peername") == "info:peername"
