"""Season webhooks, the pure rules (DESIGN §3 "Season webhooks"): the delivery id, the
signature, the retry schedule and what an attempt's outcome does to a delivery.

The signature is Stripe's scheme: ``X-Scoreboard-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256(secret, t + "." + body)>``. The timestamp is signed with the body so a receiver can
refuse old replays (it compares ``t`` with its clock); ``v1`` names the scheme so a second one
can be added while receivers move over.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

DELIVERY_HEADER = "X-Scoreboard-Delivery"
SIGNATURE_HEADER = "X-Scoreboard-Signature"

#: The shortest secret the api accepts (bytes of UTF-8).
MIN_SECRET_LENGTH = 16

Status = Literal["pending", "delivered", "failed"]


def delivery_id(board: str, season: int) -> str:
    """``<board>:<season>``: one per ended season; receivers dedupe on it."""
    return f"{board}:{season}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, *, now: int | None = None, tolerance: int = 300
) -> bool:
    """What a receiver does (docs/api.md shows it): parse the header, recompute, compare in
    constant time, and (when ``now`` is given) refuse a timestamp more than ``tolerance``
    seconds away."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if now is not None and abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, parts.get("v1", ""))


def retry_delay(
    attempts: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1-based): exponential
    (``base * 2^(attempts-1)``, at most ``cap``) with "equal jitter": a uniformly random point
    in the upper half, so the delay still grows while replicas and boards spread out."""
    exponent = min(max(attempts, 1) - 1, 62)
    ceiling = min(cap, base * float(2**exponent))
    return ceiling / 2 + ceiling / 2 * rand()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt did: ``status_code`` is None when no response came (refused, timeout);
    ``error`` is a short description (never the secret, the signature or the body)."""

    status_code: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def describe(self) -> str:
        if self.status_code is not None:
            text = f"HTTP {self.status_code}"
            return f"{text}: {self.error}" if self.error else text
        return self.error or "no response"


@dataclass(frozen=True, slots=True)
class NextState:
    status: Status
    next_attempt_at: datetime | None  # when pending
    last_error: str | None


def after_attempt(
    outcome: Outcome,
    *,
    attempts: int,
    created_at: datetime,
    now: datetime,
    base: float,
    cap: float,
    max_age: float,
    rand: Callable[[], float] = random.random,
) -> NextState:
    """The delivery's state after its ``attempts``-th attempt: delivered on a 2xx; otherwise
    pending again after :func:`retry_delay` (the last retry lands on the deadline
    ``created_at + max_age``), or failed once the deadline has passed."""
    if outcome.delivered:
        return NextState("delivered", None, None)
    error = outcome.describe()[:500]
    deadline = created_at + timedelta(seconds=max_age)
    if now >= deadline:
        return NextState("failed", None, error)
    delay = retry_delay(attempts, base=base, cap=cap, rand=rand)
    return NextState("pending", min(now + timedelta(seconds=delay), deadline), error)
