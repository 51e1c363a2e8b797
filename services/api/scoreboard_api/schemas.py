"""Request and response bodies (msgspec Structs). Requests are decoded strictly: wrong types,
unknown fields and out-of-range values are refused with 400."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from scoreboard_common.board_store import Entry
from scoreboard_common.policy import ACTION_NAME_PATTERN, NO_NUL
from scoreboard_common.ranking import MAX_TOTAL

from scoreboard_api.domain.scoring import ACTION_ID_PATTERN

Username = Annotated[str, Meta(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]{3,32}$")]
Password = Annotated[str, Meta(min_length=8, max_length=256)]
TokenText = Annotated[str, Meta(min_length=1, max_length=512)]


class _Request(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


def _no_newline(**fields: str | None) -> None:
    """msgspec checks ``pattern`` with ``re.search``, where ``$`` also matches before a final
    newline (``"name\n"`` would pass ``^[a-z]+$``); the published JSON Schema patterns mean
    end of input, so enforce that here."""
    for name, value in fields.items():
        if value is not None and "\n" in value:
            raise ValueError(f"`{name}` must not contain a line break")


#: An e-mail address (optional at registration; seed 002 signs in with it). Never published.
Email = Annotated[
    str, Meta(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
]


class RegisterRequest(_Request):
    username: Username
    password: Password
    email: Email | None = None

    def __post_init__(self) -> None:
        _no_newline(username=self.username, email=self.email)


class LoginRequest(_Request):
    username: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]


class RefreshRequest(_Request):
    refresh_token: TokenText


class RegisterResponse(msgspec.Struct, kw_only=True):
    user_id: str
    username: str


class TokenResponse(msgspec.Struct, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class ScoreSubmission(_Request):
    action_id: Annotated[str, Meta(min_length=1, max_length=100, pattern=ACTION_ID_PATTERN)]
    timestamp: Annotated[datetime, Meta(tz=True)]
    action: (
        Annotated[str, Meta(min_length=1, max_length=64, pattern=ACTION_NAME_PATTERN)] | None
    ) = None
    score_increment: Annotated[int, Meta(ge=1, le=MAX_TOTAL)] | None = None
    #: The absolute score of a best/latest board (refused on increment boards).
    score: Annotated[int, Meta(ge=0, le=MAX_TOTAL)] | None = None
    user_id: uuid.UUID | None = None
    #: A JSON object of at most 1 KiB (encoded), stored with the player's standing.
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        _no_newline(action_id=self.action_id, action=self.action)


class SubmitResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    user_id: str
    action_id: str
    increment: int
    new_total_score: int
    rank: int | None
    replayed: bool


class TopResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    season: int
    version: int
    generated_at: datetime
    total_players: int
    entries: list[Entry]


class PlayerResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    season: int
    user_id: str
    username: str
    rank: int
    score: int
    metadata: dict[str, Any] | None = None
    last_updated: datetime | None = None


class EntriesResponse(msgspec.Struct, kw_only=True):
    """One page of ``GET .../entries``: opaque keyset cursors, null at the ends."""

    leaderboard: str
    season: int
    version: int
    total_players: int
    entries: list[Entry]
    next_cursor: str | None
    prev_cursor: str | None


#: Most user ids one lookup may name.
LOOKUP_MAX_IDS = 1000


class LookupRequest(_Request):
    user_ids: Annotated[list[uuid.UUID], Meta(min_length=1, max_length=LOOKUP_MAX_IDS)]


class LookupResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    season: int
    version: int
    entries: list[Entry]


class AroundResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    season: int
    user_id: str
    rank: int
    entries: list[Entry]


class BoardSummary(msgspec.Struct, kw_only=True):
    name: str
    display_name: str
    size: int
    players: int | None
    season: int


class BoardsResponse(msgspec.Struct, kw_only=True):
    leaderboards: list[BoardSummary]


class BoardDetail(msgspec.Struct, kw_only=True):
    name: str
    display_name: str
    size: int
    season: int
    generation: int
    players: int | None
    top_score: int | None
    policy: dict[str, Any]


class SeasonOut(msgspec.Struct, kw_only=True):
    season: int
    started_at: datetime
    ended_at: datetime | None
    players: int | None
    top_score: int | None
    current: bool


class SeasonsResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    current_season: int
    seasons: list[SeasonOut]


class SeasonTopResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    season: int
    entries: list[Entry]


class BoardState(msgspec.Struct, kw_only=True):
    name: str
    generation: int
    season: int
    players: int | None
    top_score: int | None
    applied: bool
    created: bool
    season_started_at: datetime
    last_reset: datetime | None
    spec: dict[str, Any]


class ResetRequest(_Request):
    season: Annotated[int, Meta(ge=1, le=2**31 - 1)]


class ResetResponse(msgspec.Struct, kw_only=True):
    name: str
    season: int
    reset: bool
    season_started_at: datetime
    last_reset: datetime | None
    generation: int


class WebhookDelivery(msgspec.Struct, kw_only=True):
    """The latest season-end delivery of a board (its outbox row)."""

    id: str
    season: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


class WebhookStats(msgspec.Struct, kw_only=True):
    """Season webhook state: whether a target is set (its URL and secret are never shown) and
    the last delivery."""

    configured: bool
    #: ``webhook_fingerprint(url, secret)`` (scoreboard_common.policy) of the stored target: lets
    #: the operator see that a rotated Secret has not reached the api yet.
    fingerprint: str | None
    last_delivery: WebhookDelivery | None


class StatsResponse(msgspec.Struct, kw_only=True):
    name: str
    players: int
    top_score: int
    updates_per_minute: int | None
    fraud_events: int
    fraud_events_last_hour: int
    season: int
    generation: int
    season_started_at: datetime
    last_reset: datetime | None
    webhook: WebhookStats | None = None
    #: ``signing_keys_fingerprint(keys)`` (scoreboard_common.policy) of the request-signing
    #: keys this api holds for the board (None without keys, or when they do not open): lets
    #: the operator see that a rotated Secret has not reached the api yet.
    signing_keys_fingerprint: str | None = None


class VoidRequest(_Request):
    reason: Annotated[str, Meta(min_length=1, max_length=500, pattern=NO_NUL)]
    ban: bool = False


class VoidResponse(msgspec.Struct, kw_only=True):
    leaderboard: str
    user_id: str
    voided_total: int
    banned: bool


class UserStateRequest(_Request):
    disabled: bool


class UserStateResponse(msgspec.Struct, kw_only=True):
    user_id: str
    disabled: bool


class HealthResponse(msgspec.Struct, kw_only=True):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


class Problem(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details (extension members may follow)."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str | None = None
    request_id: str | None = None


# -- seed compatibility (the five original design notes; docs/api.md "Seed compatibility") ----

ActionId = Annotated[str, Meta(min_length=1, max_length=100, pattern=ACTION_ID_PATTERN)]
ClientTimestamp = Annotated[datetime, Meta(tz=True)]


class _SeedCamel(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class Seed000UpdateRequest(_Request):
    action_id: ActionId
    score_increment: Annotated[int, Meta(ge=1, le=MAX_TOTAL)]
    timestamp: ClientTimestamp

    def __post_init__(self) -> None:
        _no_newline(action_id=self.action_id)


class Seed000UpdateResponse(msgspec.Struct, kw_only=True):
    success: bool
    user_id: str
    new_total_score: int
    leaderboard_position: int | None


class SeedLeaderboardResponse(msgspec.Struct, kw_only=True):
    """Seeds 000 and 003: ``GET /api/scores/leaderboard``."""

    leaderboard: list[Entry]
    total_players: int
    last_refresh: datetime


class Seed002LoginRequest(_Request):
    email: Annotated[str, Meta(min_length=3, max_length=254, pattern=NO_NUL)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]


class Seed002LoginResponse(msgspec.Struct, kw_only=True, rename="camel"):
    access_token: str
    refresh_token: str


class Seed002Score(msgspec.Struct, kw_only=True):
    email: str  # the public username: the platform never publishes e-mail addresses
    score: int


class Seed002Scores(msgspec.Struct, kw_only=True):
    scores: list[Seed002Score]


class Seed002Message(msgspec.Struct, kw_only=True):
    message: str


class Seed003UpdateRequest(_SeedCamel):
    user_id: uuid.UUID
    action_id: Annotated[str, Meta(min_length=1, max_length=64, pattern=ACTION_NAME_PATTERN)]
    timestamp: ClientTimestamp
    idempotency_key: ActionId
    signature: Annotated[str, Meta(min_length=1, max_length=200)] | None = None

    def __post_init__(self) -> None:
        _no_newline(action_id=self.action_id, idempotency_key=self.idempotency_key)


class Seed003UpdateResponse(msgspec.Struct, kw_only=True, rename="camel"):
    user_id: str
    action_id: str
    idempotency_key: str
    increment: int
    score: int
    rank: int | None
    replayed: bool


class Seed003Player(msgspec.Struct, kw_only=True, rename="camel"):
    """Seed 003's "Leaderboard Entry"."""

    user_id: str
    username: str
    score: int
    rank: int
    last_updated: datetime


class Seed004UpdateRequest(_SeedCamel):
    user_id: uuid.UUID
    score_increment: Annotated[int, Meta(ge=1, le=MAX_TOTAL)]


class Seed004UpdateResponse(msgspec.Struct, kw_only=True):
    status: str
    message: str
    newScore: int
