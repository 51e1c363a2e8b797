"""Redis Pub/Sub subscriber with reconnect: feeds events to the hub.

On every (re)subscription the hub is told to re-read every active board, because events
published while the subscription was down are lost (Pub/Sub has no replay). A watchdog PING
detects a silently dead connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any, Protocol

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from scoreboard_common.events import BOARD_CHANNEL, SCORE_CHANNEL, Event, decode_event
from scoreboard_common.metrics import DEPENDENCY_UP
from scoreboard_common.redis_client import raise_if_cancelled

from scoreboard_realtime import metrics

log = logging.getLogger("scoreboard.realtime.pubsub")


class EventSink(Protocol):
    def on_event(self, event: Event, received_at: float | None = None) -> None: ...

    def on_resubscribed(self) -> None: ...

    def on_subscription_lost(self) -> None: ...


class Subscriber:
    def __init__(
        self,
        redis: Redis,
        sink: EventSink,
        *,
        ping_interval: float = 5.0,
        silence_timeout: float = 15.0,
        backoff_base: float = 0.1,
        backoff_cap: float = 5.0,
    ) -> None:
        self.redis = redis
        self.sink = sink
        self.ping_interval = ping_interval
        self.silence_timeout = silence_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.subscribed = False
        self.subscriptions = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pubsub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        attempt = 0
        while True:
            raise_if_cancelled()
            pubsub: PubSub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(SCORE_CHANNEL, BOARD_CHANNEL)
                self.subscribed = True
                DEPENDENCY_UP.labels("redis").set(1)
                if self.subscriptions:
                    metrics.PUBSUB_RECONNECTS.inc()
                    log.info("pubsub resubscribed")
                self.subscriptions += 1
                attempt = 0
                self.sink.on_resubscribed()
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self.subscribed:
                    log.warning("pubsub connection lost", extra={"error": repr(error)})
                    self.sink.on_subscription_lost()
                self.subscribed = False
                DEPENDENCY_UP.labels("redis").set(0)
                attempt += 1
                delay = min(self.backoff_cap, self.backoff_base * 2**attempt)
                await asyncio.sleep(random.uniform(delay / 2, delay))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _listen(self, pubsub: PubSub) -> None:
        last_seen = time.monotonic()
        next_ping = last_seen + self.ping_interval
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=0.5)
            raise_if_cancelled()
            now = time.monotonic()
            if message is not None:
                last_seen = now
                if message.get("type") == "message":
                    self._dispatch(message.get("data"), now)
                continue
            if now >= next_ping:
                await pubsub.ping()
                next_ping = now + self.ping_interval
            if now - last_seen > self.silence_timeout:
                raise ConnectionError("no answer from Redis Pub/Sub")

    def _dispatch(self, data: Any, received_at: float) -> None:
        try:
            event = decode_event(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.warning("undecodable event", extra={"error": str(error)})
            return
        try:
            self.sink.on_event(event, received_at)
        except Exception:
            log.exception("event handling failed")
