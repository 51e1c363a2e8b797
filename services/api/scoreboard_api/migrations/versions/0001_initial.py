"""Initial schema: identity, boards, standings, audit, fraud, seasons.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
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
        CREATE TABLE users (
            id            uuid PRIMARY KEY,
            username      text NOT NULL,
            password_hash text,
            disabled      boolean NOT NULL DEFAULT false,
            created_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX users_username_key ON users (lower(username));

        CREATE TABLE refresh_tokens (
            id          uuid PRIMARY KEY,
            family_id   uuid NOT NULL,
            user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            token_hash  bytea NOT NULL UNIQUE,
            expires_at  timestamptz NOT NULL,
            rotated_at  timestamptz,
            revoked_at  timestamptz,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

        CREATE TABLE leaderboards (
            name              text PRIMARY KEY,
            spec              jsonb NOT NULL,
            generation        bigint NOT NULL DEFAULT 0,
            season            integer NOT NULL DEFAULT 1,
            season_started_at timestamptz NOT NULL DEFAULT now(),
            last_reset        timestamptz,
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now(),
            deleted_at        timestamptz
        );

        -- Running totals of the current (and not yet archived) seasons.
        CREATE TABLE scores (
            board      text NOT NULL,
            season     integer NOT NULL,
            user_id    uuid NOT NULL,
            username   text NOT NULL,
            total      bigint NOT NULL CHECK (total >= 0 AND total <= 9007199254740991),
            reached_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (board, season, user_id)
        );
        CREATE INDEX scores_ranking ON scores (board, season, total DESC, reached_at, user_id);

        -- Audit of every accepted submission. (board, action_id) makes submissions idempotent.
        CREATE TABLE score_events (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            board      text NOT NULL,
            action_id  text NOT NULL,
            season     integer NOT NULL,
            user_id    uuid NOT NULL,
            action     text,
            increment  bigint NOT NULL,
            new_total  bigint NOT NULL,
            client_ts  timestamptz NOT NULL,
            server_ts  timestamptz NOT NULL,
            client_ip  inet,
            request_id text,
            UNIQUE (board, action_id)
        );

        CREATE TABLE fraud_events (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            board      text NOT NULL,
            user_id    uuid NOT NULL,
            rule       text NOT NULL,
            action     text NOT NULL,
            action_id  text,
            detail     text NOT NULL,
            client_ip  inet,
            request_id text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX fraud_events_board ON fraud_events (board, created_at);

        CREATE TABLE seasons (
            board      text NOT NULL,
            season     integer NOT NULL,
            started_at timestamptz NOT NULL,
            ended_at   timestamptz NOT NULL,
            players    integer NOT NULL,
            top_score  bigint NOT NULL,
            PRIMARY KEY (board, season)
        );

        CREATE TABLE season_standings (
            board      text NOT NULL,
            season     integer NOT NULL,
            rank       integer NOT NULL,
            user_id    uuid NOT NULL,
            username   text NOT NULL,
            total      bigint NOT NULL,
            reached_at timestamptz NOT NULL,
            PRIMARY KEY (board, season, rank)
        );

        CREATE TABLE player_bans (
            board      text NOT NULL,
            user_id    uuid NOT NULL,
            reason     text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (board, user_id)
        );

        CREATE TABLE score_voids (
            id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            board          text NOT NULL,
            season         integer NOT NULL,
            user_id        uuid NOT NULL,
            previous_total bigint NOT NULL,
            reason         text NOT NULL,
            banned         boolean NOT NULL,
            actor          text NOT NULL,
            request_id     text,
            created_at     timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    _run(
        """
        DROP TABLE score_voids, player_bans, season_standings, seasons, fraud_events,
                   score_events, scores, leaderboards, refresh_tokens, users;
        """
    )
