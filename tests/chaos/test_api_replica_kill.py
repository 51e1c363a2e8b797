"""An api replica SIGKILLed mid-load while another one serves; clients retry with the same
action_id on the other replica."""

from __future__ import annotations

import time

import httpx

from tests.chaos.stack import Stack, board_and_users, check_postgres_matches, figures
from tests.support.load import WriteLoad
from tests.support.waits import TRANSIENT_ERRORS, seconds_until


def test_api_replica_sigkill_loses_nothing_and_counts_nothing_twice(stack: Stack) -> None:
    victim = stack.start_api()
    survivor = stack.start_api()
    board, users = board_and_users(survivor, stack)

    with WriteLoad(
        [victim.url, survivor.url],
        board,
        users,
        workers=6,
        max_writes=20000,
        duration=90.0,
        retry=True,
    ) as load:
        load.wait_acknowledged(100)
        victim.kill()
        killed = time.monotonic()
        seconds_until(
            lambda: load.count_after(killed) >= 100,
            30,
            "writes after the kill",
            ignoring=TRANSIENT_ERRORS,
        )
        load.stop()
    statuses = load.status_counts()
    broken = {s: n for s, n in statuses.items() if not isinstance(s, int)}

    # Every attempt was acknowledged in the end (by the survivor when the victim died).
    assert all(a.acknowledged for a in load.attempts), [
        a.statuses for a in load.attempts if not a.acknowledged
    ]
    assert broken, "the kill broke no request: nothing was tested"
    assert not {s for s in statuses if isinstance(s, int) and s >= 500}, statuses
    retried = [a for a in load.attempts if len(a.statuses) > 1]

    # PostgreSQL: each action exactly once, totals = acknowledged sums.
    totals = check_postgres_matches(stack, board, load)
    assert len(stack.pg_events(board)) == len(load.attempts)
    assert totals == load.acked_sum_by_user()
    with httpx.Client(base_url=survivor.url, timeout=10) as http:
        replays = sum(
            1
            for a in retried
            if a.statuses[-1] == 200 and any(not isinstance(s, int) for s in a.statuses)
        )
        seconds_until(
            lambda: stack.redis_totals(board) == totals,
            10,
            "redis equals postgres",
            ignoring=TRANSIENT_ERRORS,
        )
        top = http.get(f"/api/v1/leaderboards/{board}/top").json()
        assert {e["user_id"]: e["score"] for e in top["entries"]} == totals
        metrics = http.get("/metrics").text
    replay_line = next(
        (
            line
            for line in metrics.splitlines()
            if line.startswith("scoreboard_score_replays_total")
        ),
        "",
    )

    figures(
        "api replica SIGKILL",
        attempted=len(load.attempts),
        acknowledged=len(load.acknowledged),
        statuses=dict(statuses),
        broken_requests=sum(broken.values()),
        retried_with_same_action_id=len(retried),
        retried_after_broken_connection=replays,
        survivor_replays_metric=replay_line.rpartition(" ")[2] or "0",
        load_after_kill_s=load.elapsed - (killed - load.started),
    )
