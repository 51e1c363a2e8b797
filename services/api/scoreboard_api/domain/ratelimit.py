"""Rate-limit arithmetic (GCRA), shared by the Redis Lua script's contract and the in-memory
fallback used while Redis is unreachable, plus the RateLimit header rendering.

GCRA with ``limit`` requests per ``window`` seconds: emission interval ``T = window/limit``,
burst tolerance ``window - T``: a fresh client may send ``limit`` requests at once, then one
every ``T``. One timestamp (the theoretical arrival time, TAT) per key.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    scope: str  # user | ip | fallback | auth
    limit: int
    window_seconds: int

    @property
    def interval_ms(self) -> float:
        return self.window_seconds * 1000 / self.limit


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: Limit
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # 0 when allowed


def gcra(tat_ms: float | None, now_ms: float, limit: Limit) -> tuple[Decision, float]:
    """Return the decision and the new TAT (unchanged when refused)."""
    interval = limit.interval_ms
    window = limit.window_seconds * 1000
    tat = max(tat_ms or now_ms, now_ms)
    new_tat = tat + interval
    if new_tat - now_ms > window:
        retry = math.ceil((new_tat - window - now_ms) / 1000)
        reset = math.ceil((tat - now_ms) / 1000)
        return Decision(False, limit, 0, reset, max(retry, 1)), tat
    remaining = max(int((window - (new_tat - now_ms)) // interval), 0)
    reset = math.ceil((new_tat - now_ms) / 1000)
    return Decision(True, limit, remaining, reset, 0), new_tat


class MemoryLimiter:
    """Per-replica GCRA limiter with a bounded key space (LRU)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._tats: OrderedDict[str, float] = OrderedDict()
        self._max_keys = max_keys

    def hit(self, key: str, limit: Limit, now_ms: float) -> Decision:
        decision, tat = gcra(self._tats.get(key), now_ms, limit)
        self._tats[key] = tat
        self._tats.move_to_end(key)
        while len(self._tats) > self._max_keys:
            self._tats.popitem(last=False)
        return decision


def policy_header(limits: list[Limit]) -> str:
    """``RateLimit-Policy`` (draft-ietf-httpapi-ratelimit-headers, structured-field form)."""
    return ", ".join(f'"{lim.scope}";q={lim.limit};w={lim.window_seconds}' for lim in limits)


def ratelimit_header(decision: Decision) -> str:
    """``RateLimit`` for the most restrictive decision: remaining quota and reset seconds."""
    return f'"{decision.limit.scope}";r={decision.remaining};t={decision.reset_seconds}'


def most_restrictive(decisions: list[Decision]) -> Decision:
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return max(refused, key=lambda d: d.retry_after_seconds)
    return min(decisions, key=lambda d: (d.remaining, -d.reset_seconds))
