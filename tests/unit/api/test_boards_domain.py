"""Board order/operator rules, metadata limits and keyset cursors (issue 14), as plain Python."""

from __future__ import annotations

import msgspec
import pytest
from scoreboard_api.domain.cursors import decode_cursor, encode_cursor
from scoreboard_api.domain.errors import DomainError, ProblemError
from scoreboard_api.domain.scoring import METADATA_MAX_BYTES, encode_metadata, resolve_value
from scoreboard_common.policy import BoardSpec, ScoringSpec, decode_spec
from scoreboard_common.ranking import MAX_TOTAL, decode_score, encode_score, guard_mode

USER = "5b2a6f7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def _code(call: object) -> str:
    with pytest.raises((DomainError, ProblemError)) as raised:
        call()  # type: ignore[operator]
    return raised.value.code


def test_defaults_keep_existing_boards_as_they_were() -> None:
    spec = decode_spec(b"{}")
    assert (spec.order, spec.operator) == ("desc", "increment")


def test_actions_only_with_increment() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"scoring\.actions only applies"):
        decode_spec(b'{"operator": "best", "scoring": {"actions": {"win": 1}}}')
    assert decode_spec(b'{"operator": "latest", "order": "asc"}').order == "asc"
    with pytest.raises(ValueError, match=r"scoring\.actions"):
        BoardSpec(operator="best", scoring=ScoringSpec(actions={"win": 1}))


@pytest.mark.parametrize("operator", ["best", "latest"])
def test_best_and_latest_take_an_absolute_score_only(operator: str) -> None:
    spec = BoardSpec(operator=operator)  # type: ignore[arg-type]
    assert resolve_value(spec, None, None, 0) == 0
    assert resolve_value(spec, None, None, MAX_TOTAL) == MAX_TOTAL
    assert _code(lambda: resolve_value(spec, None, 5, None)) == "increment_not_allowed"
    assert _code(lambda: resolve_value(spec, None, 5, 7)) == "increment_not_allowed"
    assert _code(lambda: resolve_value(spec, "win", None, 7)) == "increment_not_allowed"
    assert _code(lambda: resolve_value(spec, None, None, None)) == "score_required"


def test_increment_refuses_an_absolute_score() -> None:
    spec = BoardSpec()
    assert resolve_value(spec, None, 5, None) == 5
    assert _code(lambda: resolve_value(spec, None, None, 5)) == "score_not_allowed"
    assert _code(lambda: resolve_value(spec, None, 5, 5)) == "score_not_allowed"


def test_metadata_is_at_most_1_kib_encoded_and_has_no_nul() -> None:
    assert encode_metadata(None) is None
    assert encode_metadata({"a": [1, "x"]}) == '{"a":[1,"x"]}'
    fits = {"k": "x" * (METADATA_MAX_BYTES - len('{"k":""}'))}
    assert len(encode_metadata(fits) or "") == METADATA_MAX_BYTES
    assert _code(lambda: encode_metadata({"k": "x" * METADATA_MAX_BYTES})) == "metadata_too_large"
    # Multi-byte characters count by their UTF-8 bytes.
    assert _code(lambda: encode_metadata({"k": "é" * 600})) == "metadata_too_large"
    assert _code(lambda: encode_metadata({"k": ["a\x00"]})) == "validation_error"


def test_rank_keys_order_both_ways_and_decode_without_the_order() -> None:
    assert encode_score(10, "desc") < encode_score(5, "desc")
    assert encode_score(5, "asc") < encode_score(10, "asc")
    for total in (0, 1, MAX_TOTAL):
        for order in ("desc", "asc"):
            assert decode_score(float(encode_score(total, order))) == total  # type: ignore[arg-type]
    assert guard_mode("desc", "increment") == "grow"
    assert guard_mode("asc", "increment") == "grow"  # increments only ever add
    assert guard_mode("desc", "best") == "grow"
    assert guard_mode("asc", "best") == "shrink"
    assert guard_mode("asc", "latest") == "revision"


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    key = (MAX_TOTAL, 1_767_225_600_000_000, USER)
    for kind in ("a", "A", "b", "B"):
        cursor = encode_cursor(kind, key)  # type: ignore[arg-type]
        assert "=" not in cursor
        assert decode_cursor(cursor) == (kind, key)
    for bad in ["", "x", "!!!!", encode_cursor("a", key)[:-3], "MXxhfDF8MXxub3QtYS11dWlk"]:
        assert _code(lambda bad=bad: decode_cursor(bad)) == "invalid_cursor"
    upper = encode_cursor("a", (1, 1, USER.upper()))
    assert _code(lambda: decode_cursor(upper)) == "invalid_cursor"
    too_big = encode_cursor("a", (MAX_TOTAL + 1, 1, USER))
    assert _code(lambda: decode_cursor(too_big)) == "invalid_cursor"
