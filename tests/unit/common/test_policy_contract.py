"""The board policy is defined once (``scoreboard_common.policy``); the CRD is its one hand-written
copy. These tests fail as soon as the two disagree on a field, a default, an integer bound, an
allowed value, a string length or the name rules, and they check that every other reader
(operator defaults, the public policy realtime reads) derives from the same definition."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import yaml
from scoreboard_common.policy import (
    ACTION_NAME_PATTERN,
    BOARD_NAME_PATTERN,
    BoardSpec,
    PublicPolicy,
    decode_public_policy,
    encode_public_policy,
    is_board_name,
    public_policy,
    season_defaults,
    spec_defaults,
)
from scoreboard_operator.domain.spec import DEFAULTS, SEASON_DEFAULTS, board_payload

ROOT = Path(__file__).resolve().parents[3]
CRD = ROOT / "charts" / "scoreboard" / "files" / "crds" / "leaderboards.scoreboard.dev.yaml"

_BOUND = re.compile(r"(?<![\w\]\)])self\s*(>=|>|<=|<)\s*(-?\d+)")
_IN_LIST = re.compile(r"\bin\s*\[([^\]]*)\]")
_MATCHES = re.compile(r"\.matches\('([^']*)'\)")


def _crd_root() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = crd["spec"]["versions"]
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


def _crd_spec() -> dict[str, Any]:
    spec: dict[str, Any] = _crd_root()["properties"]["spec"]
    return spec


def _api_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    schema = msgspec.json.schema(BoardSpec)
    defs: dict[str, Any] = schema["$defs"]
    return defs["BoardSpec"], defs


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    variants = [v for v in node.get("anyOf", []) if v.get("type") != "null"]
    if variants:
        node = variants[0]
    ref = node.get("$ref")
    if ref:
        return _resolve(defs[ref.rsplit("/", 1)[1]], defs)
    return node


def _rules(node: dict[str, Any]) -> list[str]:
    return [str(r["rule"]) for r in node.get("x-kubernetes-validations", [])]


def _crd_bounds(node: dict[str, Any]) -> tuple[int | None, int | None]:
    low: int | None = node.get("minimum")
    high: int | None = node.get("maximum")
    for rule in _rules(node):
        for op, number in _BOUND.findall(rule):
            value = int(number)
            if op == ">=":
                low = value if low is None else max(low, value)
            elif op == ">":
                low = value + 1 if low is None else max(low, value + 1)
            elif op == "<=":
                high = value if high is None else min(high, value)
            else:
                high = value - 1 if high is None else min(high, value - 1)
    return low, high


def _crd_enum(node: dict[str, Any]) -> set[str] | None:
    if "enum" in node:
        return {str(v) for v in node["enum"]}
    for rule in _rules(node):
        found = _IN_LIST.search(rule)
        if found:
            return {v.strip().strip("'\"") for v in found.group(1).split(",")}
    return None


def _compare(
    api: dict[str, Any], crd: dict[str, Any], defs: dict[str, Any], path: str
) -> list[str]:
    api = _resolve(api, defs)
    problems: list[str] = []
    if "properties" in api:
        mine, theirs = set(api["properties"]), set(crd.get("properties", {}))
        if mine != theirs:
            problems.append(
                f"{path or 'spec'}: only in the api type {sorted(mine - theirs)}, "
                f"only in the CRD {sorted(theirs - mine)}"
            )
        for name in sorted(mine & theirs):
            problems += _compare(
                api["properties"][name], crd["properties"][name], defs, f"{path}.{name}".lstrip(".")
            )
        return problems
    kind = api.get("type")
    if kind == "integer":
        wanted = (api.get("minimum"), api.get("maximum"))
        if _crd_bounds(crd) != wanted:
            problems.append(f"{path}: api bounds {wanted}, CRD bounds {_crd_bounds(crd)}")
    if "enum" in api and _crd_enum(crd) != set(api["enum"]):
        problems.append(f"{path}: api values {sorted(api['enum'])}, CRD values {_crd_enum(crd)}")
    if kind == "array":
        items = api["items"]
        if "enum" in items and _crd_enum(crd) != set(items["enum"]):
            problems.append(f"{path}: api items {sorted(items['enum'])}, CRD {_crd_enum(crd)}")
        if crd.get("maxItems") != api.get("maxItems"):
            problems.append(f"{path}: maxItems {api.get('maxItems')} vs {crd.get('maxItems')}")
    if kind == "string" and crd.get("maxLength") != api.get("maxLength"):
        problems.append(f"{path}: maxLength {api.get('maxLength')} vs CRD {crd.get('maxLength')}")
    if kind == "object" and "propertyNames" in api:
        wanted_pattern = api["propertyNames"]["pattern"]
        patterns = [p for rule in _rules(crd) for p in _MATCHES.findall(rule)]
        if patterns != [wanted_pattern]:
            problems.append(f"{path}: key pattern {wanted_pattern!r}, CRD {patterns}")
    return problems


def _apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """What the API server's structural defaulting does to ``value``."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, prop in schema.get("properties", {}).items():
        if name not in out and "default" in prop:
            out[name] = prop["default"]
        if name in out:
            out[name] = _apply_defaults(prop, out[name])
    return out


