"""A board's policy: the Leaderboard custom resource's spec (camelCase, DESIGN §5) with its
defaults, validated strictly, and the public subset other services read from Redis."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from scoreboard_common.policy import PublicAccess, PublicBroadcast, PublicPolicy, PublicScoring
from scoreboard_common.ranking import MAX_TOTAL

BOARD_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
BOARD_NAME_RE = re.compile(BOARD_NAME_PATTERN)
ACTION_NAME_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"

BoardName = Annotated[str, Meta(pattern=BOARD_NAME_PATTERN, max_length=63)]
ActionName = Annotated[str, Meta(pattern=ACTION_NAME_PATTERN, max_length=64)]
Points = Annotated[int, Meta(ge=1, le=2**31 - 1)]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


class _Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class RateWindow(_Spec):
    limit: Annotated[int, Meta(ge=1, le=1_000_000)]
    window_seconds: Annotated[int, Meta(ge=1, le=86_400)]


class RateLimitSpec(_Spec):
    per_user: RateWindow = msgspec.field(
        default_factory=lambda: RateWindow(limit=10, window_seconds=60)
    )
    per_ip: RateWindow = msgspec.field(
        name="perIP", default_factory=lambda: RateWindow(limit=100, window_seconds=3600)
    )


class ScoringSpec(_Spec):
    max_increment: Points = 100
    actions: dict[ActionName, Points] = msgspec.field(default_factory=dict)


class AccessSpec(_Spec):
    public_read: bool = True
    anonymous_live: bool = True


class SeasonSpec(_Spec):
    schedule: Annotated[str, Meta(max_length=100, pattern=NO_NUL)] | None = None
    time_zone: Annotated[str, Meta(max_length=64, pattern=NO_NUL)] = "UTC"
    keep: Annotated[int, Meta(ge=0, le=1000)] = 12


class FraudSpec(_Spec):
    max_points_per_minute: Annotated[int, Meta(ge=1, le=MAX_TOTAL)] = 500
    burst_count: Annotated[int, Meta(ge=2, le=10_000)] = 5
    burst_window_ms: Annotated[int, Meta(ge=0, le=60_000)] = 50
    max_replays_per_minute: Annotated[int, Meta(ge=1, le=1_000_000)] = 20
    on_violation: Literal["flag", "reject"] = "flag"


class BroadcastSpec(_Spec):
    min_interval_ms: Annotated[int, Meta(ge=10, le=60_000)] = 100


Writer = Literal["users", "services"]


class BoardSpec(_Spec):
    """The CR spec (DESIGN §5). Unknown fields are refused so typos surface as 400."""

    display_name: Annotated[str, Meta(max_length=100, pattern=NO_NUL)] = ""
    size: Annotated[int, Meta(ge=1, le=100)] = 10
    scoring: ScoringSpec = msgspec.field(default_factory=ScoringSpec)
    rate_limit: RateLimitSpec = msgspec.field(default_factory=RateLimitSpec)
    writers: Annotated[list[Writer], Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=lambda: list[Writer](["users", "services"])
    )
    access: AccessSpec = msgspec.field(default_factory=AccessSpec)
    clock_skew_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 300
    season: SeasonSpec | None = None
    fraud: FraudSpec = msgspec.field(default_factory=FraudSpec)
    broadcast: BroadcastSpec = msgspec.field(default_factory=BroadcastSpec)
    suspended: bool = False
    deletion_policy: Literal["Retain", "Delete"] = "Retain"


class BoardPut(BoardSpec):
    """Admin PUT body: the CR spec plus the CR's ``metadata.generation`` and ``metadata.uid``.

    A PUT with an older generation than the stored one is ignored, unless it comes from a
    different owner (a resource deleted with ``Retain`` and created again restarts at 1)."""

    generation: Annotated[int, Meta(ge=0, le=2**62)] = 0
    owner_uid: Annotated[str, Meta(min_length=1, max_length=128)] | None = None


def spec_of(put: BoardPut) -> BoardSpec:
    fields = {f: getattr(put, f) for f in BoardSpec.__struct_fields__}
    return BoardSpec(**fields)


class BoardPolicy(msgspec.Struct, kw_only=True, frozen=True):
    """What each replica caches per board (from the `leaderboards` row)."""

    name: str
    spec: BoardSpec
    generation: int
    season: int
    banned: frozenset[str] = frozenset()

    def public(self) -> PublicPolicy:
        return public_policy(self.name, self.spec, self.generation, self.season)


def public_policy(name: str, spec: BoardSpec, generation: int, season: int) -> PublicPolicy:
    return PublicPolicy(
        board=name,
        display_name=spec.display_name or name,
        size=spec.size,
        generation=generation,
        season=season,
        suspended=spec.suspended,
        access=PublicAccess(
            public_read=spec.access.public_read, anonymous_live=spec.access.anonymous_live
        ),
        broadcast=PublicBroadcast(min_interval_ms=spec.broadcast.min_interval_ms),
        scoring=PublicScoring(
            max_increment=spec.scoring.max_increment, actions=dict(spec.scoring.actions)
        ),
        clock_skew_seconds=spec.clock_skew_seconds,
        writers=list(spec.writers),
    )


_spec_decoder = msgspec.json.Decoder(BoardSpec)
_encoder = msgspec.json.Encoder()


def decode_spec(raw: bytes | str) -> BoardSpec:
    return _spec_decoder.decode(raw)


def encode_spec(spec: BoardSpec) -> bytes:
    return _encoder.encode(spec)
