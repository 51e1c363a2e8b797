"""Security suite helpers: one api replica with a strict CORS list, clients, and a snapshot of
what PostgreSQL holds so every attack can be shown to leave no stray row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.integration.api.conftest import User, make_board, register_user
from tests.integration.api.test_scores import psql

ALLOWED_ORIGIN = "https://game.example"


@pytest.fixture(scope="session")
def sec_api(start_api: Callable[..., ServiceProcess]) -> ServiceProcess:
    return start_api(CORS_ALLOWED_ORIGINS=f'["{ALLOWED_ORIGIN}"]')


@pytest.fixture(scope="session")
def http(sec_api: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sec_api.url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="session")
def admin(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


@pytest.fixture(scope="session")
def service(service_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service_token}"}


@pytest.fixture
def victim(http: httpx.Client) -> User:
    return register_user(http, prefix="v")


@pytest.fixture
def attacker(http: httpx.Client) -> User:
    return register_user(http, prefix="a")


@pytest.fixture
def board(http: httpx.Client, admin: dict[str, str]) -> str:
    return make_board(http, admin)


class Ledger:
    """Row counts of every table a write could touch, and the totals of one board."""

    TABLES = ("users", "refresh_tokens", "leaderboards", "scores", "score_events", "fraud_events")

    def __init__(self, postgres: PostgresServer, database_url: str) -> None:
        self.postgres = postgres
        self.database_url = database_url

    def snapshot(self, board: str | None = None) -> dict[str, Any]:
        counts = psql(
            self.postgres,
            self.database_url,
            "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in self.TABLES),
        )
        state: dict[str, Any] = dict(zip(self.TABLES, counts.split("|"), strict=True))
        if board is not None:
            state["totals"] = psql(
                self.postgres,
                self.database_url,
                f"SELECT string_agg(user_id || '=' || total, ',' ORDER BY user_id) FROM scores "
                f"WHERE board = '{board}'",
            )
        return state


@pytest.fixture
def ledger(postgres: PostgresServer, database_url: str) -> Ledger:
    return Ledger(postgres, database_url)


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
