"""Events the api publishes on Redis Pub/Sub and the realtime service consumes."""

from __future__ import annotations

from typing import Literal

import msgspec

SCORE_CHANNEL = "sb:events"
BOARD_CHANNEL = "sb:boards"

BoardChangeKind = Literal["policy", "reset", "void", "deleted", "rebuilt"]


class ScoreChanged(msgspec.Struct, kw_only=True, tag="score", tag_field="type"):
    """A player's total changed on a board (published after the PostgreSQL commit)."""

    board: str
    season: int
    version: int
    user_id: str
    username: str
    total: int
    rank: int | None
    increment: int
    traceparent: str | None = None


class BoardChanged(msgspec.Struct, kw_only=True, tag="board", tag_field="type"):
    """A board's policy or standings changed as a whole (admin change, reset, void, rebuild)."""

    board: str
    kind: BoardChangeKind
    generation: int = 0
    version: int = 0
    traceparent: str | None = None


Event = ScoreChanged | BoardChanged

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(payload: bytes | str) -> Event:
    """Decode an event; raises ``msgspec.DecodeError``/``ValidationError`` on garbage."""
    return _decoder.decode(payload)
