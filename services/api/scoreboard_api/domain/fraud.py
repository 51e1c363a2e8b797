"""Fraud rules evaluated on the write path. Inputs are counters kept in Redis (or per replica
while Redis is down); the board's policy decides whether a hit only flags or rejects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scoreboard_common.policy import FraudSpec

Rule = Literal["points_per_minute", "timestamp_burst", "replay_storm"]


@dataclass(frozen=True, slots=True)
class FraudHit:
    rule: Rule
    action: Literal["flag", "reject"]
    detail: str


@dataclass(frozen=True, slots=True)
class FraudCounters:
    points_last_minute: int  # points accepted in the sliding minute, before this submission
    # consecutive submissions whose client timestamps, or arrival times, were within the burst
    # window of the previous one (spacing fabricated timestamps apart does not evade it)
    burst_streak: int
    replays_last_minute: int  # replayed action_ids in the sliding minute, including this one


def evaluate(
    spec: FraudSpec, counters: FraudCounters, increment: int, *, replay: bool
) -> list[FraudHit]:
    hits: list[FraudHit] = []
    action = spec.on_violation
    if replay:
        if counters.replays_last_minute > spec.max_replays_per_minute:
            hits.append(
                FraudHit(
                    "replay_storm",
                    action,
                    f"{counters.replays_last_minute} replays in a minute "
                    f"(limit {spec.max_replays_per_minute})",
                )
            )
        return hits
    projected = counters.points_last_minute + increment
    if projected > spec.max_points_per_minute:
        hits.append(
            FraudHit(
                "points_per_minute",
                action,
                f"{projected} points in a minute (limit {spec.max_points_per_minute})",
            )
        )
    if counters.burst_streak + 1 >= spec.burst_count:
        hits.append(
            FraudHit(
                "timestamp_burst",
                action,
                f"{counters.burst_streak + 1} submissions within {spec.burst_window_ms} ms of "
                "each other (client timestamps or arrival)",
            )
        )
    return hits


def rejects(hits: list[FraudHit]) -> bool:
    return any(hit.action == "reject" for hit in hits)
