"""What the api adds to the shared board policy (``scoreboard_common.policy``): the admin PUT
body and the per-replica cached policy."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta
from scoreboard_common.policy import (
    KEY_ID_PATTERN,
    WEBHOOK_URL_MAX_LENGTH,
    WEBHOOK_URL_PATTERN,
    BoardSpec,
    PublicPolicy,
    public_policy,
)

from scoreboard_api.domain.signing import SigningKeys
from scoreboard_api.domain.webhooks import MIN_SECRET_LENGTH

KeyId = Annotated[str, Meta(pattern=KEY_ID_PATTERN, max_length=253)]
KeyMaterial = Annotated[str, Meta(min_length=1, max_length=4096)]


class WebhookTarget(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where season ends are delivered and the secret they are signed with: the operator's
    resolution of ``spec.webhook`` (it reads the Secret), or given directly (``make dev``,
    tests). Stored apart from the spec; never returned, published or logged."""

    url: Annotated[str, Meta(pattern=WEBHOOK_URL_PATTERN, max_length=WEBHOOK_URL_MAX_LENGTH)]
    secret: Annotated[str, Meta(min_length=MIN_SECRET_LENGTH, max_length=4096)]

    def __repr__(self) -> str:  # never print the secret
        return f"WebhookTarget(url={self.url!r}, secret=<redacted>)"


class BoardPut(BoardSpec):
    """Admin PUT body: the CR spec plus the CR's ``metadata.generation`` and ``metadata.uid``.

    A PUT with an older generation than the stored one is ignored, unless it comes from a
    different owner (a resource deleted with ``Retain`` and created again restarts at 1)."""

    generation: Annotated[int, Meta(ge=0, le=2**62)] = 0
    owner_uid: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    #: Private: the resolved webhook (see :class:`WebhookTarget`); absent = no deliveries.
    webhook_target: WebhookTarget | None = None
    # Private: the request-signing keys by id (the operator reads them from the Secret named by
    # ``signing.secretRef``; ``make dev`` and tests send them directly). Stored, never returned
    # by any read, never in the public policy, never logged. Absent: the board has no keys.
    signing_keys: Annotated[dict[KeyId, KeyMaterial], Meta(max_length=100)] | None = None


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
    signing_keys: SigningKeys = msgspec.field(default_factory=SigningKeys)

    def public(self) -> PublicPolicy:
        return public_policy(self.name, self.spec, self.generation, self.season)
