"""A board's public policy as the api stores it in Redis (``sb:{board}:policy``, camelCase)."""

from __future__ import annotations

import msgspec

MIN_INTERVAL_MS = 10
MAX_INTERVAL_MS = 60_000
MAX_SIZE = 100


class Access(msgspec.Struct, rename="camel", kw_only=True):
    public_read: bool = True
    anonymous_live: bool = True


class Broadcast(msgspec.Struct, rename="camel", kw_only=True):
    min_interval_ms: int | None = None


class BoardPolicy(msgspec.Struct, rename="camel", kw_only=True):
    """The fields the live feed needs; unknown fields are ignored."""

    size: int = 10
    access: Access = msgspec.field(default_factory=Access)
    broadcast: Broadcast = msgspec.field(default_factory=Broadcast)
    suspended: bool = False
    display_name: str | None = None

    @property
    def anonymous_allowed(self) -> bool:
        return self.access.public_read and self.access.anonymous_live

    @property
    def limit(self) -> int:
        return max(1, min(self.size, MAX_SIZE))

    def interval_seconds(self, default_ms: int) -> float:
        wanted = self.broadcast.min_interval_ms
        ms = default_ms if wanted is None else wanted
        return max(MIN_INTERVAL_MS, min(ms, MAX_INTERVAL_MS)) / 1000.0


class _Wrapped(msgspec.Struct, kw_only=True):
    spec: BoardPolicy


def decode_policy(raw: bytes | str) -> BoardPolicy:
    """Decode the stored JSON: a bare spec, or an object with the spec under ``spec``."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        return msgspec.json.decode(data, type=_Wrapped).spec
    except msgspec.ValidationError:
        return msgspec.json.decode(data, type=BoardPolicy)
