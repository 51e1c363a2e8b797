"""The season webhook delivery worker: one asyncio task per api process (started and stopped by
the app's lifespan). Any number of replicas cooperate through the outbox table: each claims due
rows with ``FOR UPDATE SKIP LOCKED`` (see ``adapters.pg_webhooks``), POSTs them, and writes the
outcome back into the row. Delivery is at least once: a replica that dies between the POST and
the write-back lets the lease expire and another replica sends the same delivery id again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from scoreboard_common.redis_client import raise_if_cancelled

from scoreboard_api.adapters import pg_webhooks
from scoreboard_api.adapters.postgres import Database
from scoreboard_api.adapters.webhook_sender import WebhookSender
from scoreboard_api.domain.errors import Unavailable
from scoreboard_api.domain.webhooks import NextState, Outcome, after_attempt

log = logging.getLogger("scoreboard.webhooks")

DELIVERIES = Counter(
    "scoreboard_webhook_deliveries_total",
    "Season webhook attempts by outcome: delivered (2xx), retry (will be tried again), "
    "failed (given up after the delivery window).",
    ["outcome"],
)
PENDING = Gauge(
    "scoreboard_webhook_pending", "Season webhook deliveries not yet delivered nor failed."
)
OLDEST_PENDING = Gauge(
    "scoreboard_webhook_oldest_pending_age_seconds",
    "Age of the oldest pending season webhook delivery (0 when none).",
)
for _outcome in ("delivered", "retry", "failed"):
    DELIVERIES.labels(_outcome)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float
    cap_seconds: float
    max_age_seconds: float


class DeliveryWorker:
    """Claims and sends due deliveries until cancelled."""

    def __init__(
        self,
        db: Database,
        sender: WebhookSender,
        policy: RetryPolicy,
        *,
        poll_seconds: float,
        timeout_seconds: float,
        wake: asyncio.Event,
        batch: int = 10,
    ) -> None:
        self.db = db
        self.sender = sender
        self.policy = policy
        self.poll_seconds = poll_seconds
        self.wake = wake
        self.batch = batch
        # Another replica may take a claimed row only after the attempt surely ended.
        self.lease_seconds = timeout_seconds * 3 + 5

    async def run(self) -> None:
        while True:
            raise_if_cancelled()
            busy = False
            try:
                busy = await self.run_once()
                await self.refresh_gauges()
            except Unavailable:
                pass  # PostgreSQL unreachable: counted by the adapter, the next poll retries
            except Exception:
                log.exception("webhook delivery round failed")
            if busy:
                continue  # a full batch: more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_seconds)
            self.wake.clear()

    async def run_once(self) -> bool:
        """Send one batch of due deliveries; True when the batch was full."""
        claimed = await pg_webhooks.claim_due(
            self.db, limit=self.batch, lease_seconds=self.lease_seconds
        )
        if claimed:
            await asyncio.gather(*(self._deliver(item) for item in claimed))
        return len(claimed) == self.batch

    async def _deliver(self, item: pg_webhooks.Claimed) -> None:
        if item.target is None:
            outcome = Outcome(None, "the board has no webhook any more")
            state = NextState("failed", None, outcome.describe())
        else:
            outcome = await self.sender.send(
                item.target.url, item.target.secret, item.id, item.payload
            )
            state = after_attempt(
                outcome,
                attempts=item.attempts + 1,
                created_at=item.created_at,
                now=await pg_webhooks.now(self.db),
                base=self.policy.base_seconds,
                cap=self.policy.cap_seconds,
                max_age=self.policy.max_age_seconds,
            )
        await pg_webhooks.record_attempt(self.db, item.id, state, outcome.status_code)
        extra = {
            "delivery": item.id,
            "board": item.board,
            "attempt": item.attempts + 1,
            "outcome": state.status,
        }
        if state.status == "delivered":
            DELIVERIES.labels("delivered").inc()
            log.info("webhook delivered", extra=extra)
        elif state.status == "failed":
            DELIVERIES.labels("failed").inc()
            log.error("webhook delivery failed for good: %s", state.last_error, extra=extra)
        else:
            DELIVERIES.labels("retry").inc()
            log.warning(
                "webhook attempt failed: %s; next attempt at %s",
                state.last_error,
                state.next_attempt_at.isoformat() if state.next_attempt_at else "-",
                extra=extra,
            )

    async def refresh_gauges(self) -> None:
        backlog = await pg_webhooks.backlog(self.db)
        PENDING.set(backlog.pending)
        OLDEST_PENDING.set(backlog.oldest_age_seconds)
