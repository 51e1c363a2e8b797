"""PostgreSQL restarted (fast shutdown, then start) during a steady write load."""

from __future__ import annotations

import time
from collections import Counter

import httpx

from tests.chaos.stack import Stack, board_and_users, check_postgres_matches, figures
from tests.support.load import WriteLoad
from tests.support.waits import TRANSIENT_ERRORS, seconds_until


def test_postgres_restart_under_load_answers_503_and_recovers(stack: Stack) -> None:
    api = stack.start_api()
    board, users = board_and_users(api, stack)
    http = httpx.Client(base_url=api.url, timeout=10)

    # Paced, so each phase below gets writes on any machine; the phases end on conditions.
    with WriteLoad([api.url], board, users, workers=4, max_writes=20000, duration=90.0) as load:
        load.wait_acknowledged(50)
        stack.postgres.stop()  # SIGINT: fast shutdown, every session is terminated
        stopped = time.monotonic()
        unready = seconds_until(
            lambda: http.get("/readyz").status_code == 503,
            10,
            "readyz 503",
            ignoring=TRANSIENT_ERRORS,
        )
        seconds_until(
            lambda: load.during(stopped, time.monotonic())[503] >= 5,
            15,
            "503s in outage",
            ignoring=TRANSIENT_ERRORS,
        )
        stack.postgres.start()
        restarted = time.monotonic()
        ready = seconds_until(
            lambda: http.get("/readyz").status_code == 200,
            15,
            "readyz 200",
            ignoring=TRANSIENT_ERRORS,
        )
        first_ok = seconds_until(
            lambda: any(at > restarted and s == 200 for at, s in list(load.events)),
            15,
            "a write acknowledged after the restart",
            ignoring=TRANSIENT_ERRORS,
        )
        tail_from = time.monotonic() + 1.0
        seconds_until(
            lambda: load.count_after(tail_from) >= 50,
            30,
            "writes after the recovery",
            ignoring=TRANSIENT_ERRORS,
        )
        load.stop()
    statuses = load.status_counts()
    outage = load.during(stopped, restarted)

    # Only 200 and 503 (never a 500, never a broken connection), every 503 with Retry-After.
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[503] > 0 and outage[503] > 0
    assert sum(a.retry_after_missing for a in load.attempts) == 0
    # The pool reconnected by itself: writes were acknowledged after the restart, and the
    # tail of the load is all 200.
    tail = [s for at, s in load.events if at > tail_from]
    assert tail and set(tail) == {200}, Counter(tail)

    # No partial write, no lost acknowledged write.
    check_postgres_matches(stack, board, load)
    # A 503 is ambiguous (the commit may have happened just before the connection died): a
    # client retries with the same action_id, and each action then counts exactly once.
    refused = [a for a in load.attempts if not a.acknowledged]
    replayed = 0
    for attempt in refused:
        user = next(u for u in users if u.user_id == attempt.user_id)
        response = http.post(
            f"/api/v1/leaderboards/{board}/scores",
            json={
                "action_id": attempt.action_id,
                "score_increment": attempt.increment,
                "timestamp": attempt.timestamp,  # the same body: a client's retry
            },
            headers=user.headers,
        )
        assert response.status_code == 200, response.text
        replayed += response.json()["replayed"]
        attempt.acknowledged = True
    totals = check_postgres_matches(stack, board, load)
    assert totals == load.acked_sum_by_user()
    assert len(stack.pg_events(board)) == len(load.attempts)
    seconds_until(
        lambda: stack.redis_totals(board) == totals,
        10,
        "redis equals postgres",
        ignoring=TRANSIENT_ERRORS,
    )
    http.close()

    figures(
        "postgres restart",
        attempted=len(load.attempts),
        acknowledged_first_try=len(load.attempts) - len(refused),
        statuses=dict(statuses),
        answered_503_while_down=outage[503],
        retried_after=len(refused),
        of_which_had_committed=replayed,
        readyz_unready_after_s=unready,
        postgres_outage_s=restarted - stopped,
        readyz_ready_after_start_s=ready,
        first_write_after_start_s=first_ok,
        max_latency_s=max(max(a.latencies) for a in load.attempts),
    )
