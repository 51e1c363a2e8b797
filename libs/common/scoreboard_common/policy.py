"""The public part of a board's policy, as the api writes it to ``sb:{board}:policy``.

The JSON mirrors the Leaderboard CR's spec (camelCase, nested like the CR), plus the board's
name, generation and current season. Readers (the realtime service) decode it with
:func:`decode_public_policy`, which ignores unknown members so the api may add fields later.
"""

from __future__ import annotations

import msgspec


class PublicAccess(msgspec.Struct, kw_only=True, rename="camel"):
    public_read: bool = True
    anonymous_live: bool = True


class PublicBroadcast(msgspec.Struct, kw_only=True, rename="camel"):
    min_interval_ms: int = 100


class PublicScoring(msgspec.Struct, kw_only=True, rename="camel"):
    max_increment: int = 100
    actions: dict[str, int] = msgspec.field(default_factory=dict)


class PublicPolicy(msgspec.Struct, kw_only=True, rename="camel"):
    board: str
    display_name: str = ""
    size: int = 10
    generation: int = 0
    season: int = 1
    suspended: bool = False
    access: PublicAccess = msgspec.field(default_factory=PublicAccess)
    broadcast: PublicBroadcast = msgspec.field(default_factory=PublicBroadcast)
    scoring: PublicScoring = msgspec.field(default_factory=PublicScoring)
    clock_skew_seconds: int = 300
    writers: list[str] = msgspec.field(default_factory=lambda: ["users", "services"])


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PublicPolicy)


def encode_public_policy(policy: PublicPolicy) -> bytes:
    return _encoder.encode(policy)


def decode_public_policy(raw: bytes | str) -> PublicPolicy:
    """Raises ``msgspec.DecodeError``/``ValidationError`` on garbage."""
    return _decoder.decode(raw)
