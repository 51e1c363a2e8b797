"""Boards remember which Leaderboard resource (by uid) owns them.

A Leaderboard deleted with `Retain` and created again under the same name starts again at
generation 1; its uid differs, so the api accepts it as the new owner instead of ignoring its
"older" generation.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE leaderboards ADD COLUMN owner_uid text")


def downgrade() -> None:
    op.execute("ALTER TABLE leaderboards DROP COLUMN owner_uid")
