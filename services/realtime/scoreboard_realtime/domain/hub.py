"""The fan-out hub: per-board channels, coalescing, and per-client newest-only queues.

Plain typed Python over asyncio, independent of the web framework and of Redis (both are
injected), so it is tested without sockets.

* Events only mark a board dirty. A board's task reads the top N at most once per interval
  (the board policy's ``broadcast.minIntervalMs``) however many events and clients there are,
  and broadcasts only when the top N changed.
* A broadcast is encoded once; the same ``str`` object (and, for direct sinks, the same frame
  bytes) is handed to every client.
* Each client has two one-message slots (latest snapshot, latest rank): a new snapshot replaces
  an unsent older one, so a slow client only ever gets the newest. A client whose write stays
  stuck (or that stays behind) longer than ``send_timeout`` is dropped by a watchdog; nobody else
  waits for it.
* A :class:`DirectSink` (a socket that can take a whole frame synchronously) is written in the
  broadcast loop itself: no task, no await per client. Only a client that is behind (its write
  buffer is over its bound) gets a task, which waits for the buffer to drain and then writes the
  newest pending message. Other sinks get a writer task each.
* Versions handed to a client strictly increase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from opentelemetry import trace
from opentelemetry.trace import Link
from scoreboard_common.board_store import TopSnapshot
from scoreboard_common.events import BoardChanged, Event, ScoreChanged
from scoreboard_common.policy import PublicPolicy
from scoreboard_common.telemetry import context_from_traceparent

from scoreboard_realtime import metrics
from scoreboard_realtime.domain.messages import (
    Delivery,
    Outgoing,
    encode_rank,
    encode_snapshot,
    top_signature,
)

log = logging.getLogger("scoreboard.realtime.hub")
tracer = trace.get_tracer("scoreboard.realtime")

CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_BOARD = 4404
READ_RETRY_SECONDS = 1.0


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


@dataclass(frozen=True, slots=True)
class Grant:
    """What authorised a signed-in client, re-checked while it stays connected."""

    account_id: str  # the user id that accounts are disabled by
    expires_at: float | None  # epoch seconds of the token's `exp`
    session_id: str | None  # the token's `sid` (revoked by a logout)


class Revocations(Protocol):
    def user_disabled(self, user_id: str | None) -> bool: ...

    def session_revoked(self, session_id: str | None) -> bool: ...


class Client:
    """One connected client: newest-only slots and the writer task that drains them."""

    def __init__(
        self,
        channel: BoardChannel,
        user_id: str | None,
        sink: ClientSink,
        clock: Clock,
        grant: Grant | None = None,
    ) -> None:
        self.channel = channel
        self.board = channel.board
        self.user_id = user_id
        self.grant = grant
        self.sink = sink
        self.direct: DirectSink | None = sink if isinstance(sink, DirectSink) else None
        self._clock = clock
        self._snapshot: Outgoing | None = None
        self._rank: Outgoing | None = None
        self._wake = asyncio.Event()
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
                self.channel.unflushed[message.kind] += 1
                return True
            # Behind: keep it (newest only) and let a task write it once the buffer drains.
            self.sending_since = self._clock()
            self.task = asyncio.create_task(self.run(), name=f"catch-up:{self.board}")
        if message.delivery is not None:
            message.delivery.remaining += 1
        if replaced is not None:
            self._finish(replaced)
        self._wake.set()
        return True

    def request_close(self, code: int, reason: str) -> None:
        """Close after the current write (pending messages are discarded)."""
        if self.close_request is None:
            self.close_request = (code, reason)
            self._wake.set()
            if self.direct is not None and not self.dropped:
                # A direct client has no writer, or one waiting for a stuck buffer to drain:
                # (re)start one that only closes.
                if self.task is not None and not self.task.done():
                    self.task.cancel()
                self.task = asyncio.create_task(self._close_now(), name=f"close:{self.board}")

    async def _close_now(self) -> None:
        self._discard_pending()
        self.channel.hub.unregister(self)
        assert self.close_request is not None
        code, reason = self.close_request
        with contextlib.suppress(Exception):
            await self.sink.close(code, reason)

    def _finish(self, message: Outgoing) -> None:
        if message.delivery is not None:
            latency = message.delivery.done(self._clock())
            if latency is not None:
                self.channel.observe_latency(latency)

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
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self.close_request is None:
                    message = self._snapshot or self._rank
                    if message is None:
                        break
                    if message is self._snapshot:
                        self._snapshot = None
                    else:
                        self._rank = None
                    self.sending_since = self._clock()
                    try:
                        await self.sink.send_text(message.text)
                    finally:
                        self.sending_since = None
                        self._finish(message)
                    self.sent += 1
                    self.channel.count_sent(message.kind)
                if self.close_request is not None:
                    break
        except asyncio.CancelledError:
            if not self.dropped:
                self._discard_pending()
                raise
        except Exception:  # the socket went away under us: nothing left to do but clean up
            self._discard_pending()
            self.channel.hub.unregister(self)
            return
        self._discard_pending()
        self.channel.hub.unregister(self)
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
                self.channel.count_sent(message.kind)
                if self._snapshot is None and self._rank is None:
                    break
                self.sending_since = self._clock()
        except asyncio.CancelledError:
            if not self.dropped and self.close_request is None:
                self._discard_pending()
                raise
            self._discard_pending()
        except Exception:  # the socket went away under us
            self._discard_pending()
            self.channel.hub.unregister(self)
            return
        finally:
            self.sending_since = None
        if self.dropped:
            self.channel.hub.unregister(self)
            assert self.close_request is not None
            code, reason = self.close_request
            with contextlib.suppress(Exception):
                await self.sink.close(code, reason)
        elif self.close_request is None:
            self.task = None


Clock = Callable[[], float]


class BoardChannel:
    """All clients of one board in this process, and the board's coalescing loop."""

    def __init__(self, hub: Hub, board: str, policy: PublicPolicy) -> None:
        self.hub = hub
        self.board = board
        self.policy = policy
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
            self.hub.unregister(client)

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            delay = self.last_read_at + self.interval - self.hub.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self.wake.clear()
            first_event_at, self.first_event_at = self.first_event_at, None
            traceparents, self.traceparents = self.traceparents, []
            joiners, self.joiners = self.joiners, []
            force, self.force = self.force, False
            self.dirty = False
            self.last_read_at = self.hub.clock()
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
                    snapshot = await self.hub.snapshots.top(self.board, self.policy.size)
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
                    self.last_read_at = self.hub.clock() + READ_RETRY_SECONDS
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
            delivery = message.delivery = Delivery(started_at=first_event_at or self.hub.clock())
            delivery.remaining += 1  # held until the loop is over (direct writes finish at once)
            for client in list(self.clients):
                client.offer(message)
            latency = delivery.done(self.hub.clock())
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


def refusal(
    grant: Grant | None, now: float, revocations: Revocations
) -> tuple[int, str, str] | None:
    """``(close code, reason, metric label)`` if ``grant`` no longer authorises, else None."""
    if grant is None:
        return None
    if revocations.user_disabled(grant.account_id):
        return CLOSE_FORBIDDEN, "account disabled", "account_disabled"
    if revocations.session_revoked(grant.session_id):
        return CLOSE_UNAUTHORIZED, "session ended", "session_revoked"
    if grant.expires_at is not None and grant.expires_at <= now:
        return CLOSE_UNAUTHORIZED, "token expired", "token_expired"
    return None


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
                    self.unregister(client)
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
            channel = self.channels[board] = BoardChannel(self, board, policy)
        client = Client(channel, user_id, sink, self.clock, grant)
        if client.direct is None:
            client.task = asyncio.create_task(client.run(), name=f"client:{board}")
        channel.add(client)
        return client

    def unregister(self, client: Client) -> None:
        channel = client.channel
        if not channel.remove(client):
            return
        if not channel.clients and self.channels.get(channel.board) is channel:
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
        self.unregister(client)
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
