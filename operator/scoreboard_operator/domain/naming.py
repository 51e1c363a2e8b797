"""Which Leaderboard owns a board name in the api.

The api's board name is the CR's ``metadata.name``: boards are what users see in URLs, and
namespaces are a Kubernetes detail. When Leaderboards in two namespaces share a name, the
oldest one (creation time, then namespace name) owns the board; the others report
``NameAvailable=False`` / ``Ready=False`` with reason ``NameConflict`` and never touch the api
(in particular, deleting them never deletes the board). When the owner goes away, the next
oldest takes over on its next drift check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Claim:
    """One Leaderboard's claim on a board name (ordered: oldest first)."""

    created: str  # RFC 3339, so string order is time order
    namespace: str
    uid: str = ""


def owner(claims: Iterable[Claim]) -> Claim | None:
    """The claim that owns the name, or ``None`` when there is none."""
    ordered = sorted(claims)
    return ordered[0] if ordered else None


def conflict_message(name: str, mine: Claim, claims: Iterable[Claim]) -> str | None:
    """``None`` when ``mine`` owns the board, else a message for the ``NameConflict`` condition."""
    winner = owner(claims)
    if winner is None or winner.namespace == mine.namespace:
        return None
    return (
        f"board {name!r} is already managed by Leaderboard {winner.namespace}/{name} "
        f"(created {winner.created}); rename this one"
    )
