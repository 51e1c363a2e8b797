from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from scoreboard_common.events import BoardChanged, ScoreChanged, decode_event, encode_event
from scoreboard_common.keys import BoardKeys
from scoreboard_common.ranking import (
    MAX_TOTAL,
    decode_member,
    decode_score,
    encode_member,
    encode_score,
    from_micros,
    to_micros,
)


def test_member_order_is_reach_time_then_user() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    members = [
        encode_member(t0 + timedelta(microseconds=1), "a"),
        encode_member(t0, "b"),
        encode_member(t0, "a"),
    ]
    assert sorted(members) == [members[2], members[1], members[0]]


def test_member_and_score_round_trip() -> None:
    moment = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=UTC)
    micros, user = decode_member(encode_member(moment, "5b2a-uuid").encode())
    assert user == "5b2a-uuid"
    assert from_micros(micros) == moment
    assert to_micros(moment) == micros
    assert decode_score(float(encode_score(MAX_TOTAL))) == MAX_TOTAL


def test_all_keys_of_a_board_share_one_hash_tag() -> None:
    keys = BoardKeys("global")
    for key in [*keys.all_standings(), keys.version, keys.policy, keys.season, keys.top_cache(10)]:
        assert key.startswith("sb:{global}:")


def test_events_round_trip_and_reject_garbage() -> None:
    score = ScoreChanged(
        board="b",
        season=1,
        version=7,
        user_id="u",
        username="n",
        total=10,
        rank=1,
        increment=5,
        traceparent="00-abc-def-01",
    )
    board = BoardChanged(board="b", kind="reset", generation=3)
    assert decode_event(encode_event(score)) == score
    assert decode_event(encode_event(board)) == board
    with pytest.raises(msgspec.ValidationError):
        decode_event(b'{"type": "score", "board": "b"}')
    with pytest.raises(msgspec.DecodeError):
        decode_event(b"not json")
