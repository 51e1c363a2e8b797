"""How a standing is encoded in a Redis sorted set.

Sorted-set scores are doubles, and a total may use all 53 bits of the mantissa, so the
tie-break cannot be packed into the score. Instead the score is the *negated* total and the
member is ``<reached_at in µs, 16 digits>:<user_id>``. Redis orders equal scores by member, so an
ascending range yields: highest total first, then earliest to reach it, then user id — exactly
PostgreSQL's ``ORDER BY total DESC, reached_at ASC, user_id ASC``.
"""

from __future__ import annotations

from datetime import UTC, datetime

MAX_TOTAL = 2**53 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )


def encode_member(reached_at: datetime, user_id: str) -> str:
    return f"{to_micros(reached_at):016d}:{user_id}"


def decode_member(member: str | bytes) -> tuple[int, str]:
    """Return ``(reached_at_micros, user_id)``."""
    text = member.decode() if isinstance(member, bytes) else member
    micros, _, user_id = text.partition(":")
    return int(micros), user_id


def encode_score(total: int) -> int:
    return -total


def decode_score(score: float) -> int:
    return -int(score)
