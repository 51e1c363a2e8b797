"""Score submission rules: what a submission means on the board (its operator), which increment
or score it carries, its metadata, and whether it is timely."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from scoreboard_common.policy import BoardSpec
from scoreboard_common.ranking import MAX_TOTAL, Order, ScoreOperator

from scoreboard_api.domain.errors import Invalid

ACTION_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"
#: Largest metadata object, encoded as compact JSON (UTF-8 bytes).
METADATA_MAX_BYTES = 1024
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission as the route decoded it (types checked), before the board's rules: the one
    record the service receives; :class:`Write` carries it on to the adapters."""

    action_id: str
    timestamp: datetime
    action: str | None
    score_increment: int | None
    user_id: str
    server_timestamp: bool = False  # the timestamp is ours (seed route): not part of the payload
    score: int | None = None  # the absolute score (best/latest boards)
    metadata: dict[str, Any] | None = None
    board: str = ""
    client_ip: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Write:
    """A submission resolved against its board: what the adapters count (Redis), store
    (PostgreSQL) and place (Redis). Built once by the service; nothing is copied out of it."""

    submission: Submission
    season: int
    operator: ScoreOperator
    order: Order
    value: int  # increment boards: the points granted; best/latest: the absolute score
    points: int  # what counts towards points-per-minute (the increment; 0 on best/latest)
    metadata_json: str | None  # the metadata as compact JSON text
    username: str | None  # the player's name when the caller is the player; None: look it up

    @property
    def board(self) -> str:
        return self.submission.board

    @property
    def user_id(self) -> str:
        return self.submission.user_id


def resolve_value(
    spec: BoardSpec, action: str | None, score_increment: int | None, score: int | None
) -> int:
    """What the submission carries under the board's operator: the increment the server grants
    (``increment``) or the absolute score (``best``/``latest``); a 400 problem for the fields of
    the other kind."""
    if spec.operator == "increment":
        if score is not None:
            raise Invalid(
                code="score_not_allowed",
                detail="this leaderboard adds points (operator increment): send `score_increment` "
                "(or `action`), not an absolute `score`",
            )
        return resolve_increment(spec, action, score_increment)
    if score_increment is not None or action is not None:
        raise Invalid(
            code="increment_not_allowed",
            detail=f"this leaderboard keeps the {spec.operator} score (operator {spec.operator}): send "
            "an absolute `score`, not `score_increment` or `action`",
        )
    if score is None:
        raise Invalid(
            code="score_required",
            detail=f"this leaderboard keeps the {spec.operator} score: `score` is required",
        )
    if not 0 <= score <= MAX_TOTAL:
        raise Invalid(f"score must be between 0 and {MAX_TOTAL}")
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
        raise Invalid(
            code="metadata_too_large",
            detail=f"metadata is {len(encoded)} bytes as JSON (at most {METADATA_MAX_BYTES})",
        )
    if _has_nul(metadata):
        raise Invalid("metadata must not contain NUL characters")
    return encoded.decode()


def resolve_increment(spec: BoardSpec, action: str | None, score_increment: int | None) -> int:
    """The increment the server grants, or a 400 problem."""
    actions = spec.scoring.actions
    if actions:
        if action is None:
            raise Invalid("this leaderboard awards points per action: `action` is required")
        points = actions.get(action)
        if points is None:
            raise Invalid(f"unknown action {action!r} for this leaderboard")
        if score_increment is not None and score_increment != points:
            raise Invalid("score_increment does not match the points of this action")
        return points
    if score_increment is None:
        raise Invalid("`score_increment` is required")
    if not 1 <= score_increment <= spec.scoring.max_increment:
        raise Invalid(f"score_increment must be between 1 and {spec.scoring.max_increment}")
    return score_increment


def check_clock_skew(spec: BoardSpec, timestamp: datetime, now: datetime) -> None:
    if timestamp.tzinfo is None:
        raise Invalid("timestamp must carry a UTC offset (RFC 3339)")
    skew = abs((now - timestamp).total_seconds())
    if skew > spec.clock_skew_seconds:
        raise Invalid(
            code="timestamp_out_of_range",
            detail=f"timestamp is {int(skew)} s away from server time "
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
