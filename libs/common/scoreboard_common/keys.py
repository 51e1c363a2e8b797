"""Redis key layout. Every per-board key carries the board in a hash tag (``sb:{board}:...``)
so that all keys of one board live in one slot and the same code runs on Redis Cluster.
See docs/architecture.md for what each key holds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BoardKeys:
    board: str

    @property
    def prefix(self) -> str:
        return f"sb:{{{self.board}}}"

    @property
    def rank(self) -> str:
        return f"{self.prefix}:rank"

    @property
    def member(self) -> str:
        return f"{self.prefix}:member"

    @property
    def names(self) -> str:
        return f"{self.prefix}:names"

    @property
    def meta(self) -> str:
        """user id -> the metadata JSON of the player's standing (absent when none)."""
        return f"{self.prefix}:meta"

    @property
    def revision(self) -> str:
        """user id -> the revision of the standing (``latest`` boards only)."""
        return f"{self.prefix}:rev"

    @property
    def version(self) -> str:
        return f"{self.prefix}:version"

    @property
    def policy(self) -> str:
        return f"{self.prefix}:policy"

    @property
    def season(self) -> str:
        return f"{self.prefix}:season"

    def top_cache(self, limit: int) -> str:
        return f"{self.prefix}:top:{limit}"

    def rate_limit(self, scope: str, subject: str) -> str:
        return f"{self.prefix}:rl:{scope}:{subject}"

    def all_standings(self) -> tuple[str, str, str, str, str]:
        return (self.rank, self.member, self.names, self.meta, self.revision)
