"""Brute force and weak credentials (DESIGN.md §3 "Abuse resistance"): per-account login
throttling with growing delays from any address, the password policy, reserved usernames."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from scoreboard_devstack.servers import ServiceProcess, wait_until

from tests.support.api import PASSWORD, assert_problem
from tests.support.psql import Ledger

ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")  # three clients as the api sees them


@pytest.fixture
def clients(sec_api: ServiceProcess) -> Iterator[list[httpx.Client]]:
    made = [
        httpx.Client(
            base_url=sec_api.url,
            timeout=15.0,
            transport=httpx.HTTPTransport(local_address=address),
        )
        for address in ADDRESSES
    ]
    yield made
    for client in made:
        client.close()


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def retry_after(response: httpx.Response) -> int:
    assert_problem(response, 429, "login_throttled")
    return int(response.headers["retry-after"])


def test_brute_force_is_throttled_per_account_from_any_address(
    http: httpx.Client, clients: list[httpx.Client]
) -> None:
    username = f"bf{secrets.token_hex(4)}"
    assert (
        http.post(
            "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
        ).status_code
        == 201
    )
    # 150 wrong passwords as fast as they go, spread over three addresses.
    statuses = Counter(
        login(clients[i % 3], username, f"wrong-{i}").status_code for i in range(150)
    )
    assert set(statuses) == {401, 429}, statuses
    # Only the free failures and one per expired delay were even evaluated.
    assert statuses[401] <= 12, statuses
    # The right password does not get in while the account is throttled, from any address.
    right = login(clients[1], username, PASSWORD)
    delay = retry_after(right)
    assert 1 <= delay <= 60
    # Not a lock: once the delay has passed, the owner signs in (and the count resets).
    time.sleep(delay)
    wait_until(
        lambda: login(clients[2], username, PASSWORD).status_code == 200,
        timeout=delay + 65,
        what="the owner's login after the delay",
        interval=0.5,
    )
    for i in range(4):  # reset: four fresh failures are all evaluated
        assert_problem(login(clients[0], username, f"again-{i}"), 401, "invalid_credentials")


def test_delays_grow_with_each_further_failure(http: httpx.Client) -> None:
    username = f"gd{secrets.token_hex(4)}"
    http.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD})
    for i in range(5):
        assert login(http, username, f"wrong-{i}").status_code == 401
    delays = [retry_after(login(http, username, PASSWORD))]
    for i in range(2):
        time.sleep(delays[-1])
        wait_until(
            lambda i=i: login(http, username, f"more-{i}").status_code == 401,  # type: ignore[misc]
            timeout=70,
            what="the next evaluated failure",
            interval=0.25,
        )
        delays.append(retry_after(login(http, username, PASSWORD)))
    assert delays[0] < delays[1] < delays[2], delays


def test_unknown_accounts_are_throttled_alike(http: httpx.Client) -> None:
    username = f"ghost{secrets.token_hex(4)}"
    statuses = [login(http, username, f"guess-{i}").status_code for i in range(8)]
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:], statuses


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password", "common, short"),
        ("12345678", "common, short"),
        (" " * 8, "spaces"),
        (" " * 12, "spaces"),
        ("1234567890", "common"),
        ("password1234", "common + digits"),
        ("qwertyuiop", "keyboard walk"),
        ("iloveyou12", "common"),
        ("aaaaaaaaaaaa", "repeat"),
        ("{username}", "equals the username"),
        ("{username}2024!!", "contains the username"),
    ],
)
def test_weak_passwords_are_refused(
    http: httpx.Client, ledger: Ledger, password: str, why: str
) -> None:
    username = f"wp{secrets.token_hex(5)}"
    before = ledger.snapshot()
    response = http.post(
        "/api/v1/auth/register",
        json={"username": username, "password": password.format(username=username)},
    )
    assert_problem(response, 400, "weak_password")
    assert ledger.snapshot() == before, why


@pytest.mark.parametrize(
    "username",
    ["admin", "root", "ADMIN", "Ad.min", "root_", "system", "Administrator", "...", "---", "_._-"],
)
def test_reserved_usernames_are_refused(http: httpx.Client, ledger: Ledger, username: str) -> None:
    before = ledger.snapshot()
    response = http.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD})
    assert_problem(response, 400, "username_reserved")
    assert ledger.snapshot() == before


def test_a_strong_password_is_accepted(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/auth/register",
        json={"username": f"ok{secrets.token_hex(5)}", "password": "violet-Harbor-51-tundra"},
    )
    assert response.status_code == 201, response.text
