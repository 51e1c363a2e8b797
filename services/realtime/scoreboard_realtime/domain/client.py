"""One connected client: two newest-only slots (latest snapshot, latest rank) and, when needed,
the task that writes them.

A new snapshot replaces an unsent older one, so a slow client only ever gets the newest;
versions handed to a client strictly increase. A :class:`~.ports.DirectSink` is written in the
caller's loop (no task); only a client that is behind gets a task, which waits for its buffer to
drain. Other sinks get a writer task each.

A client knows nothing of its channel or hub: what it reports goes through the
:class:`ClientHooks` its channel shares with all its clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from scoreboard_realtime.domain.access import Grant
from scoreboard_realtime.domain.messages import Outgoing
from scoreboard_realtime.domain.ports import ClientSink, Clock, DirectSink


@dataclass(slots=True, eq=False)
class ClientHooks:
    """The callbacks a client reports through; one per channel, shared by its clients."""

    clock: Clock
    release: Callable[[Client], object]  # the client is gone: forget it (idempotent)
    count_sent: Callable[[str], None]  # a message written by a task, counted at once
    observe_latency: Callable[[float], None]  # a broadcast's last client was written
    unflushed: dict[str, int]  # messages written synchronously, counted per batch by the owner


class Client:
    """One connected client: newest-only slots and the writer task that drains them."""

    # Slots: 10,000 clients per process, and a dict per instance would be most of a client.
    __slots__ = (
        "__weakref__",
        "_last_snapshot",
        "_rank",
        "_snapshot",
        "_wake",
        "board",
        "close_request",
        "direct",
        "dropped",
        "grant",
        "hooks",
        "last_rank_version",
        "last_version",
        "sending_since",
        "sent",
        "sink",
        "task",
        "user_id",
    )

    def __init__(
        self,
        hooks: ClientHooks,
        board: str,
        user_id: str | None,
        sink: ClientSink,
        grant: Grant | None = None,
    ) -> None:
        self.hooks = hooks
        self.board = board
        self.user_id = user_id
        self.grant = grant
        self.sink = sink
        self.direct: DirectSink | None = sink if isinstance(sink, DirectSink) else None
        self._snapshot: Outgoing | None = None
        self._rank: Outgoing | None = None
        # Only a writer task waits on it; a direct client has none (allocated on demand).
        self._wake: asyncio.Event | None = None if self.direct is not None else asyncio.Event()
        self.close_request: tuple[int, str] | None = None
        self.last_version = -1
        self._last_snapshot: Outgoing | None = None
        self.last_rank_version = -1
        self.sending_since: float | None = None
        self.dropped = False
        self.task: asyncio.Task[None] | None = None
        self.sent = 0

    @property
    def closing(self) -> bool:
        return self.close_request is not None

    def release(self) -> None:
        """Forget this client in its channel (idempotent)."""
        self.hooks.release(self)

    def _wake_writer(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def offer(self, message: Outgoing) -> bool:
        """Queue a message, replacing an unsent one of the same kind. False if refused."""
        if self.close_request is not None:
            return False
        if message.kind == "snapshot":
            # Never lower; equal only for a different snapshot of the same version (the board's
            # size changed), never the same one twice.
            if message.version < self.last_version or message is self._last_snapshot:
                return False
            self.last_version = message.version
            self._last_snapshot = message
            replaced, self._snapshot = self._snapshot, message
        else:
            if message.version <= self.last_rank_version:
                return False
            self.last_rank_version = message.version
            replaced, self._rank = self._rank, message
        direct = self.direct
        if direct is not None and self.task is None and replaced is None:
            # Nothing pending and not behind: write it in the caller's loop.
            if direct.write_now(message):
                if message.kind == "snapshot":
                    self._snapshot = None
                else:
                    self._rank = None
                self.sent += 1
                self.hooks.unflushed[message.kind] += 1
                return True
            # Behind: keep it (newest only) and let a task write it once the buffer drains.
            self.sending_since = self.hooks.clock()
            self.task = asyncio.create_task(self.run(), name=f"catch-up:{self.board}")
        if message.delivery is not None:
            message.delivery.remaining += 1
        if replaced is not None:
            self._finish(replaced)
        self._wake_writer()
        return True

    def request_close(self, code: int, reason: str) -> None:
        """Close after the current write (pending messages are discarded)."""
        if self.close_request is None:
            self.close_request = (code, reason)
            self._wake_writer()
            if self.direct is not None and not self.dropped:
                # A direct client has no writer, or one waiting for a stuck buffer to drain:
                # (re)start one that only closes.
                if self.task is not None and not self.task.done():
                    self.task.cancel()
                self.task = asyncio.create_task(self._close_now(), name=f"close:{self.board}")

    async def _close_now(self) -> None:
        self._discard_pending()
        self.release()
        assert self.close_request is not None
        code, reason = self.close_request
        with contextlib.suppress(Exception):
            await self.sink.close(code, reason)

    def _finish(self, message: Outgoing) -> None:
        if message.delivery is not None:
            latency = message.delivery.done(self.hooks.clock())
            if latency is not None:
                self.hooks.observe_latency(latency)

    def _discard_pending(self) -> None:
        for message in (self._snapshot, self._rank):
            if message is not None:
                self._finish(message)
        self._snapshot = self._rank = None

    async def run(self) -> None:
        """The writer: the only coroutine that writes to this client's socket (for a direct
        sink: only while it is behind)."""
        if self.direct is not None:
            await self._catch_up(self.direct)
            return
        wake = self._wake
        assert wake is not None
        try:
            while True:
                await wake.wait()
                wake.clear()
                while self.close_request is None:
                    message = self._snapshot or self._rank
                    if message is None:
                        break
                    if message is self._snapshot:
                        self._snapshot = None
                    else:
                        self._rank = None
                    self.sending_since = self.hooks.clock()
                    try:
                        await self.sink.send_text(message.text)
                    finally:
                        self.sending_since = None
                        self._finish(message)
                    self.sent += 1
                    self.hooks.count_sent(message.kind)
                if self.close_request is not None:
                    break
        except asyncio.CancelledError:
            if not self.dropped:
                self._discard_pending()
                raise
        except Exception:  # the socket went away under us: nothing left to do but clean up
            self._discard_pending()
            self.release()
            return
        self._discard_pending()
        self.release()
        if self.close_request is not None:
            code, reason = self.close_request
            with contextlib.suppress(Exception):
                await self.sink.close(code, reason)

    async def _catch_up(self, direct: DirectSink) -> None:
        """A direct client that is behind: wait until its buffer drains, write the newest
        pending message, and stop once nothing is pending (later offers write directly)."""
        try:
            while self.close_request is None:
                await direct.writable()
                message = self._snapshot or self._rank
                if message is None or self.close_request is not None:
                    break
                if not direct.write_now(message):
                    await asyncio.sleep(0.01)  # drained below the transport's mark, not ours
                    continue
                if message is self._snapshot:
                    self._snapshot = None
                else:
                    self._rank = None
                self._finish(message)
                self.sent += 1
                self.hooks.count_sent(message.kind)
                if self._snapshot is None and self._rank is None:
                    break
                self.sending_since = self.hooks.clock()
        except asyncio.CancelledError:
            if not self.dropped and self.close_request is None:
                self._discard_pending()
                raise
            self._discard_pending()
        except Exception:  # the socket went away under us
            self._discard_pending()
            self.release()
            return
        finally:
            self.sending_since = None
        if self.dropped:
            self.release()
            assert self.close_request is not None
            code, reason = self.close_request
            with contextlib.suppress(Exception):
                await self.sink.close(code, reason)
        elif self.close_request is None:
            self.task = None
