"""One top-N entry type for every response and live message, and a broadcast signature that
sees every one of its fields."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from scoreboard_api import schemas
from scoreboard_common.board_store import Entry, Standing, TopSnapshot, entry_from_member
from scoreboard_common.ranking import encode_member, encode_score
from scoreboard_realtime.domain.messages import SnapshotMessage, top_signature

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ENTRY = Entry(rank=1, user_id="u1", username="Ann", score=5, last_updated=NOW)


@pytest.mark.parametrize(
    "owner",
    [
        schemas.TopResponse,
        schemas.AroundResponse,
        schemas.SeasonTopResponse,
        schemas.SeedLeaderboardResponse,
        SnapshotMessage,
        TopSnapshot,
    ],
)
def test_every_list_of_entries_is_the_shared_entry(owner: type) -> None:
    hints = typing.get_type_hints(owner)
    lists = [h for h in hints.values() if typing.get_origin(h) is list]
    assert lists and all(typing.get_args(h) == (Entry,) for h in lists)


def test_standing_and_sorted_set_member_map_to_the_same_entry() -> None:
    standing = Standing(user_id="u1", username="Ann", total=5, reached_at=NOW)
    member = encode_member(NOW, "u1").encode()
    assert standing.entry(1) == ENTRY
    assert entry_from_member(1, member, encode_score(5), b"Ann") == ENTRY
    assert entry_from_member(1, member, encode_score(5), None).username == "u1"


def _changed(field: str) -> Entry:
    value = getattr(ENTRY, field)
    if field == "metadata":
        return msgspec.structs.replace(ENTRY, metadata={"map": "x"})
    if isinstance(value, datetime):
        return msgspec.structs.replace(ENTRY, **{field: value + timedelta(seconds=1)})
    if isinstance(value, int):
        return msgspec.structs.replace(ENTRY, **{field: value + 1})
    return msgspec.structs.replace(ENTRY, **{field: value + "x"})


@pytest.mark.parametrize("field", Entry.__struct_fields__)
def test_a_change_of_any_entry_field_changes_the_broadcast_signature(field: str) -> None:
    def snapshot(entry: Entry) -> TopSnapshot:
        return TopSnapshot(leaderboard="b", season=1, version=1, total_players=1, entries=[entry])

    assert top_signature(snapshot(ENTRY)) == top_signature(snapshot(msgspec.structs.replace(ENTRY)))
    assert top_signature(snapshot(ENTRY)) != top_signature(snapshot(_changed(field)))
