"""A board's policy: the one definition of the ``Leaderboard`` spec (DESIGN §5), its defaults,
the board-name rule, and the public part other services read from Redis.

Everything that knows about a board's policy derives from this module:

* the api decodes admin PUTs into :class:`BoardSpec` (strict: unknown fields are a 400) and
  writes :class:`PublicPolicy` to ``sb:{board}:policy``;
* realtime decodes that JSON with :func:`decode_public_policy` (lenient: unknown members are
  ignored, so an api that adds a field never breaks an older realtime replica);
* the operator fills specs from :func:`spec_defaults`;
* the CRD (``charts/scoreboard/files/crds/``) is hand-written for its descriptions and CEL
  messages; ``tests/unit/common/test_policy_contract.py`` fails when its fields, defaults,
  bounds or enums differ from the types below.

Adding a field: add it here (with its default and bounds), to the CRD, and to the code that
acts on it; the contract test names what is missing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from scoreboard_common.ranking import MAX_TOTAL, Order, ScoreOperator

# -- board names --------------------------------------------------------------------------

#: A board's name is the Leaderboard's ``metadata.name``: a DNS label.
BOARD_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
BOARD_NAME_MAX_LENGTH = 63
BOARD_NAME_RULE = "board names are 1-63 chars of [a-z0-9-], starting and ending alphanumeric"
_BOARD_NAME_RE = re.compile(BOARD_NAME_PATTERN)


def is_board_name(name: str) -> bool:
    """Whether ``name`` may name a board (the api, realtime and the CRD share this rule)."""
    return len(name) <= BOARD_NAME_MAX_LENGTH and _BOARD_NAME_RE.fullmatch(name) is not None


BoardName = Annotated[str, Meta(pattern=BOARD_NAME_PATTERN, max_length=BOARD_NAME_MAX_LENGTH)]

# -- the spec ---------------------------------------------------------------------------

ACTION_NAME_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL

ActionName = Annotated[str, Meta(pattern=ACTION_NAME_PATTERN, max_length=64)]
Points = Annotated[int, Meta(ge=1, le=2**31 - 1)]
BoardSize = Annotated[int, Meta(ge=1, le=100)]  # entries in the live top N
Writer = Literal["users", "services"]
OnViolation = Literal["flag", "reject"]
DeletionPolicy = Literal["Retain", "Delete"]


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
    """Optional season resets. The api also accepts a block without ``schedule`` (resets on
    demand only, with ``keep``); the CRD requires one."""

    schedule: Annotated[str, Meta(max_length=100, pattern=NO_NUL)] | None = None
    time_zone: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL)] = "UTC"
    keep: Annotated[int, Meta(ge=1, le=1000)] = 12


class FraudSpec(_Spec):
    max_points_per_minute: Annotated[int, Meta(ge=1, le=MAX_TOTAL)] = 500
    burst_count: Annotated[int, Meta(ge=2, le=10_000)] = 5
    burst_window_ms: Annotated[int, Meta(ge=0, le=60_000)] = 50
    max_replays_per_minute: Annotated[int, Meta(ge=1, le=1_000_000)] = 20
    on_violation: OnViolation = "flag"


class BroadcastSpec(_Spec):
    min_interval_ms: Annotated[int, Meta(ge=10, le=60_000)] = 100


#: A Kubernetes object name (DNS subdomain), e.g. the Secret that holds a board's signing keys.
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"  # noqa: S105
#: A key of a Secret's ``data``: a signing key's id (and a key of the admin PUT's
#: ``signingKeys``), or the key that holds a webhook secret.
KEY_ID_PATTERN = r"^[-._a-zA-Z0-9]{1,253}$"
#: A webhook URL: http(s) only (plain http for in-cluster and dev receivers; see
#: docs/operator.md "Season webhooks"), no whitespace.
WEBHOOK_URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"
WEBHOOK_URL_MAX_LENGTH = 2048


class SecretRef(_Spec):
    """A Secret in the Leaderboard's namespace."""

    name: Annotated[str, Meta(min_length=1, max_length=253, pattern=SECRET_NAME_PATTERN)]


class SecretKeyRef(SecretRef):
    """One key of a Secret in the Leaderboard's namespace."""

    key: Annotated[str, Meta(pattern=KEY_ID_PATTERN, max_length=253)]


class SigningSpec(_Spec):
    """Request signatures (DESIGN §3, seed 003). ``secretRef`` names a Secret in the board's
    namespace whose keys are key ids and whose values are HMAC keys; the operator hands them to
    the api (never to readers). ``required``: unsigned submissions are refused."""

    required: bool = False
    secret_ref: SecretRef | None = None


class WebhookSpec(_Spec):
    """Optional season webhook (DESIGN §3 "Season webhooks"): where a season's final standings
    are POSTed, signed with the secret the Secret key holds. The api never sees ``secretRef``
    resolved here: the operator reads the Secret and sends the secret in the admin PUT's private
    ``webhookTarget`` member, which no read returns."""

    url: Annotated[str, Meta(pattern=WEBHOOK_URL_PATTERN, max_length=WEBHOOK_URL_MAX_LENGTH)]
    secret_ref: SecretKeyRef


def _default_writers() -> list[Writer]:
    # DESIGN §5: a board accepts only its players' own scores unless it names `services`.
    return ["users"]


