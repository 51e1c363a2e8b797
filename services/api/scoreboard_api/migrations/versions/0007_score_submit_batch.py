"""Group commit (issue 13): ``score_submit_batch``, the write statement for many submissions
in one statement and one transaction.

The function runs the api's write statement (``pg_scores.SUBMIT_SCORE_SQL``, its ``$n``
parameters as ``pn`` variables) for each element of 13 parallel arrays, in order, each in its own
subtransaction so one submission's error (a total above 2^53-1, a twin that committed the same
action_id first) does not fail the others. This text is a frozen copy of
``pg_scores.batch_function_sql()``; ``tests/unit/api/test_group_commit.py`` checks they agree, so
a change to the write statement comes with a new migration that replaces the function.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FUNCTION_SQL = """CREATE OR REPLACE FUNCTION score_submit_batch(a1 text[], a2 text[], a3 integer[], a4 uuid[], a5 text[], a6 bigint[], a7 timestamptz[], a8 inet[], a9 text[], a10 text[], a11 text[], a12 text[], a13 text[])
RETURNS TABLE (o_error text, o_replayed boolean, o_changed boolean, o_total bigint, o_reached_at timestamptz, o_username text, o_metadata text, o_updated_at timestamptz, o_user_id uuid, o_action text, o_increment bigint, o_client_ts timestamptz, o_season integer, o_score bigint)
LANGUAGE plpgsql AS $function$
DECLARE
    p1 text;
    p2 text;
    p3 integer;
    p4 uuid;
    p5 text;
    p6 bigint;
    p7 timestamptz;
    p8 inet;
    p9 text;
    p10 text;
    p11 text;
    p12 text;
    p13 text;
BEGIN
    FOR i IN 1 .. coalesce(array_length(a1, 1), 0) LOOP
        p1 := a1[i];
        p2 := a2[i];
        p3 := a3[i];
        p4 := a4[i];
        p5 := a5[i];
        p6 := a6[i];
        p7 := a7[i];
        p8 := a8[i];
        p9 := a9[i];
        p10 := a10[i];
        p11 := a11[i];
        p12 := a12[i];
        p13 := a13[i];
        o_error := 'retry';
        FOR attempt IN 1 .. 5 LOOP
            BEGIN
                WITH existing AS (
                    SELECT user_id, action, increment, client_ts, new_total, season, score,
                           metadata::text AS metadata
                    FROM score_events WHERE board = p1 AND user_id = p4 AND action_id = p2
                ), prior AS (
                    SELECT total, reached_at, username, metadata::text AS metadata, updated_at FROM scores
                    WHERE p11::text <> 'increment' AND board = p1 AND season = p3 AND user_id = p4
                      AND NOT EXISTS (SELECT 1 FROM existing)
                    FOR UPDATE
                ), upsert AS (
                    INSERT INTO scores AS s (board, season, user_id, username, total, reached_at, updated_at,
                                             metadata)
                    SELECT p1, p3, p4,
                           COALESCE(p10, (SELECT u.username FROM users u WHERE u.id = p4), p4::text),
                           p6, clock_timestamp(), clock_timestamp(), p13::text::jsonb
                    FROM (SELECT count(*) FROM prior) AS locked
                    WHERE NOT EXISTS (SELECT 1 FROM existing)
                    ON CONFLICT (board, season, user_id) DO UPDATE
                        SET total = CASE WHEN p11::text = 'increment' THEN s.total + EXCLUDED.total
                                         ELSE EXCLUDED.total END,
                            reached_at = CASE WHEN p11::text = 'latest' AND s.total = EXCLUDED.total
                                              THEN s.reached_at ELSE EXCLUDED.reached_at END,
                            updated_at = GREATEST(EXCLUDED.updated_at, s.updated_at + interval '1 microsecond'),
                            username = EXCLUDED.username,
                            metadata = EXCLUDED.metadata
                        WHERE p11::text <> 'best'
                           OR (p12::text = 'desc' AND EXCLUDED.total > s.total)
                           OR (p12::text = 'asc' AND EXCLUDED.total < s.total)
                    RETURNING total, reached_at, username, metadata::text AS metadata, updated_at
                ), outcome AS (
                    SELECT total, reached_at, username, metadata, updated_at, true AS changed FROM upsert
                    UNION ALL
                    SELECT total, reached_at, username, metadata, updated_at, false FROM prior
                    WHERE NOT EXISTS (SELECT 1 FROM upsert)
                ), audit AS (
                    INSERT INTO score_events (board, action_id, season, user_id, action, increment, new_total,
                                              client_ts, server_ts, client_ip, request_id, score, metadata)
                    SELECT p1, p2, p3, p4, p5,
                           CASE WHEN p11::text = 'increment' THEN p6
                                ELSE o.total - COALESCE((SELECT p.total FROM prior p), 0) END,
                           o.total, p7, now(), p8, p9,
                           CASE WHEN p11::text = 'increment' THEN NULL ELSE p6 END, p13::text::jsonb
                    FROM outcome o
                    RETURNING increment
                )
                SELECT false AS replayed, o.changed, o.total, o.reached_at, o.username, o.metadata,
                       o.updated_at, p4::uuid AS user_id, p5::text AS action, a.increment,
                       p7::timestamptz AS client_ts, p3::integer AS season, NULL::bigint AS score
                FROM outcome o CROSS JOIN audit a
                UNION ALL
                SELECT true, false, e.new_total, NULL, NULL, e.metadata, NULL, e.user_id, e.action,
                       e.increment, e.client_ts, e.season, e.score
                FROM existing e
                INTO o_replayed, o_changed, o_total, o_reached_at, o_username, o_metadata, o_updated_at, o_user_id, o_action, o_increment, o_client_ts, o_season, o_score;
                IF FOUND THEN
                    o_error := NULL;
                    EXIT;
                END IF;
            EXCEPTION
                WHEN unique_violation OR deadlock_detected THEN
                    o_error := 'retry';
                WHEN check_violation THEN
                    o_error := 'total_overflow';
                    EXIT;
                WHEN others THEN
                    o_error := SQLSTATE;
                    EXIT;
            END;
        END LOOP;
        RETURN NEXT;
    END LOOP;
END
$function$"""


def upgrade() -> None:
    op.execute(FUNCTION_SQL)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION score_submit_batch(text[], text[], integer[], uuid[], text[], bigint[], "
        "timestamptz[], inet[], text[], text[], text[], text[], text[])"
    )
