"""Redis or PostgreSQL down: each test runs its own server so the rest of the suite is unaffected."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scoreboard_devstack.servers import (
    PostgresServer,
    RedisClusterServer,
    RedisServer,
    ServiceProcess,
)

from tests.support import wait_for
from tests.support.api import make_board, new_action, now_iso, register_user, submit
from tests.support.services import RedisFactory, migrate, sync_redis


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="scoreboard-degrade-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def own_redis(redis_factory: RedisFactory) -> RedisServer | RedisClusterServer:
    # One server, or (--redis-cluster) a cluster whose nodes are all killed and restarted.
    return redis_factory(durable=False)


@pytest.fixture
def own_postgres(scratch: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(scratch / "postgres", durable=False)
    server.start()
    yield server
    server.stop()


def test_redis_down_writes_commit_reads_fall_back_and_state_is_rebuilt(
    own_redis: RedisServer | RedisClusterServer, start_api: Any, admin_token: str
) -> None:
    api: ServiceProcess = start_api(
        REDIS_URL=own_redis.url,
        HEALTH_CHECK_INTERVAL_SECONDS="0.2",
        FALLBACK_RATE_LIMIT_PER_MINUTE="4",
    )
    admin = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=api.url, timeout=10) as http:
        board = make_board(http, admin)
        user = register_user(http)
        assert submit(http, board, user.headers, 5).status_code == 200

        own_redis.kill()
        started = time.monotonic()
        during = submit(http, board, user.headers, 3)
        assert during.status_code == 200, during.text
        assert during.json()["new_total_score"] == 8
        assert during.json()["rank"] == 1  # from PostgreSQL
        assert time.monotonic() - started < 5
        top = http.get(f"/api/v1/leaderboards/{board}/top")
        assert top.status_code == 200
        assert top.json()["entries"][0]["score"] == 8
        assert http.get(f"/api/v1/leaderboards/{board}/players/{user.user_id}").json()["score"] == 8
        wait_for(lambda: http.get("/readyz").status_code == 503, 5, "readyz to notice")
        ready = http.get("/readyz")
        assert ready.json()["code"] == "dependency_unavailable"
        assert ready.json()["dependencies"] == ["redis"]
        wait_for(
            lambda: 'scoreboard_dependency_up{dependency="redis"} 0.0' in http.get("/metrics").text,
            3,
            "the dependency gauge",
        )
        # The per-replica fallback limit (4/min) applies while Redis is away.
        codes = [submit(http, board, user.headers, 1).status_code for _ in range(5)]
        assert 429 in codes
        refused = submit(http, board, user.headers, 1)
        assert refused.status_code == 429
        assert refused.headers["RateLimit-Policy"].startswith('"fallback";q=4;w=60')
        accepted = codes.count(200)
        expected_total = 8 + accepted

        own_redis.start()  # empty: it was not durable
        wait_for(lambda: http.get("/readyz").status_code == 200, 10, "readyz after restart")
        with sync_redis(own_redis.url) as r:
            # The rebuild writes the standings, catches up, then the board's policy (last).
            wait_for(lambda: r.zcard(f"sb:{{{board}}}:rank") == 1, 10, "rebuilt standings")
            wait_for(lambda: r.get(f"sb:{{{board}}}:policy") is not None, 10, "rebuilt policy")
        rebuilt = http.get(f"/api/v1/leaderboards/{board}/top").json()
        assert rebuilt["version"] > 0
        assert rebuilt["entries"][0]["score"] == expected_total
        assert rebuilt["entries"][0]["user_id"] == user.user_id


def test_postgres_down_answers_503_and_writes_nothing(
    own_postgres: PostgresServer, start_api: Any, base_env: dict[str, str], admin_token: str
) -> None:
    url = own_postgres.create_database("degrade")
    migrate({**base_env, "DATABASE_URL": url})
    api: ServiceProcess = start_api(DATABASE_URL=url, HEALTH_CHECK_INTERVAL_SECONDS="0.2")
    admin = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=api.url, timeout=15) as http:
        board = make_board(http, admin)
        user = register_user(http)
        assert submit(http, board, user.headers, 5).status_code == 200

        own_postgres.stop()
        action = new_action()
        body = {"action_id": action, "timestamp": now_iso(), "score_increment": 2}
        started = time.monotonic()
        down = http.post(f"/api/v1/leaderboards/{board}/scores", json=body, headers=user.headers)
        assert down.status_code == 503, down.text
        assert time.monotonic() - started < 6
        assert down.json()["code"] == "dependency_unavailable"
        assert int(down.headers["Retry-After"]) >= 1
        # Reads keep working from Redis.
        top = http.get(f"/api/v1/leaderboards/{board}/top")
        assert top.status_code == 200
        assert top.json()["entries"][0]["score"] == 5
        wait_for(lambda: http.get("/readyz").status_code == 503, 5, "readyz to notice")
        assert http.get("/readyz").json()["dependencies"] == ["postgres"]
        login = http.post(
            "/api/v1/auth/login", json={"username": user.username, "password": user.password}
        )
        assert login.status_code == 503

        own_postgres.start()
        wait_for(lambda: http.get("/readyz").status_code == 200, 15, "postgres back")

        def retried() -> bool:
            response = http.post(
                f"/api/v1/leaderboards/{board}/scores", json=body, headers=user.headers
            )
            return response.status_code == 200

        wait_for(retried, 10, "write after restart")
        again = http.post(f"/api/v1/leaderboards/{board}/scores", json=body, headers=user.headers)
        assert again.json()["replayed"] is True
        assert again.json()["new_total_score"] == 7
        events = own_postgres.psql(
            "degrade", f"SELECT count(*) FROM score_events WHERE board = '{board}'"
        ).strip()
        assert events == "2"
