"""Exhausted resources: a 2-connection database pool stuck behind a table lock, and a Redis
that refuses clients beyond ``maxclients``. Requests fail fast (503 with Retry-After, or the
documented degradation), and the service recovers by itself when the pressure is gone."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis as redis_sync
from scoreboard_devstack.metrics import metric_value

from tests.chaos.stack import (
    Stack,
    board_and_users,
    check_postgres_matches,
    figures,
    psql_background,
)
from tests.support.api import User, new_action, now_iso
from tests.support.load import WriteLoad
from tests.support.waits import TRANSIENT_ERRORS, seconds_until

BURST = 24


def _burst(
    url: str, board: str, users: list[User], n: int, sent: list[str] | None = None
) -> list[tuple[int, float, Any]]:
    """``n`` concurrent writes; (status, seconds, response) each."""

    def one(index: int) -> tuple[int, float, Any]:
        user = users[index % len(users)]
        action_id = new_action()
        if sent is not None:
            sent.append(action_id)
        started = time.monotonic()
        with httpx.Client(base_url=url, timeout=30) as http:
            response = http.post(
                f"/api/v1/leaderboards/{board}/scores",
                json={"action_id": action_id, "score_increment": 1, "timestamp": now_iso()},
                headers=user.headers,
            )
        return response.status_code, time.monotonic() - started, response

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def _redis_errors(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    prefix = 'scoreboard_dependency_errors_total{dependency="redis"} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def _redis_up(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    prefix = 'scoreboard_dependency_up{dependency="redis"} '
    return sum(float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix))


def test_database_pool_exhausted_fails_fast_and_recovers(stack: Stack) -> None:
    api = stack.start_api(
        DB_POOL_MIN_SIZE="1",
        DB_POOL_MAX_SIZE="2",
        DB_COMMAND_TIMEOUT_SECONDS="3",
        DB_POOL_ACQUIRE_TIMEOUT_SECONDS="0.5",
    )
    board, users = board_and_users(api, stack)
    before = stack.pg_totals(board)
    # Hold an exclusive lock on the scores table for 6 s: the two pooled connections get stuck
    # behind it, every other request waits for a connection.
    locker = psql_background(
        stack, "BEGIN; LOCK TABLE scores IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;"
    )
    seconds_until(
        lambda: stack.sql(
            "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
            "AND relation = 'scores'::regclass"
        )
        == "1",
        5,
        "the lock",
        ignoring=TRANSIENT_ERRORS,
    )
    exhausted_before = metric_value(api, "scoreboard_db_pool_exhausted_total")
    locked = time.monotonic()
    results = _burst(api.url, board, users, BURST)
    burst_s = time.monotonic() - locked
    statuses = Counter(status for status, _, _ in results)
    # Every request failed while the lock (6 s) was still held: none queued until it went.
    assert set(statuses) <= {503}, statuses
    for _, _, response in results:
        assert response.json()["code"] == "dependency_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    latencies = sorted(seconds for _, seconds, _ in results)
    # Fail fast: those that never got a connection gave up on the acquire timeout (counted),
    # the two stuck behind the lock on the command timeout; what the clock says is only
    # reported, never asserted (the machine may be slow).
    exhausted = metric_value(api, "scoreboard_db_pool_exhausted_total") - exhausted_before
    assert exhausted >= BURST - 2, (exhausted, latencies)
    with httpx.Client(base_url=api.url, timeout=10) as http:
        reads = http.get(f"/api/v1/leaderboards/{board}/top")
        assert reads.status_code == 200  # reads come from Redis
    # Recovery: when the lock goes, writes succeed again with no restart.
    locker.wait(15)
    assert locker.returncode == 0, locker.stderr.read() if locker.stderr else ""
    released = time.monotonic()
    # Bounded by count (200) and time (60 s, ample): every write it made succeeded.
    with WriteLoad([api.url], board, users, workers=4, max_writes=200, duration=60.0) as load:
        pass
    assert len(load.attempts) == 200
    assert load.status_counts() == Counter({200: 200}), load.status_counts()
    totals = check_postgres_matches(stack, board, load)
    for user_id, acked in load.acked_sum_by_user().items():
        assert totals[user_id] == before.get(user_id, 0) + acked
    figures(
        "database pool exhausted",
        pool_size=2,
        concurrent_writes=BURST,
        statuses=dict(statuses),
        burst_s=burst_s,
        p50_latency_s=latencies[len(latencies) // 2],
        max_latency_s=latencies[-1],
        recovery_writes_ok=load.status_counts()[200],
        recovered_after_release_s=time.monotonic() - released,
    )


def test_redis_maxclients_reached_degrades_fast_and_recovers(
    stack_factory: Any,
) -> None:
    stack: Stack = stack_factory(redis_args=["--maxclients", "6"])
    api = stack.start_api()
    board, users = board_and_users(api, stack)
    # The test's own connection, taken first: the api grabs every free slot under load.
    observer = redis_sync.Redis.from_url(stack.redis.url, single_connection_client=True)
    before = observer.info("clients")["connected_clients"]
    # Take every remaining client slot from outside, as a noisy neighbour would.
    hogs: list[redis_sync.Redis] = []

    def take_free_slots() -> None:
        for _ in range(10):
            try:
                hog = redis_sync.Redis.from_url(stack.redis.url, single_connection_client=True)
                hog.ping()
            except redis_sync.RedisError:
                break
            hogs.append(hog)

    take_free_slots()
    assert hogs, "no client slot was free to take"
    # The api pipelines its write-path Redis calls over the connections it already holds, so a
    # burst needs no new one: drop the api's connections (as a proxy restart would) and take
    # their slots, so that it must reconnect into a server with no free slot.
    for _ in range(20):  # the api reconnects as we go: until it holds no connection
        keep = {observer.client_id(), *(hog.client_id() for hog in hogs)}
        theirs = [c["id"] for c in observer.client_list() if int(c["id"]) not in keep]
        if not theirs:
            break
        for client_id in theirs:
            observer.client_kill_filter(_id=client_id)
        take_free_slots()
    sent: list[str] = []
    errors_before = _redis_errors(api.url)
    # Bursts until the limit is met (how many requests overlap depends on the machine's
    # speed), at most 10 of them. Met: a request's Redis call failed, or the api's own check
    # found Redis refusing it (then the write path did not even try Redis).
    results: list[tuple[int, float, Any]] = []
    for _ in range(10):
        results += _burst(api.url, board, users, BURST, sent)
        redis_errors = _redis_errors(api.url) - errors_before
        redis_down = _redis_up(api.url) == 0
        if redis_errors > 0 or redis_down:
            break
    assert redis_errors > 0 or redis_down, "the client limit was never hit: nothing was tested"
    statuses = Counter(status for status, _, _ in results)
    latencies = sorted(seconds for _, seconds, _ in results)
    # The write path degrades as documented (commits to PostgreSQL, per-replica fallback
    # limit), or answers 503 with Retry-After; never a 500, never a hang (a hang fails the
    # burst on its 30 s client timeout; how fast it answered is reported, not asserted).
    assert set(statuses) <= {200, 503}, statuses
    for status, _, response in results:
        if status == 503:
            assert int(response.headers["Retry-After"]) >= 1
    for hog in hogs:
        hog.close()
    released = time.monotonic()
    # Bounded by count (200) and time (60 s, ample): every write it made succeeded.
    with WriteLoad([api.url], board, users, workers=4, max_writes=200, duration=60.0) as load:
        pass
    assert len(load.attempts) == 200
    assert load.status_counts() == Counter({200: 200}), load.status_counts()
    totals = check_postgres_matches(stack, board, load, also_sent=sent)
    acked = [r.json()["action_id"] for status, _, r in results if status == 200]
    assert set(acked) <= set(stack.pg_events(board))
    recovered = seconds_until(
        lambda: stack.redis_totals(board, observer) == totals,
        15,
        "redis equals postgres",
        ignoring=TRANSIENT_ERRORS,
    )
    observer.close()
    with httpx.Client(base_url=api.url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
    figures(
        "redis maxclients reached",
        maxclients=6,
        clients_before=before,
        hogs=len(hogs),
        redis_errors_during_burst=redis_errors,
        redis_down_after_burst=redis_down,
        concurrent_writes=BURST,
        statuses=dict(statuses),
        max_latency_s=latencies[-1],
        redis_matches_postgres_after_load_s=recovered,
        recovery_writes_ok=load.status_counts()[200],
        recovered_within_s=time.monotonic() - released,
    )
