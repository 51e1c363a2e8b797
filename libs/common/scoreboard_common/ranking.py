"""How a standing is encoded in a Redis sorted set, and the rank order PostgreSQL shares.

Sorted-set scores are doubles, and a total may use all 53 bits of the mantissa, so the
tie-break cannot be packed into the score. Instead the score is the board's *rank key* and the
member is ``<reached_at in µs, 16 digits>:<user_id>``:

* ``order: desc`` (higher is better): the rank key is the *negated* total;
* ``order: asc`` (lower is better, time trials): the rank key is the total itself.

Redis orders equal scores by member, so an ascending range yields: the best total first, then
the earliest to reach it, then user id — exactly PostgreSQL's
``ORDER BY <rank key>, reached_at, user_id`` (``rank_key_sql``; the indexes of migration 0006
cover both keys, so keyset paging is an index scan for either order). A total is never
negative, so ``decode_score`` is ``abs`` and readers need not know the board's order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

#: ``desc``: higher is better (the default); ``asc``: lower is better.
Order = Literal["desc", "asc"]
#: What a submission does to the stored score: add (``increment``, the default), keep the
#: better (``best``, by the board's order) or replace (``latest``).
ScoreOperator = Literal["increment", "best", "latest"]
#: How a late write is told from a newer one in Redis (``BoardStore.apply_total``):
#: ``grow`` refuses a total that is not larger than the stored one (increment; best on desc),
#: ``shrink`` one that is not smaller (best on asc), ``revision`` one whose revision (the row's
#: ``updated_at`` in µs, strictly growing per standing) is not newer (latest: any value).
GuardMode = Literal["grow", "shrink", "revision"]

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


def encode_score(total: int, order: Order = "desc") -> int:
    """The sorted-set score (the rank key): lower ranks first."""
    return -total if order == "desc" else total


def decode_score(score: float) -> int:
    """The total of a sorted-set score, whatever the board's order (totals are >= 0)."""
    return abs(int(score))


def rank_key_sql(order: Order, alias: str = "") -> str:
    """PostgreSQL's rank key of ``scores.total`` (indexed as such by migration 0006);
    ``alias`` qualifies the column (``"o."``)."""
    return f"(-{alias}total)" if order == "desc" else f"{alias}total"


def guard_mode(order: Order, operator: ScoreOperator) -> GuardMode:
    if operator == "latest":
        return "revision"
    if operator == "best" and order == "asc":
        return "shrink"
    return "grow"
