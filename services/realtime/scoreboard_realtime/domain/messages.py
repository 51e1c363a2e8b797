"""Messages sent to WebSocket clients, each encoded once (msgspec) and shared by all clients."""

from __future__ import annotations

from collections.abc import Callable
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
    source: SnapshotMessage | None = None  # what ``text`` encodes (for seed formats)


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
    return Outgoing("snapshot", _encoder.encode(message).decode(), snapshot.version, source=message)


def encode_rank(user_id: str, rank: int | None, score: int, version: int) -> Outgoing:
    message = RankMessage(user_id=user_id, rank=rank, score=score)
    return Outgoing("rank", _encoder.encode(message).decode(), version)


# -- seed formats (DESIGN §3 "Seed compatibility") ---------------------------------------------
# Some compatibility paths speak a seed's message shape instead of v1's. The hub still encodes
# each broadcast once (v1); a path's format re-encodes that one message once more, the first
# time any of its clients needs it, and hands the same result to all of them.


class Seed002Score(msgspec.Struct, kw_only=True):
    email: str  # the public username: e-mail addresses are never published
    score: int


class Seed002Message(msgspec.Struct, kw_only=True):
    scores: list[Seed002Score]


class Seed004Score(msgspec.Struct, kw_only=True, rename="camel"):
    user_id: str
    score: int
    rank: int


class Seed004Message(msgspec.Struct, kw_only=True, rename="camel"):
    event: str
    top_scores: list[Seed004Score]


_snapshot_decoder = msgspec.json.Decoder(SnapshotMessage | RankMessage)


def seed002_message(snapshot: SnapshotMessage) -> msgspec.Struct:
    return Seed002Message(
        scores=[Seed002Score(email=e.username, score=e.score) for e in snapshot.entries]
    )


def seed004_message(snapshot: SnapshotMessage) -> msgspec.Struct:
    return Seed004Message(
        event="scoresUpdate",
        top_scores=[
            Seed004Score(user_id=e.user_id, score=e.score, rank=e.rank) for e in snapshot.entries
        ],
    )


class SeedFormat:
    """A path's message shape. Snapshots are re-shaped; rank messages (v1 only) are dropped
    (``None``). Remembers its last input so a broadcast is re-encoded once for every client of
    the path, not once per client."""

    __slots__ = ("_last_message", "_last_text", "_shape", "name")

    def __init__(self, name: str, shape: Callable[[SnapshotMessage], msgspec.Struct]) -> None:
        self.name = name
        self._shape = shape
        self._last_message: tuple[Outgoing, Outgoing | None] | None = None
        self._last_text: tuple[str, str | None] | None = None

    def message(self, message: Outgoing) -> Outgoing | None:
        last = self._last_message
        if last is not None and last[0] is message:
            return last[1]
        out: Outgoing | None = None
        if message.kind == "snapshot":
            text = self.text(message.text, message.source)
            if text is not None:
                out = Outgoing("snapshot", text, message.version)
        self._last_message = (message, out)
        return out

    def text(self, text: str, source: SnapshotMessage | None = None) -> str | None:
        last = self._last_text
        if last is not None and last[0] is text:
            return last[1]
        snapshot = source if source is not None else _snapshot_decoder.decode(text)
        out = (
            _encoder.encode(self._shape(snapshot)).decode()
            if isinstance(snapshot, SnapshotMessage)
            else None
        )
        self._last_text = (text, out)
        return out


SEED_002 = SeedFormat("seed002", seed002_message)
SEED_004 = SeedFormat("seed004", seed004_message)
