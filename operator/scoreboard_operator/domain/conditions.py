"""Status conditions in the Kubernetes API conventions.

A condition is ``{type, status, reason, message, lastTransitionTime, observedGeneration}``:
``type`` PascalCase and unique in the list, ``status`` ``True``/``False``/``Unknown``, ``reason``
one CamelCase word. ``lastTransitionTime`` changes only when ``status`` changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]

READY = "Ready"
SYNCED = "Synced"
SEASON_SCHEDULE_VALID = "SeasonScheduleValid"
NAME_AVAILABLE = "NameAvailable"

#: Order in which conditions are kept in ``status.conditions`` (others follow, sorted).
ORDER = (READY, SYNCED, SEASON_SCHEDULE_VALID, NAME_AVAILABLE)


@dataclass(frozen=True)
class Condition:
    type: str
    status: Status
    reason: str
    message: str = ""

    def __post_init__(self) -> None:
        if not self.reason or not self.reason[0].isupper() or not self.reason.isalnum():
            raise ValueError(f"reason must be one CamelCase word, got {self.reason!r}")


def rfc3339(moment: datetime) -> str:
    """``2025-01-02T03:04:05Z`` (second precision, UTC), as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    current: Sequence[Mapping[str, Any]] | None,
    updates: Iterable[Condition],
    *,
    generation: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Return ``current`` with ``updates`` applied (keyed by type).

    ``lastTransitionTime`` is kept when the status does not change, so repeated reconciles
    with the same outcome are no-ops.
    """
    by_type: dict[str, dict[str, Any]] = {
        str(c["type"]): dict(c) for c in current or () if isinstance(c, Mapping) and "type" in c
    }
    for update in updates:
        old = by_type.get(update.type)
        transition = (
            old.get("lastTransitionTime")
            if old is not None
            and old.get("status") == update.status
            and old.get("lastTransitionTime")
            else rfc3339(now)
        )
        by_type[update.type] = {
            "type": update.type,
            "status": update.status,
            "reason": update.reason,
            "message": update.message[:1024],
            "lastTransitionTime": transition,
            "observedGeneration": int(generation),
        }

    def key(item: dict[str, Any]) -> tuple[int, str]:
        t = str(item["type"])
        return (ORDER.index(t) if t in ORDER else len(ORDER), t)

    return sorted(by_type.values(), key=key)


def find(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    for c in conditions or ():
        if isinstance(c, Mapping) and c.get("type") == type_:
            return c
    return None


def is_true(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> bool:
    c = find(conditions, type_)
    return c is not None and c.get("status") == "True"


def ready_from(parts: Sequence[Condition]) -> Condition:
    """The top-level ``Ready``: true when every part is true, else the first failing part's
    reason and message."""
    for part in parts:
        if part.status != "True":
            return Condition(
                READY, "False" if part.status == "False" else "Unknown", part.reason, part.message
            )
    return Condition(READY, "True", "Reconciled", "board is in sync with the api")


def conditions_patch_fn(
    updates: Sequence[Condition], *, generation: int, now: datetime
) -> Callable[[MutableMapping[str, Any]], None]:
    """An idempotent body transformation for ``kopf.Patch.fns``: applied to the freshest body,
    and retried by kopf on conflicts, so concurrent writers never lose each other's conditions."""

    def apply(body: MutableMapping[str, Any]) -> None:
        status = body.setdefault("status", {})
        if status is None:
            status = body["status"] = {}
        status["conditions"] = merge_conditions(
            status.get("conditions"), updates, generation=generation, now=now
        )

    return apply
