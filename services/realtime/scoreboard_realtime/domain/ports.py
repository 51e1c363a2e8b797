"""What the hub is given from outside: client sinks (sockets), snapshot and policy sources
(Redis), and a clock. Plain protocols, so the domain is tested without sockets or Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from scoreboard_common.board_store import TopSnapshot
from scoreboard_common.policy import PublicPolicy

from scoreboard_realtime.domain.messages import Outgoing

Clock = Callable[[], float]


class ClientSink(Protocol):
    """The transport a client writes to (a WebSocket, or a fake in tests)."""

    async def send_text(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@runtime_checkable
class DirectSink(ClientSink, Protocol):
    """A sink that can take a whole message synchronously (see ``http/direct.py``)."""

    def write_now(self, message: Outgoing) -> bool:
        """Write ``message`` now; False (nothing written) when the client is behind."""
        ...

    async def writable(self) -> None:
        """Return once the client is no longer behind (raise if the connection is gone)."""
        ...


class SnapshotSource(Protocol):
    async def top(self, board: str, limit: int) -> TopSnapshot: ...


class PolicySource(Protocol):
    async def get(self, board: str) -> PublicPolicy | None: ...
