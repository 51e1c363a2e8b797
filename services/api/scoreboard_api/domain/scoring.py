"""Score submission rules: what a submission means on the board (its operator), which increment
or score it carries, its metadata, and whether it is timely."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from scoreboard_common.policy import BoardSpec
from scoreboard_common.ranking import MAX_TOTAL

from scoreboard_api.domain.errors import ProblemError, validation_error

ACTION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"
#: Largest metadata object, encoded as compact JSON (UTF-8 bytes).
METADATA_MAX_BYTES = 1024
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission after decoding (types checked), before the board's rules."""

    action_id: str
    timestamp: datetime
    action: str | None
    score_increment: int | None
    user_id: str
    server_timestamp: bool = False  # the timestamp is ours (seed route): not part of the payload
    score: int | None = None  # the absolute score (best/latest boards)
    metadata: dict[str, Any] | None = None


def resolve_value(
    spec: BoardSpec, action: str | None, score_increment: int | None, score: int | None
) -> int:
    """What the submission carries under the board's operator: the increment the server grants
    (``increment``) or the absolute score (``best``/``latest``); a 400 problem for the fields of
    the other kind."""
    if spec.operator == "increment":
        if score is not None:
            raise ProblemError(
                400,
                "score_not_allowed",
                "this leaderboard adds points (operator increment): send `score_increment` "
                "(or `action`), not an absolute `score`",
            )
        return resolve_increment(spec, action, score_increment)
    if score_increment is not None or action is not None:
        raise ProblemError(
            400,
            "increment_not_allowed",
            f"this leaderboard keeps the {spec.operator} score (operator {spec.operator}): send "
            "an absolute `score`, not `score_increment` or `action`",
        )
    if score is None:
        raise ProblemError(
            400,
            "score_required",
            f"this leaderboard keeps the {spec.operator} score: `score` is required",
        )
    if not 0 <= score <= MAX_TOTAL:
        raise validation_error(f"score must be between 0 and {MAX_TOTAL}")
    return score


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def encode_metadata(metadata: dict[str, Any] | None) -> str | None:
    """The metadata as compact JSON text, or a 400 problem: larger than
    :data:`METADATA_MAX_BYTES` (``metadata_too_large``) or holding a NUL character (which
    PostgreSQL's jsonb cannot store)."""
    if metadata is None:
        return None
    encoded = _encoder.encode(metadata)
    if len(encoded) > METADATA_MAX_BYTES:
        raise ProblemError(
            400,
            "metadata_too_large",
            f"metadata is {len(encoded)} bytes as JSON (at most {METADATA_MAX_BYTES})",
        )
    if _has_nul(metadata):
        raise validation_error("metadata must not contain NUL characters")
    return encoded.decode()


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
    stored: tuple[str, str | None, int, datetime, dict[str, Any] | None],
    submission: Submission,
    value: int,
) -> bool:
    """Whether a replayed action_id carries the payload it was first accepted with.

    ``stored`` is ``(user_id, action, increment or score, client timestamp, metadata)`` of the
    first submission; ``value`` is this submission's increment (increment boards) or score.
    A timestamp the server assigned (seed routes without one) is not part of the payload."""
    user_id, action, stored_value, stored_ts, metadata = stored
    return (
        user_id == submission.user_id
        and action == submission.action
        and stored_value == value
        and (submission.server_timestamp or stored_ts == submission.timestamp)
        and metadata == submission.metadata
    )
