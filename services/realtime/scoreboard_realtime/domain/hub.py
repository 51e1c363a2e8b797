"""The fan-out hub: the registry of board channels and the entry point for events.

Plain typed Python over asyncio, independent of the web framework and of Redis (both are
injected), so it is tested without sockets. The pieces, by concept:

* :mod:`.channel`: one board's clients and its coalescing loop (reads the top N at most once
  per interval, broadcasts one encoded message to every client).
* :mod:`.client`: one client's newest-only slots and its writer (or catch-up) task.
* :mod:`.access`: grants, close codes and the revocation check.
* this module: channels by board, events, the slow-client watchdog, drain and revocation sweeps.

A client whose write stays stuck (or that stays behind) longer than ``send_timeout`` is dropped
by the watchdog; nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time

from scoreboard_common.events import BoardChanged, Event, ScoreChanged
from scoreboard_common.policy import PublicPolicy

from scoreboard_realtime import metrics
from scoreboard_realtime.domain.access import (
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_UNKNOWN_BOARD,
    Grant,
    Revocations,
    refusal,
)
from scoreboard_realtime.domain.channel import BoardChannel
from scoreboard_realtime.domain.client import Client
from scoreboard_realtime.domain.messages import encode_rank
from scoreboard_realtime.domain.ports import ClientSink, Clock, PolicySource, SnapshotSource

log = logging.getLogger("scoreboard.realtime.hub")


class Hub:
    """Registry of board channels and the entry point for events."""

    def __init__(
        self,
        snapshots: SnapshotSource,
        policies: PolicySource,
        *,
        send_timeout: float = 10.0,
        clock: Clock = time.monotonic,
        missing_policy_grace: float = 60.0,
    ) -> None:
        """``missing_policy_grace``: after a lost subscription (a Redis restart, say), how long
        a board whose policy is absent is re-read before its clients hear it was deleted (the
        api rebuilds Redis from PostgreSQL meanwhile)."""
        self.snapshots = snapshots
        self.policies = policies
        self.send_timeout = send_timeout
        self.missing_policy_grace = missing_policy_grace
        self.clock = clock
        self.channels: dict[str, BoardChannel] = {}
        self.draining = False
        self._watchdog: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch_slow_clients(), name="watchdog")

    async def stop(self) -> None:
        tasks: list[asyncio.Task[None]] = [ch.task for ch in self.channels.values()]
        tasks += [c.task for ch in self.channels.values() for c in ch.clients if c.task]
        tasks += list(self._background)
        if self._watchdog is not None:
            tasks.append(self._watchdog)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.channels.clear()

    async def drain(self, seconds: float) -> None:
        """Stop accepting, then close every client with 1001 spread over ``seconds``."""
        self.draining = True
        clients = [c for ch in self.channels.values() for c in ch.clients]
        random.shuffle(clients)
        if clients:
            batches = max(1, min(len(clients), int(seconds * 20)))
            size = math.ceil(len(clients) / batches)
            pause = seconds / batches
            for start in range(0, len(clients), size):
                for client in clients[start : start + size]:
                    client.request_close(CLOSE_GOING_AWAY, "server shutting down")
                    client.release()
                if start + size < len(clients):
                    await asyncio.sleep(pause)
        writers = [c.task for c in clients if c.task is not None and not c.task.done()]
        if writers:
            await asyncio.wait(writers, timeout=max(1.0, self.send_timeout / 2))

    # connections -----------------------------------------------------------------------

    async def policy_for(self, board: str) -> PublicPolicy | None:
        channel = self.channels.get(board)
        if channel is not None:
            return channel.policy
        return await self.policies.get(board)

    def register(
        self,
        board: str,
        policy: PublicPolicy,
        user_id: str | None,
        sink: ClientSink,
        grant: Grant | None = None,
    ) -> Client:
        channel = self.channels.get(board)
        if channel is None:
            channel = self.channels[board] = BoardChannel(
                board, policy, snapshots=self.snapshots, clock=self.clock, on_empty=self._emptied
            )
        client = Client(channel.hooks, board, user_id, sink, grant)
        if client.direct is None:
            client.task = asyncio.create_task(client.run(), name=f"client:{board}")
        channel.add(client)
        return client

    def unregister(self, client: Client) -> None:
        """Forget ``client`` in its channel (idempotent); an emptied channel is stopped."""
        client.release()

    def _emptied(self, channel: BoardChannel) -> None:
        if self.channels.get(channel.board) is channel:
            del self.channels[channel.board]
            channel.task.cancel()

    def revoke_unauthorised(self, now: float, revocations: Revocations) -> int:
        """Close signed-in clients whose token expired (4401), whose session was revoked
        (4401) or whose account was disabled (4403). Returns how many were closed."""
        closed = 0
        for channel in list(self.channels.values()):
            for client in list(channel.clients):
                verdict = refusal(client.grant, now, revocations)
                if verdict is not None:
                    metrics.WS_REJECTED.labels(verdict[2]).inc()
                    channel.close_clients(verdict[0], verdict[1], [client])
                    closed += 1
        return closed

    def drop_slow(self, client: Client) -> None:
        metrics.WS_SLOW_CLIENT_DROPS.labels(client.board).inc()
        log.info("slow client dropped", extra={"board": client.board})
        client.dropped = True
        client.request_close(CLOSE_POLICY, "client too slow")
        client.release()
        if client.task is not None:
            client.task.cancel()

    async def _watch_slow_clients(self) -> None:
        period = min(1.0, self.send_timeout / 4)
        while True:
            await asyncio.sleep(period)
            deadline = self.clock() - self.send_timeout
            stuck = [
                client
                for channel in self.channels.values()
                for client in channel.clients
                if client.sending_since is not None and client.sending_since < deadline
            ]
            for client in stuck:
                self.drop_slow(client)

    # events ----------------------------------------------------------------------------

    def on_event(self, event: Event, received_at: float | None = None) -> None:
        channel = self.channels.get(event.board)
        if channel is None:
            return
        now = self.clock() if received_at is None else received_at
        if isinstance(event, ScoreChanged):
            channel.mark_dirty(now, event.traceparent)
            users = channel.by_user.get(event.user_id)
            if users:
                message = encode_rank(event.user_id, event.rank, event.total, event.version)
                for client in list(users):
                    client.offer(message)
                channel.flush_counts()
            return
        self._on_board_changed(channel, event, now)

    def _on_board_changed(self, channel: BoardChannel, event: BoardChanged, now: float) -> None:
        if event.kind == "deleted":
            channel.close_clients(CLOSE_UNKNOWN_BOARD, "board deleted")
            return
        if event.kind == "policy":
            self._spawn(self._refresh_policy(channel))
        channel.invalidate()
        channel.mark_dirty(now, event.traceparent)

    def on_resubscribed(self) -> None:
        """Events may have been lost: re-read every active board and its policy. An absent
        policy is not taken as a deletion at once: Redis may have come back empty and not be
        rebuilt yet (a real deletion while we were away shows as absent for the whole grace)."""
        for channel in list(self.channels.values()):
            self._spawn(self._refresh_policy(channel, grace=self.missing_policy_grace))
            channel.invalidate()
            channel.mark_dirty(None)

    def on_subscription_lost(self) -> None:
        for channel in self.channels.values():
            channel.cache_valid = False

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh_policy(self, channel: BoardChannel, grace: float = 0.0) -> None:
        deadline = self.clock() + grace
        waited = False
        while True:
            try:
                policy = await self.policies.get(channel.board)
            except Exception as error:
                log.warning(
                    "policy read failed", extra={"board": channel.board, "error": repr(error)}
                )
                return
            if self.channels.get(channel.board) is not channel:
                return
            if policy is not None:
                break
            if self.clock() >= deadline or self.draining:
                channel.close_clients(CLOSE_UNKNOWN_BOARD, "board deleted")
                return
            waited = True
            await asyncio.sleep(min(1.0, max(0.01, deadline - self.clock())))
        old, channel.policy = channel.policy, policy
        if not policy.anonymous_live_allowed:
            anonymous = [c for c in channel.clients if c.user_id is None]
            channel.close_clients(CLOSE_FORBIDDEN, "sign-in required on this board", anonymous)
        if waited or policy.size != old.size:  # rebuilt meanwhile: read the board again
            channel.invalidate()
            channel.mark_dirty(None)

    # introspection ---------------------------------------------------------------------

    def connection_count(self) -> int:
        return sum(len(ch.clients) for ch in self.channels.values())
