"""Action ids are unique per board and player, not per board.

With one namespace per board, a player who learned (or guessed) another player's next
`action_id` could submit it first: the victim's write was then a 409 for ever. Scoped per
player, an `action_id` only ever replays or conflicts with the same player's own submissions.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE score_events "
        "ADD CONSTRAINT score_events_board_user_action_key UNIQUE (board, user_id, action_id)"
    )
    op.execute("ALTER TABLE score_events DROP CONSTRAINT score_events_board_action_id_key")


def downgrade() -> None:
    # Fails if two players share an action_id on one board; resolve those rows first.
    op.execute(
        "ALTER TABLE score_events "
        "ADD CONSTRAINT score_events_board_action_id_key UNIQUE (board, action_id)"
    )
    op.execute("ALTER TABLE score_events DROP CONSTRAINT score_events_board_user_action_key")
