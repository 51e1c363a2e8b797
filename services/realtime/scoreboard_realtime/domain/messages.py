"""Messages sent to WebSocket clients, each encoded once (msgspec) and shared by all clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import msgspec
from scoreboard_common.board_store import Entry, TopSnapshot


class SnapshotMessage(msgspec.Struct, kw_only=True, tag="snapshot", tag_field="type"):
    leaderboard: str
    season: int
    version: int
    generated_at: datetime
    total_players: int
    entries: list[Entry]


class RankMessage(msgspec.Struct, kw_only=True, tag="rank", tag_field="type"):
    user_id: str
    rank: int | None
    score: int


_encoder = msgspec.json.Encoder()
MessageKind = Literal["snapshot", "rank"]


@dataclass(slots=True)
class Delivery:
    """Counts down the clients a broadcast is still being written to, then reports latency."""

    started_at: float
    remaining: int = 0
    finished_at: float | None = None

    def done(self, now: float) -> float | None:
        """Mark one client done; returns the latency when it was the last one."""
        self.remaining -= 1
        if self.remaining == 0 and self.finished_at is None:
            self.finished_at = now
            return now - self.started_at
        return None


@dataclass(slots=True)
class Outgoing:
    """An encoded message: ``text`` is the one shared str written to every socket; ``frame``
    caches its WebSocket frame for sinks that write frames themselves (built once)."""

    kind: MessageKind
    text: str
    version: int
    delivery: Delivery | None = None
    frame: bytes | None = None


def top_signature(snapshot: TopSnapshot) -> bytes:
    """What decides whether a broadcast is needed: the season and the visible entries, whole
    (every field of ``Entry``, so a field added there is broadcast when it changes)."""
    return _encoder.encode((snapshot.season, snapshot.entries))


def encode_snapshot(snapshot: TopSnapshot, generated_at: datetime | None = None) -> Outgoing:
    message = SnapshotMessage(
        leaderboard=snapshot.leaderboard,
        season=snapshot.season,
        version=snapshot.version,
        generated_at=generated_at or datetime.now(UTC),
        total_players=snapshot.total_players,
        entries=snapshot.entries,
    )
    return Outgoing("snapshot", _encoder.encode(message).decode(), snapshot.version)


def encode_rank(user_id: str, rank: int | None, score: int, version: int) -> Outgoing:
    message = RankMessage(user_id=user_id, rank=rank, score=score)
    return Outgoing("rank", _encoder.encode(message).decode(), version)