def webhook_fingerprint(url: str, secret: str) -> str:
    """A short fingerprint of a webhook target, so the operator can tell (from the admin stats)
    whether the api holds the URL and secret its Secret holds now, without the api ever
    returning the secret. Keyed by the secret: it reveals nothing about it."""
    return hmac.new(
        secret.encode(), b"scoreboard-webhook:" + url.encode(), hashlib.sha256
    ).hexdigest()[:16]


def signing_keys_fingerprint(keys: Mapping[str, str]) -> str:
    """A short fingerprint of a board's request-signing keys (key id -> key), for the same
    purpose as :func:`webhook_fingerprint`: the operator compares it with the keys its Secret
    holds now, so a rotated Secret (or keys the api can no longer open) is put again. Keyed by
    the keys themselves: it reveals nothing about them."""
    canonical = json.dumps(dict(keys), sort_keys=True, separators=(",", ":"))
    return hmac.new(canonical.encode(), b"scoreboard-signing-keys", hashlib.sha256).hexdigest()[:16]


class BoardSpec(_Spec):
    """The CR spec (DESIGN §5). Unknown fields are refused so typos surface as 400."""

    display_name: Annotated[str, Meta(max_length=100, pattern=NO_NUL)] = ""
    size: BoardSize = 10
    scoring: ScoringSpec = msgspec.field(default_factory=ScoringSpec)
    rate_limit: RateLimitSpec = msgspec.field(default_factory=RateLimitSpec)
    writers: Annotated[list[Writer], Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=_default_writers
    )
    access: AccessSpec = msgspec.field(default_factory=AccessSpec)
    clock_skew_seconds: Annotated[int, Meta(ge=1, le=86_400)] = 300
    season: SeasonSpec | None = None
    fraud: FraudSpec = msgspec.field(default_factory=FraudSpec)
    broadcast: BroadcastSpec = msgspec.field(default_factory=BroadcastSpec)
    webhook: WebhookSpec | None = None
    signing: SigningSpec = msgspec.field(default_factory=SigningSpec)
    #: ``desc``: higher is better; ``asc``: lower is better (time trials). Ties rank by who
    #: reached the score first. Changing it on a board with players is refused (reset first).
    order: Order = "desc"
    #: ``increment`` adds ``score_increment`` (or the action's points); ``best`` keeps the
    #: better of the stored and the submitted ``score``; ``latest`` replaces it.
    operator: ScoreOperator = "increment"
    suspended: bool = False
    deletion_policy: DeletionPolicy = "Retain"

    def __post_init__(self) -> None:
        if self.operator != "increment" and self.scoring.actions:
            raise ValueError(
                "scoring.actions only applies to operator increment "
                "(best and latest boards take an absolute `score`)"
            )


_spec_encoder = msgspec.json.Encoder()
_spec_decoder = msgspec.json.Decoder(BoardSpec)


def decode_spec(raw: bytes | str) -> BoardSpec:
    return _spec_decoder.decode(raw)


def encode_spec(spec: BoardSpec) -> bytes:
    return _spec_encoder.encode(spec)


def spec_defaults() -> dict[str, Any]:
    """The default spec as camelCase JSON values (``season``, ``webhook`` and
    ``signing.secretRef`` are absent: they have no default)."""
    defaults: dict[str, Any] = msgspec.to_builtins(BoardSpec())
    del defaults["season"]
    del defaults["webhook"]
    del defaults["signing"]["secretRef"]
    return defaults


def season_defaults() -> dict[str, Any]:
    """Defaults of an optional ``season`` block, without its required ``schedule``."""
    defaults: dict[str, Any] = msgspec.to_builtins(SeasonSpec())
    del defaults["schedule"]
    return defaults


# -- the public part, as stored in Redis -----------------------------------------------------
# Lenient subclasses of the spec's own blocks: the same fields and defaults, but unknown members
# are ignored so readers keep working while an api adds fields.


class PublicAccess(AccessSpec, forbid_unknown_fields=False):
    pass


class PublicBroadcast(BroadcastSpec, forbid_unknown_fields=False):
    pass


class PublicScoring(ScoringSpec, forbid_unknown_fields=False):
    pass


_DEFAULT = BoardSpec()


class PublicPolicy(msgspec.Struct, kw_only=True, rename="camel"):
    """What readers other than the api (realtime, the page) know of a board."""

    board: str
    display_name: str = ""
    size: BoardSize = _DEFAULT.size
    generation: int = 0
    season: int = 1
    suspended: bool = _DEFAULT.suspended
    access: PublicAccess = msgspec.field(default_factory=PublicAccess)
    broadcast: PublicBroadcast = msgspec.field(default_factory=PublicBroadcast)
    scoring: PublicScoring = msgspec.field(default_factory=PublicScoring)
    clock_skew_seconds: int = _DEFAULT.clock_skew_seconds
    writers: list[Writer] = msgspec.field(default_factory=_default_writers)
    order: Order = _DEFAULT.order
    operator: ScoreOperator = _DEFAULT.operator

    @property
    def anonymous_live_allowed(self) -> bool:
        """Whether clients without a token may watch the board live."""
        return self.access.public_read and self.access.anonymous_live

    @property
    def broadcast_interval_seconds(self) -> float:
        return self.broadcast.min_interval_ms / 1000.0


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
        order=spec.order,
        operator=spec.operator,
    )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PublicPolicy)


def encode_public_policy(policy: PublicPolicy) -> bytes:
    return _encoder.encode(policy)


def decode_public_policy(raw: bytes | str) -> PublicPolicy:
    """Raises ``msgspec.DecodeError``/``ValidationError`` on garbage."""
    return _decoder.decode(raw)
