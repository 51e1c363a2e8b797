"""Seed compatibility: users may register an e-mail address (seed 002 signs in with it), and a
board keeps the HMAC keys of its request signatures (seed 003).

``users.email`` is optional, unique case-insensitively, and never published by any read.
``leaderboards.signing_keys`` maps key ids to key material; it is written only by the admin PUT
and read only by the api's policy cache (no read endpoint returns it).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN email text")
    op.execute("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))")
    op.execute("ALTER TABLE leaderboards ADD COLUMN signing_keys jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE leaderboards DROP COLUMN signing_keys")
    op.execute("DROP INDEX users_email_lower_key")
    op.execute("ALTER TABLE users DROP COLUMN email")
