"""Spec → api payload, drift detection, and ownership of a board name across namespaces."""

from __future__ import annotations

from typing import Any

from scoreboard_operator.domain.naming import Claim, conflict_message, owner
from scoreboard_operator.domain.spec import (
    board_payload,
    deletion_policy,
    drift,
    generation_conflict,
)

SPEC: dict[str, Any] = {
    "displayName": "Global",
    "size": 10,
    "scoring": {"maxIncrement": 100, "actions": {"win": 10, "quest": 25}},
    "rateLimit": {
        "perUser": {"limit": 10, "windowSeconds": 60},
        "perIP": {"limit": 100, "windowSeconds": 3600},
    },
    "writers": ["users"],
    "access": {"publicRead": True, "anonymousLive": True},
    "clockSkewSeconds": 300,
    "season": {"schedule": "0 0 * * 1", "timeZone": "UTC", "keep": 12},
    "fraud": {
        "maxPointsPerMinute": 500,
        "burstCount": 5,
        "burstWindowMs": 50,
        "maxReplaysPerMinute": 20,
        "onViolation": "flag",
    },
    "broadcast": {"minIntervalMs": 100},
    "signing": {"required": False},
    "order": "desc",
    "operator": "increment",
    "suspended": False,
    "deletionPolicy": "Delete",
}


def test_payload_is_the_spec_in_camel_case_with_generation() -> None:
    payload = board_payload("global", SPEC, 7)
    assert payload == {**SPEC, "generation": 7}


def test_payload_fills_defaults_for_a_minimal_spec() -> None:
    payload = board_payload("weekly", {"size": 5}, 1)
    assert payload["size"] == 5
    assert payload["displayName"] == "weekly"
    assert payload["season"] is None
    assert payload["rateLimit"]["perUser"] == {"limit": 10, "windowSeconds": 60}
    assert payload["writers"] == ["users"]
    assert board_payload("x", {"season": {"schedule": "@daily"}}, 1)["season"] == {
        "schedule": "@daily",
        "timeZone": "UTC",
        "keep": 12,
    }


def test_payload_does_not_alias_the_spec() -> None:
    spec = {"scoring": {"actions": {"win": 1}}}
    payload = board_payload("x", spec, 1)
    payload["scoring"]["actions"]["win"] = 99
    assert spec["scoring"]["actions"]["win"] == 1


def test_deletion_policy_defaults_to_retain() -> None:
    assert deletion_policy({}) == "Retain"
    assert deletion_policy({"deletionPolicy": "Delete"}) == "Delete"


def test_drift_detects_missing_boards_and_older_generations() -> None:
    payload = board_payload("x", SPEC, 3)
    assert drift(None, payload) == "board missing in the api"
    assert "generation 2" in (drift({"generation": 2}, payload) or "")
    assert drift({"generation": 3}, payload) is None
    assert drift({"generation": 4}, payload) is None  # never roll a newer writer back


def test_drift_compares_reported_policy_fields_only() -> None:
    payload = board_payload("x", SPEC, 3)
    policy = {**payload, "createdAt": "2025-01-01T00:00:00Z", "season_id": 1}
    stored = {"generation": 3, "policy": policy}
    assert drift(stored, payload) is None
    changed = {
        **policy,
        "rateLimit": {**policy["rateLimit"], "perUser": {"limit": 99, "windowSeconds": 60}},
    }
    assert (
        drift({"generation": 3, "policy": changed}, payload)
        == "api's rateLimit differs from the spec"
    )
    # Only the view's policy is compared: the same fields beside it are not a policy.
    assert drift({"generation": 3, **changed}, payload) is None
    assert drift({"generation": 3, "policy": {"size": 10}}, payload) is None
    assert (
        drift({"generation": 3, "policy": {"size": 11}}, payload)
        == "api's size differs from the spec"
    )
    # Writers are a set.
    two = board_payload("x", {**SPEC, "writers": ["users", "services"]}, 3)
    view = {"generation": 3, "policy": {**two, "writers": ["services", "users"]}}
    assert drift(view, two) is None


def test_oldest_claim_owns_a_name() -> None:
    a = Claim(created="2025-01-01T00:00:00Z", namespace="team-a")
    b = Claim(created="2025-01-02T00:00:00Z", namespace="team-b")
    c = Claim(created="2025-01-01T00:00:00Z", namespace="team-0")  # same second: namespace order
    assert owner([b, a]) == a
    assert owner([b, a, c]) == c
    assert owner([]) is None
    assert conflict_message("global", a, [a, b]) is None
    message = conflict_message("global", b, [a, b])
    assert message is not None
    assert "team-a/global" in message


def test_drift_against_the_public_board_view() -> None:
    payload = board_payload("g", {"size": 5, "season": {"schedule": "@daily"}}, 2)
    view = {
        "name": "g",
        "generation": 2,
        "season": 158457600,
        "policy": {
            "board": "g",
            "displayName": "g",
            "size": 5,
            "season": 158457600,  # the current season id, not the season spec
            "writers": ["users"],
            "scoring": {"maxIncrement": 100, "actions": {}},
        },
    }
    assert drift(view, payload) is None
    assert (
        drift({**view, "policy": {**view["policy"], "size": 6}}, payload)
        == "api's size differs from the spec"
    )
    assert drift({}, payload) is None  # not readable: nothing to compare


def test_generation_conflict_only_when_a_newer_generation_holds_another_spec() -> None:
    payload = board_payload("g", {"size": 5}, 1)
    same = {"generation": 7, "spec": {**payload, "generation": 7}}
    assert generation_conflict(same, payload) is None
    other = {"generation": 7, "spec": {**payload, "size": 9}}
    message = generation_conflict(other, payload)
    assert message is not None
    assert "generation 7" in message
    assert generation_conflict({"generation": 1, "spec": {"size": 9}}, payload) is None
