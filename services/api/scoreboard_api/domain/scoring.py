"""Score submission rules: which increment a submission earns and whether it is timely."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scoreboard_common.policy import BoardSpec

from scoreboard_api.domain.errors import ProblemError, validation_error

ACTION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission after decoding (types checked), before the board's rules."""

    action_id: str
    timestamp: datetime
    action: str | None
    score_increment: int | None
    user_id: str
    server_timestamp: bool = False  # the timestamp is ours (seed route): not part of the payload


def resolve_increment(spec: BoardSpec, action: str | None, score_increment: int | None) -> int:
    """The increment the server grants, or a 400 problem."""
    actions = spec.scoring.actions
    if actions:
        if action is None:
            raise validation_error(
                "this leaderboard awards points per action: `action` is required"
            )
        points = actions.get(action)
        if points is None:
            raise validation_error(f"unknown action {action!r} for this leaderboard")
        if score_increment is not None and score_increment != points:
            raise validation_error("score_increment does not match the points of this action")
        return points
    if score_increment is None:
        raise validation_error("`score_increment` is required")
    if not 1 <= score_increment <= spec.scoring.max_increment:
        raise validation_error(
            f"score_increment must be between 1 and {spec.scoring.max_increment}"
        )
    return score_increment


def check_clock_skew(spec: BoardSpec, timestamp: datetime, now: datetime) -> None:
    if timestamp.tzinfo is None:
        raise validation_error("timestamp must carry a UTC offset (RFC 3339)")
    skew = abs((now - timestamp).total_seconds())
    if skew > spec.clock_skew_seconds:
        raise ProblemError(
            400,
            "timestamp_out_of_range",
            f"timestamp is {int(skew)} s away from server time "
            f"(allowed: {spec.clock_skew_seconds} s)",
        )


def same_payload(
    stored: tuple[str, str | None, int, datetime], submission: Submission, increment: int
) -> bool:
    """Whether a replayed action_id carries the payload it was first accepted with.

    ``stored`` is ``(user_id, action, increment, client timestamp)`` of the first submission.
    A timestamp the server assigned (seed routes without one) is not part of the payload."""
    user_id, action, stored_increment, stored_ts = stored
    return (
        user_id == submission.user_id
        and action == submission.action
        and stored_increment == increment
        and (submission.server_timestamp or stored_ts == submission.timestamp)
    )
