"""The group-commit function in the migration is the api's write statement, batched."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from scoreboard_api.adapters import pg_scores

MIGRATION = (
    Path(pg_scores.__file__).resolve().parent.parent
    / "migrations"
    / "versions"
    / "0007_score_submit_batch.py"
)


def test_the_migration_creates_the_batch_of_the_current_write_statement() -> None:
    spec = importlib.util.spec_from_file_location("migration_0007", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert pg_scores.batch_function_sql() == module.FUNCTION_SQL, (
        "SUBMIT_SCORE_SQL changed: add a migration that replaces score_submit_batch with "
        "pg_scores.batch_function_sql()"
    )
    assert "score_submit_batch" in pg_scores.SUBMIT_SCORE_BATCH_SQL
