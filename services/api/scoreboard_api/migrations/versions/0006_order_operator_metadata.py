"""Board `order`/`operator` and per-standing `metadata` (issue 14).

* ``scores.metadata`` (the standing's JSON object), ``season_standings.metadata`` (archived
  with it) and, in the audit, ``score_events.score`` (the absolute score a best/latest
  submission carried) and ``score_events.metadata``.
* Ranking indexes for both orders, on the rank key the queries use
  (``scoreboard_common.ranking.rank_key_sql``): ``(-total, reached_at, user_id)`` for ``desc``
  and ``(total, reached_at, user_id)`` for ``asc``. Each matches its ``ORDER BY`` and keyset
  row comparison exactly, so top N, rank counts and ``entries`` paging are index scans in
  either order. They replace ``scores_ranking`` (``total DESC, ...``), which a row comparison
  could not use.

The spec fields live in ``leaderboards.spec`` (JSON): existing boards decode with the defaults
(``desc``, ``increment``) and keep their behaviour.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE scores ADD COLUMN metadata jsonb")
    op.execute("ALTER TABLE season_standings ADD COLUMN metadata jsonb")
    op.execute("ALTER TABLE score_events ADD COLUMN score bigint, ADD COLUMN metadata jsonb")
    op.execute(
        "CREATE INDEX scores_rank_desc ON scores (board, season, (-total), reached_at, user_id)"
    )
    op.execute("CREATE INDEX scores_rank_asc ON scores (board, season, total, reached_at, user_id)")
    op.execute("DROP INDEX scores_ranking")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX scores_ranking ON scores (board, season, total DESC, reached_at, user_id)"
    )
    op.execute("DROP INDEX scores_rank_asc")
    op.execute("DROP INDEX scores_rank_desc")
    op.execute("ALTER TABLE score_events DROP COLUMN metadata, DROP COLUMN score")
    op.execute("ALTER TABLE season_standings DROP COLUMN metadata")
    op.execute("ALTER TABLE scores DROP COLUMN metadata")
