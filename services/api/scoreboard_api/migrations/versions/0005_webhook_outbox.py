"""Season webhooks: each board's delivery target and the delivery outbox.

``board_webhooks`` holds the target the admin PUT's private ``webhookTarget`` member carries (the
URL and the signing secret the operator read from the Secret). It is kept apart from
``leaderboards.spec`` so that nothing that returns or publishes the spec can carry the secret.

``webhook_deliveries`` is the outbox: a reset inserts one row per ended season in the
transaction that archives the season (the primary key ``<board>:<season>`` is the delivery id,
so a repeated reset adds nothing). Every api replica's delivery worker claims due rows with
``FOR UPDATE SKIP LOCKED``; all delivery state lives in the row, so deliveries survive restarts.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _run(sql: str) -> None:
    # asyncpg prepares each statement: one command per execute.
    for statement in sql.split(";"):
        if statement.strip():
            op.execute(statement)


def upgrade() -> None:
    _run(
        """
        CREATE TABLE board_webhooks (
            board      text PRIMARY KEY,
            url        text NOT NULL,
            secret     text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE webhook_deliveries (
            id              text PRIMARY KEY,
            board           text NOT NULL,
            season          integer NOT NULL,
            payload         text NOT NULL,
            status          text NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_error      text,
            last_status     integer,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now(),
            delivered_at    timestamptz,
            UNIQUE (board, season)
        );
        CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
            WHERE status = 'pending';
        CREATE INDEX webhook_deliveries_board ON webhook_deliveries (board, created_at DESC)
        """
    )


def downgrade() -> None:
    _run("DROP TABLE webhook_deliveries, board_webhooks")
