"""Leaderboard spec → the api's admin payload, and drift detection.

The api receives the spec in camelCase exactly as the CRD defines it (DESIGN §5), plus
``generation`` (the CR's ``metadata.generation``). ``deletionPolicy`` is sent too (the api keeps
it for reference) although only the operator acts on it.
Defaults come from the CRD's structural schema, so a spec read from the API server is already
complete; the defaults below (``scoreboard_common.policy``, which a unit test keeps equal to
the CRD's) only matter for objects created before a default was added.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from scoreboard_common.policy import (
    season_defaults,
    signing_keys_fingerprint,
    spec_defaults,
    webhook_fingerprint,
)

#: Spec fields the api never sees (none today; kept as the one place to add them).
OPERATOR_ONLY_FIELDS: frozenset[str] = frozenset()

#: The spec's defaults, from the one definition the api validates with (``displayName`` is
#: left out: it defaults to the object's name, set below).
DEFAULTS: dict[str, Any] = {k: v for k, v in spec_defaults().items() if k != "displayName"}
SEASON_DEFAULTS: dict[str, Any] = season_defaults()


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = copy.deepcopy(dict(defaults))
    for key, value in given.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def board_payload(
    name: str, spec: Mapping[str, Any], generation: int, owner_uid: str | None = None
) -> dict[str, Any]:
    """The body of ``PUT /api/v1/admin/leaderboards/{name}`` for this spec and generation.

    ``owner_uid`` (the resource's ``metadata.uid``) lets the api accept a re-created resource
    whose generation restarted at 1."""
    given = {k: v for k, v in spec.items() if k not in OPERATOR_ONLY_FIELDS}
    payload = _merge(DEFAULTS, given)
    payload.setdefault("displayName", name)
    season = payload.get("season")
    payload["season"] = _merge(SEASON_DEFAULTS, season) if isinstance(season, Mapping) else None
    payload["generation"] = int(generation)
    if owner_uid:
        payload["ownerUid"] = owner_uid
    return payload


def webhook_ref(spec: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(url, Secret name, key)`` of the spec's webhook, or None."""
    webhook = spec.get("webhook")
    if not isinstance(webhook, Mapping):
        return None
    ref = webhook.get("secretRef")
    if not isinstance(ref, Mapping):
        return None
    return str(webhook.get("url", "")), str(ref.get("name", "")), str(ref.get("key", ""))


def with_webhook_target(payload: Mapping[str, Any], url: str, secret: str) -> dict[str, Any]:
    """The payload plus the private ``webhookTarget`` member (the resolved URL and secret the
    api signs deliveries with; it never returns them)."""
    return {**payload, "webhookTarget": {"url": url, "secret": secret}}


def webhook_drift(stored: Mapping[str, Any] | None, target: tuple[str, str] | None) -> str | None:
    """Why the api's webhook target (``stats.webhook``: configured, fingerprint) differs from
    the wanted one (``(url, secret)`` or None for no webhook), or None when it does not."""
    configured = isinstance(stored, Mapping) and bool(stored.get("configured"))
    if target is None:
        return "api has a webhook target the spec does not name" if configured else None
    if not configured:
        return "api has no webhook target"
    assert isinstance(stored, Mapping)
    if stored.get("fingerprint") != webhook_fingerprint(*target):
        return "api's webhook target differs from the spec's URL and Secret"
    return None


def signing_keys_drift(stored: Any, keys: Mapping[str, str] | None) -> str | None:
    """Why the api's signing keys (``stats.signing_keys_fingerprint``) differ from the keys the
    spec's Secret holds now (None without ``signing.secretRef``), or None when they do not.
    Covers a rotated Secret and keys the api can no longer open (it reports none then)."""
    stored = stored if isinstance(stored, str) else None
    if not keys:
        return "api has signing keys the spec does not name" if stored else None
    if stored is None:
        return "api has none of the signing keys of the spec's Secret"
    if stored != signing_keys_fingerprint(keys):
        return "api's signing keys differ from the spec's Secret"
    return None


def deletion_policy(spec: Mapping[str, Any]) -> str:
    """``Retain`` (default) or ``Delete``."""
    return "Delete" if spec.get("deletionPolicy") == "Delete" else "Retain"


def _normalise(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _contains(stored: Any, wanted: Any) -> bool:
    """True when every field of ``wanted`` is present in ``stored`` with the same value.

    The api may add fields of its own (timestamps, current season...), so extra stored fields
    are not drift; a missing or different field is.
    """
    if isinstance(wanted, Mapping):
        if not isinstance(stored, Mapping):
            return False
        return all(_contains(stored.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(stored, list):
        if len(wanted) != len(stored):
            return False
        return all(
            _contains(s, w)
            for s, w in zip(sorted_if_set(stored), sorted_if_set(wanted), strict=True)
        )
    return bool(stored == wanted)


def sorted_if_set(values: list[Any]) -> list[Any]:
    """Lists of strings (e.g. ``writers``) are sets: compare them sorted."""
    if all(isinstance(v, str) for v in values):
        return sorted(values)
    return values


def drift(stored: Mapping[str, Any] | None, payload: Mapping[str, Any]) -> str | None:
    """Why the api's board (its public view, ``GET /api/v1/leaderboards/{name}``) differs from
    ``payload``, or ``None`` when it does not.

    ``stored`` is ``None`` when the api does not know the board, ``{}`` when the view could not
    be read (nothing to compare). A stored generation lower than the wanted one is drift; a
    higher one is not (another writer is ahead; see :func:`generation_conflict`). The view's
    ``policy`` is compared field by field: fields it does not report (e.g. rate limits, which
    are not public) are not compared, and extra fields are ignored.
    """
    if stored is None:
        return "board missing in the api"
    if not stored:
        return None
    wanted_generation = int(payload.get("generation", 0))
    stored_generation = stored.get("generation")
    if isinstance(stored_generation, int) and stored_generation < wanted_generation:
        return f"api has generation {stored_generation}, want {wanted_generation}"
    if isinstance(stored_generation, int) and stored_generation > wanted_generation:
        return None
    return _policy_drift(stored.get("policy"), payload)


def _policy_drift(policy: Any, payload: Mapping[str, Any]) -> str | None:
    """The first field of ``payload`` that ``policy`` reports with another value."""
    if not isinstance(policy, Mapping):
        return None
    wanted = _normalise({k: v for k, v in payload.items() if k != "generation"})
    for key, value in wanted.items():
        if key not in policy:
            continue
        reported = _normalise(policy.get(key))
        if isinstance(value, Mapping) and not isinstance(reported, Mapping):
            continue  # a different member of the same name (the current season id)
        if not _contains(reported, value):
            return f"api's {key} differs from the spec"
    return None


def generation_conflict(stored: Mapping[str, Any], payload: Mapping[str, Any]) -> str | None:
    """A message when the api kept a newer generation with a different spec (our PUT was not
    applied), e.g. an earlier Leaderboard of the same name left the board with
    ``deletionPolicy: Retain`` at a higher generation; ``None`` when all is well.

    ``stored`` is the api's answer to the PUT (its board state, with the full ``spec``)."""
    stored_generation = stored.get("generation")
    wanted_generation = int(payload.get("generation", 0))
    if not isinstance(stored_generation, int) or stored_generation <= wanted_generation:
        return None
    if _policy_drift(stored.get("spec"), payload) is None:
        return None
    return (
        f"the api holds generation {stored_generation} of this board with a different spec and "
        f"ignores generation {wanted_generation}; it was written by another or an earlier "
        "Leaderboard of the same name: delete the board in the api (or recreate it with "
        "deletionPolicy Delete) to let this Leaderboard own it"
    )
