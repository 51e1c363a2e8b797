"""One board's channel in this process: its clients and its coalescing loop.

Events only mark a board dirty. The channel's task reads the top N at most once per interval
(the board policy's ``broadcast.minIntervalMs``) however many events and clients there are, and
broadcasts only when the top N changed. A broadcast is encoded once; the same message object
(its ``str`` and, for direct sinks, its frame bytes) is handed to every client.

A channel knows nothing of the hub: it is given a clock, a snapshot source and an ``on_empty``
callback (its last client left).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable

from opentelemetry import trace
from opentelemetry.trace import Link
from scoreboard_common.board_store import TopSnapshot
from scoreboard_common.policy import PublicPolicy
from scoreboard_common.telemetry import context_from_traceparent

from scoreboard_realtime import metrics
from scoreboard_realtime.domain.client import Client, ClientHooks
from scoreboard_realtime.domain.messages import Delivery, Outgoing, encode_snapshot, top_signature
from scoreboard_realtime.domain.ports import Clock, SnapshotSource

log = logging.getLogger("scoreboard.realtime.hub")
tracer = trace.get_tracer("scoreboard.realtime")

READ_RETRY_SECONDS = 1.0


class BoardChannel:
    """All clients of one board in this process, and the board's coalescing loop."""

    def __init__(
        self,
        board: str,
        policy: PublicPolicy,
        *,
        snapshots: SnapshotSource,
        clock: Clock,
        on_empty: Callable[[BoardChannel], None],
    ) -> None:
        self.board = board
        self.policy = policy
        self._snapshots = snapshots
        self._clock = clock
        self._on_empty = on_empty
        self.clients: set[Client] = set()
        self.by_user: dict[str, set[Client]] = {}
        self.joiners: list[Client] = []
        self.cached: Outgoing | None = None
        self.cache_valid = False
        self.force = False
        self.signature: bytes | None = None
        self.version = -1
        self.dirty = False
        self.first_event_at: float | None = None
        self.traceparents: list[str] = []
        self.last_read_at = -math.inf
        self.reads = 0
        self.broadcasts = 0
        self.wake = asyncio.Event()
        self._sent = {
            "snapshot": metrics.WS_MESSAGES_SENT.labels(board, "snapshot"),
            "rank": metrics.WS_MESSAGES_SENT.labels(board, "rank"),
        }
        self._latency = metrics.WS_BROADCAST_LATENCY.labels(board)
        # Messages written synchronously (direct sinks), added to the counters per batch.
        self.unflushed: dict[str, int] = {"snapshot": 0, "rank": 0}
        self._connections = metrics.WS_CONNECTIONS.labels(board)
        self.hooks = ClientHooks(
            clock=clock,
            release=self.remove,
            count_sent=self.count_sent,
            observe_latency=self.observe_latency,
            unflushed=self.unflushed,
        )
        self.task = asyncio.create_task(self._run(), name=f"board:{board}")

    @property
    def interval(self) -> float:
        return self.policy.broadcast_interval_seconds

    def count_sent(self, kind: str) -> None:
        self._sent[kind].inc()

    def flush_counts(self) -> None:
        for kind, count in self.unflushed.items():
            if count:
                self._sent[kind].inc(count)
                self.unflushed[kind] = 0

    def observe_latency(self, seconds: float) -> None:
        self._latency.observe(seconds)

    def add(self, client: Client) -> None:
        self.clients.add(client)
        if client.user_id is not None:
            self.by_user.setdefault(client.user_id, set()).add(client)
        self._connections.inc()
        if self.cache_valid and not self.dirty and self.cached is not None:
            client.offer(self.cached)
            self.flush_counts()
        else:
            self.joiners.append(client)
            self.wake.set()

    def remove(self, client: Client) -> bool:
        """Forget ``client``; False if it was not here. The last one out calls ``on_empty``."""
        if client not in self.clients:
            return False
        self.clients.discard(client)
        if client.user_id is not None:
            users = self.by_user.get(client.user_id)
            if users is not None:
                users.discard(client)
                if not users:
                    del self.by_user[client.user_id]
        self._connections.dec()
        if not self.clients:
            self._on_empty(self)
        return True

    def mark_dirty(self, received_at: float | None, traceparent: str | None = None) -> None:
        if received_at is not None and self.first_event_at is None:
            self.first_event_at = received_at
        if traceparent and len(self.traceparents) < 16:
            self.traceparents.append(traceparent)
        self.dirty = True
        self.wake.set()

    def invalidate(self) -> None:
        """Forget the cached snapshot: the next read is handed to every client that is behind."""
        self.cache_valid = False
        self.force = True

    def close_clients(self, code: int, reason: str, which: Iterable[Client] | None = None) -> None:
        for client in list(self.clients if which is None else which):
            client.request_close(code, reason)
            self.remove(client)

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            delay = self.last_read_at + self.interval - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self.wake.clear()
            first_event_at, self.first_event_at = self.first_event_at, None
            traceparents, self.traceparents = self.traceparents, []
            joiners, self.joiners = self.joiners, []
            force, self.force = self.force, False
            self.dirty = False
            self.last_read_at = self._clock()
            parent = context_from_traceparent(traceparents[0]) if traceparents else None
            links = [
                Link(trace.get_current_span(ctx).get_span_context())
                for tp in traceparents[1:]
                if (ctx := context_from_traceparent(tp)) is not None
            ]
            with tracer.start_as_current_span(
                "realtime.broadcast",
                context=parent,
                links=links,
                attributes={
                    "scoreboard.board": self.board,
                    "scoreboard.clients": len(self.clients),
                },
            ) as span:
                try:
                    self.reads += 1
                    snapshot = await self._snapshots.top(self.board, self.policy.size)
                except Exception as error:
                    log.warning(
                        "snapshot read failed", extra={"board": self.board, "error": repr(error)}
                    )
                    span.record_exception(error)
                    self.joiners = [c for c in joiners if not c.closing] + self.joiners
                    if first_event_at is not None:
                        self.mark_dirty(first_event_at)
                    self.dirty = True
                    self.force = self.force or force
                    self.last_read_at = self._clock() + READ_RETRY_SECONDS
                    self.wake.set()
                    continue
                sent = self._publish(snapshot, joiners, first_event_at, force)
                span.set_attribute("scoreboard.version", snapshot.version)
                span.set_attribute("scoreboard.broadcast", sent)

    def _publish(
        self,
        snapshot: TopSnapshot,
        joiners: list[Client],
        first_event_at: float | None,
        force: bool,
    ) -> bool:
        """Hand a fresh read to the clients that need it. True when it was a broadcast."""
        if snapshot.version < self.version:
            # Older than what was already handed out (e.g. Redis lost its data and was not
            # rebuilt yet): never go backwards; the newer cached snapshot stays current.
            log.warning(
                "stale snapshot ignored",
                extra={"board": self.board, "read": snapshot.version, "sent": self.version},
            )
            for client in joiners:
                if self.cached is not None:
                    client.offer(self.cached)
            self.flush_counts()
            return False
        signature = top_signature(snapshot)
        message = encode_snapshot(snapshot)
        changed = self.signature is not None and signature != self.signature
        broadcast = changed or (force and snapshot.version > self.version)
        if broadcast:
            delivery = message.delivery = Delivery(started_at=first_event_at or self._clock())
            delivery.remaining += 1  # held until the loop is over (direct writes finish at once)
            for client in list(self.clients):
                client.offer(message)
            latency = delivery.done(self._clock())
            if latency is not None:
                self.observe_latency(latency)
            if changed:
                self.broadcasts += 1
                metrics.WS_BROADCASTS.labels(self.board).inc()
        else:
            for client in joiners:
                client.offer(message)
        self.flush_counts()
        self.signature = signature
        self.cached = message
        self.cache_valid = True
        self.version = snapshot.version
        return broadcast
