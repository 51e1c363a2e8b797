"""SQL checks against the session's PostgreSQL (through its psql binary)."""

from __future__ import annotations

from typing import Any

from scoreboard_devstack.servers import PostgresServer


def psql(postgres: PostgresServer, database_url: str, sql: str) -> str:
    """``sql``'s output (unaligned, ``|``-separated) in the database of ``database_url``."""
    return postgres.psql(database_url.rsplit("/", 1)[1].split("?")[0], sql).strip()


class Ledger:
    """Row counts of every table a write could touch, and the totals of one board."""

    TABLES = ("users", "refresh_tokens", "leaderboards", "scores", "score_events", "fraud_events")

    def __init__(self, postgres: PostgresServer, database_url: str) -> None:
        self.postgres = postgres
        self.database_url = database_url

    def snapshot(self, board: str | None = None) -> dict[str, Any]:
        counts = psql(
            self.postgres,
            self.database_url,
            "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in self.TABLES),
        )
        state: dict[str, Any] = dict(zip(self.TABLES, counts.split("|"), strict=True))
        if board is not None:
            state["totals"] = psql(
                self.postgres,
                self.database_url,
                f"SELECT string_agg(user_id || '=' || total, ',' ORDER BY user_id) FROM scores "
                f"WHERE board = '{board}'",
            )
        return state
