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


_VERSION_SENTINEL = 1_111_111_111_111_111_111
_RANK_SENTINEL = 2_111_111_111_111_111_111


def score_changed_template(event: ScoreChanged) -> tuple[bytes, bytes, bytes]:
    """Encode ``event`` with its version and rank left open: ``a + version + b + rank + c``.

    Lets a Lua script publish the event in the same round trip that computes the version and
    rank (see ``BoardStore.apply_total_and_publish``). The sentinels sit right after their keys,
    which cannot occur inside a JSON string, so the split is exact."""
    encoded = _encoder.encode(
        msgspec.structs.replace(event, version=_VERSION_SENTINEL, rank=_RANK_SENTINEL)
    )
    head, _, tail = encoded.partition(b'"version":%d' % _VERSION_SENTINEL)
    middle, _, end = tail.partition(b'"rank":%d' % _RANK_SENTINEL)
    return head + b'"version":', middle + b'"rank":', end


def decode_event(payload: bytes | str) -> Event:
    """Decode an event; raises ``msgspec.DecodeError``/``ValidationError`` on garbage."""
    return _decoder.decode(payload)