def test_crd_and_api_type_agree_on_fields_bounds_values_and_lengths() -> None:
    api, defs = _api_schema()
    assert _compare(api, _crd_spec(), defs, "") == []


def test_the_contract_check_sees_drift() -> None:
    api, defs = _api_schema()
    crd = _crd_spec()
    changed = yaml.safe_load(yaml.safe_dump(crd))
    changed["properties"]["size"]["x-kubernetes-validations"][0]["rule"] = "self >= 1 && self <= 99"
    del changed["properties"]["broadcast"]
    changed["properties"]["displayName"]["maxLength"] = 50
    changed["properties"]["writers"]["x-kubernetes-validations"][0]["rule"] = (
        "self.all(w, w in ['users'])"
    )
    problems = _compare(api, changed, defs, "")
    assert len(problems) == 4, problems


def test_an_empty_leaderboard_spec_defaults_to_the_api_defaults() -> None:
    """A Leaderboard without a field behaves as an api PUT without it (e.g. ``writers``)."""
    defaulted = _apply_defaults(_crd_spec(), {})
    expected = {k: v for k, v in spec_defaults().items() if k != "displayName"}
    assert defaulted == expected
    assert defaulted["writers"] == ["users"]
    season = _apply_defaults(_crd_spec()["properties"]["season"], {"schedule": "@daily"})
    assert season == {"schedule": "@daily", **season_defaults()}


def test_operator_defaults_are_the_shared_defaults() -> None:
    assert spec_defaults() == {**DEFAULTS, "displayName": ""}
    assert season_defaults() == SEASON_DEFAULTS
    payload = board_payload("weekly", {}, 1)
    decoded = msgspec.convert({k: v for k, v in payload.items() if k != "generation"}, BoardSpec)
    assert decoded == BoardSpec(display_name="weekly")


def test_board_name_rule_is_the_crds() -> None:
    patterns = [p for rule in _rules(_crd_root()) for p in _MATCHES.findall(rule)]
    assert patterns == [BOARD_NAME_PATTERN]
    assert is_board_name("default") and is_board_name("a" * 63) and is_board_name("x-1")
    for bad in ("", "A", "a_b", "a.b", "-a", "a-", "a" * 64, "a\n"):
        assert not is_board_name(bad), bad


def test_action_names_use_one_pattern() -> None:
    api, defs = _api_schema()
    scoring = _resolve(api["properties"]["scoring"], defs)
    assert scoring["properties"]["actions"]["propertyNames"]["pattern"] == ACTION_NAME_PATTERN


def test_public_policy_is_the_spec_seen_by_readers() -> None:
    """Same defaults as the spec; unknown members are ignored so the api may add fields."""
    spec = BoardSpec()
    assert public_policy("b", spec, 0, 1) == PublicPolicy(board="b", display_name="b")
    raw = encode_public_policy(public_policy("b", spec, 3, 7))
    document = msgspec.json.decode(raw)
    document["future"] = {"x": 1}
    document["access"]["later"] = True
    assert decode_public_policy(msgspec.json.encode(document)) == public_policy("b", spec, 3, 7)
