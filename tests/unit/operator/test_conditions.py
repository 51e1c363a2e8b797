"""Conditions follow the Kubernetes API conventions and are stable across reconciles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scoreboard_operator.domain import conditions as cond

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def test_merge_sets_all_fields_and_orders_ready_first() -> None:
    out = cond.merge_conditions(
        None,
        [
            cond.Condition("Synced", "True", "Applied", "ok"),
            cond.Condition("Ready", "True", "Reconciled", "fine"),
        ],
        generation=3,
        now=T0,
    )
    assert [c["type"] for c in out] == ["Ready", "Synced"]
    assert out[0] == {
        "type": "Ready",
        "status": "True",
        "reason": "Reconciled",
        "message": "fine",
        "lastTransitionTime": "2025-01-01T12:00:00Z",
        "observedGeneration": 3,
    }


def test_transition_time_changes_only_with_status() -> None:
    first = cond.merge_conditions(
        None, [cond.Condition("Ready", "True", "Reconciled")], generation=1, now=T0
    )
    same = cond.merge_conditions(
        first,
        [cond.Condition("Ready", "True", "Reconciled", "again")],
        generation=2,
        now=T0 + timedelta(minutes=5),
    )
    assert same[0]["lastTransitionTime"] == "2025-01-01T12:00:00Z"
    assert same[0]["observedGeneration"] == 2
    flipped = cond.merge_conditions(
        same,
        [cond.Condition("Ready", "False", "ApiUnavailable", "down")],
        generation=2,
        now=T0 + timedelta(minutes=6),
    )
    assert flipped[0]["lastTransitionTime"] == "2025-01-01T12:06:00Z"
    assert flipped[0]["reason"] == "ApiUnavailable"


def test_other_conditions_are_kept() -> None:
    first = cond.merge_conditions(
        None,
        [
            cond.Condition("Ready", "True", "Reconciled"),
            cond.Condition("SeasonScheduleValid", "True", "ValidSchedule"),
        ],
        generation=1,
        now=T0,
    )
    out = cond.merge_conditions(
        first, [cond.Condition("Ready", "False", "ApiUnavailable")], generation=1, now=T0
    )
    assert {c["type"] for c in out} == {"Ready", "SeasonScheduleValid"}


def test_reasons_are_one_camel_case_word() -> None:
    with pytest.raises(ValueError, match="CamelCase"):
        cond.Condition("Ready", "False", "api down")
    with pytest.raises(ValueError, match="CamelCase"):
        cond.Condition("Ready", "False", "")


def test_ready_is_the_first_failing_part() -> None:
    ok = cond.Condition("Synced", "True", "Applied")
    bad = cond.Condition("SeasonScheduleValid", "False", "InvalidTimeZone", "season.timeZone 'X'")
    assert cond.ready_from([ok]).status == "True"
    ready = cond.ready_from([ok, bad])
    assert (ready.status, ready.reason, ready.message) == (
        "False",
        "InvalidTimeZone",
        "season.timeZone 'X'",
    )


def test_patch_fn_applies_to_the_freshest_body() -> None:
    fn = cond.conditions_patch_fn(
        [cond.Condition("Ready", "True", "Reconciled")], generation=4, now=T0
    )
    body: dict[str, object] = {
        "status": {
            "players": 3,
            "conditions": [
                {"type": "Synced", "status": "True", "reason": "Applied", "lastTransitionTime": "x"}
            ],
        }
    }
    fn(body)
    status = body["status"]
    assert isinstance(status, dict)
    assert status["players"] == 3
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Synced"]
    empty: dict[str, object] = {}
    fn(empty)
    assert empty["status"] == {
        "conditions": [
            cond.merge_conditions(
                None, [cond.Condition("Ready", "True", "Reconciled")], generation=4, now=T0
            )[0]
        ]
    }
