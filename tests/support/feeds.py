"""A WebSocket client of the live feed that keeps every message, and snapshot helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import msgspec
import websockets
from scoreboard_common.board_store import TopSnapshot
from scoreboard_devstack.servers import ServiceProcess


def comparable(snapshot: TopSnapshot | dict[str, Any]) -> dict[str, Any]:
    """A snapshot as JSON without the per-read fields (type, generated_at)."""
    data = snapshot if isinstance(snapshot, dict) else json.loads(msgspec.json.encode(snapshot))
    return {k: v for k, v in data.items() if k not in ("type", "generated_at")}


def ws_url(service: ServiceProcess, path: str) -> str:
    return f"ws://127.0.0.1:{service.port}{path}"


class Feed:
    """A WebSocket client that keeps every message it receives."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.messages: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self.closed: tuple[int | None, str | None] | None = None
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, **options: Any) -> Feed:
        """Connect (a real ``websockets`` client) and start keeping messages."""
        return cls(await websockets.connect(url, open_timeout=5, **options))

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                self.messages.append(json.loads(raw))
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        rcvd = self.connection.protocol.close_rcvd
        self.closed = (rcvd.code, rcvd.reason) if rcvd else (None, None)
        self._new.set()

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == "snapshot"]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self.closed is not None:
                raise AssertionError(
                    f"no matching message (closed={self.closed}); got {self.messages[-3:]}"
                )
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def wait_version(self, version: int, timeout: float = 10.0) -> dict[str, Any]:
        """The first snapshot at or above ``version``."""
        return await self.wait_for(
            lambda m: m["type"] == "snapshot" and m["version"] >= version, timeout
        )

    async def wait_closed(self, timeout: float = 10.0) -> tuple[int | None, str | None]:
        """``(code, reason)`` of the close frame the server sent."""
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        assert self.closed is not None
        return self.closed

    async def close(self) -> None:
        await self.connection.close()
        await self._task
