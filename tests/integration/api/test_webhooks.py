"""Season webhooks (DESIGN §3): a reset's outbox row is delivered to a real HTTP receiver,
signed, retried after 500s and while the receiver is down, once per season, and after an api
restart.

These tests run their own api processes on their own databases (fast retry settings, and no
other replica to deliver a row the test wants delivered by a particular process)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scoreboard_devstack.servers import PostgresServer, ServiceProcess

from tests.support import wait_for
from tests.support.api import new_board_name, put_board, submit
from tests.support.services import migrated_database
from tests.support.webhooks import Received, Receiver

FAST = {
    "WEBHOOK_RETRY_BASE_SECONDS": "0.1",
    "WEBHOOK_RETRY_CAP_SECONDS": "0.3",
    "WEBHOOK_POLL_SECONDS": "0.05",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
}


@pytest.fixture(scope="module")
def hooks_db(postgres: PostgresServer, base_env: dict[str, str]) -> Iterator[str]:
    with migrated_database(postgres, base_env, "sb_hooks") as url:
        yield url


@pytest.fixture(scope="module")
def hooks_api(start_api: Any, hooks_db: str) -> ServiceProcess:
    process: ServiceProcess = start_api(DATABASE_URL=hooks_db, **FAST)
    return process


@pytest.fixture(scope="module")
def hooks(hooks_api: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hooks_api.url, timeout=15.0) as http:
        yield http


def _verify(secret: str, received: Received) -> bool:
    """What a receiver does, written independently of the api's code."""
    parts = dict(p.split("=", 1) for p in received.headers["x-scoreboard-signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def _board(http: httpx.Client, headers: dict[str, str], url: str, **spec: Any) -> tuple[str, str]:
    name = new_board_name("hook")
    secret = secrets.token_urlsafe(24)
    response = put_board(
        http,
        headers,
        name,
        webhook={"url": url, "secretRef": {"name": "hook", "key": "secret"}},
        webhookTarget={"url": url, "secret": secret},
        **spec,
    )
    assert response.status_code == 200, response.text
    assert secret not in response.text
    return name, secret


def _reset(http: httpx.Client, headers: dict[str, str], board: str, season: int) -> bool:
    response = http.post(
        f"/api/v1/admin/leaderboards/{board}/reset", json={"season": season}, headers=headers
    )
    assert response.status_code == 200, response.text
    reset: bool = response.json()["reset"]
    return reset


def _delivery(http: httpx.Client, headers: dict[str, str], board: str) -> dict[str, Any]:
    stats = http.get(f"/api/v1/admin/leaderboards/{board}/stats", headers=headers)
    assert stats.status_code == 200, stats.text
    webhook: dict[str, Any] = stats.json()["webhook"]
    assert webhook["configured"] is True
    return webhook["last_delivery"] or {}


def test_season_end_is_delivered_signed_once_per_season(
    hooks: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    receiver = Receiver().start()
    try:
        board, secret = _board(hooks, admin_headers, receiver.url, size=2)
        players = [str(uuid.uuid4()) for _ in range(3)]
        for player, points in zip(players, [5, 9, 7], strict=True):
            assert submit(hooks, board, service_headers, points, user_id=player).status_code == 200
        assert _reset(hooks, admin_headers, board, 2) is True
        (got,) = wait_for(receiver.received, 15, "the season-end delivery")
        assert got.path == "/hooks/season-end"
        assert got.headers["x-scoreboard-delivery"] == f"{board}:1"
        assert got.headers["content-type"] == "application/json"
        assert _verify(secret, got)
        assert not _verify(secret + "x", got)
        body = json.loads(got.body)
        assert body["board"] == board
        assert body["season"] == 1
        assert body["total_players"] == 3
        assert body["started_at"] < body["ended_at"]
        assert [(e["rank"], e["user_id"], e["score"]) for e in body["standings"]] == [
            (1, players[1], 9),
            (2, players[2], 7),
        ]
        state = wait_for(
            lambda: (d := _delivery(hooks, admin_headers, board))["status"] == "delivered" and d,
            10,
            "the delivery to show as delivered",
        )
        assert state["id"] == f"{board}:1"
        assert state["attempts"] == 1
        assert state["last_error"] is None
        # A repeated reset of the same season is a no-op: no second delivery id, no second POST.
        assert _reset(hooks, admin_headers, board, 2) is False
        assert _reset(hooks, admin_headers, board, 1) is False
        # The next season's end is a new delivery; the first one was sent exactly once.
        assert _reset(hooks, admin_headers, board, 3) is True
        wait_for(lambda: len(receiver.received()) == 2, 15, "season 2's delivery")
        ids = [r.headers["x-scoreboard-delivery"] for r in receiver.received()]
        assert ids == [f"{board}:1", f"{board}:2"]
        assert json.loads(receiver.received()[1].body)["standings"] == []
        # The secret never shows in reads.
        for path in (
            f"/api/v1/leaderboards/{board}",
            f"/api/v1/admin/leaderboards/{board}/stats",
        ):
            assert secret not in hooks.get(path, headers=admin_headers).text
    finally:
        receiver.stop()


def test_retried_after_500s_and_never_follows_redirects(
    hooks: httpx.Client, admin_headers: dict[str, str]
) -> None:
    receiver = Receiver(script=[500, (302, {"Location": "/stolen"}), 503]).start()
    try:
        board, secret = _board(hooks, admin_headers, receiver.url)
        assert _reset(hooks, admin_headers, board, 2) is True
        wait_for(lambda: len(receiver.received()) == 4, 20, "three failed attempts and a success")
        got = receiver.received()
        assert {r.path for r in got} == {"/hooks/season-end"}  # the redirect was not followed
        assert {r.headers["x-scoreboard-delivery"] for r in got} == {f"{board}:1"}
        assert len({r.body for r in got}) == 1  # every attempt sends the same body
        assert all(_verify(secret, r) for r in got)
        state = wait_for(
            lambda: (d := _delivery(hooks, admin_headers, board))["status"] == "delivered" and d,
            10,
            "the delivery to show as delivered",
        )
        assert state["attempts"] == 4
        metrics = hooks.get("/metrics").text
        assert 'scoreboard_webhook_deliveries_total{outcome="retry"}' in metrics
        assert 'scoreboard_webhook_deliveries_total{outcome="delivered"}' in metrics
    finally:
        receiver.stop()


def test_a_receiver_that_is_down_at_first_gets_the_delivery(
    hooks: httpx.Client, admin_headers: dict[str, str]
) -> None:
    receiver = Receiver()  # not listening yet
    board, secret = _board(hooks, admin_headers, receiver.url)
    assert _reset(hooks, admin_headers, board, 2) is True
    pending = wait_for(
        lambda: (d := _delivery(hooks, admin_headers, board)).get("attempts", 0) >= 2 and d,
        15,
        "two failed attempts while the receiver is down",
    )
    assert pending["status"] == "pending"
    assert "ConnectError" in pending["last_error"]
    assert pending["next_attempt_at"] is not None
    receiver.start()
    try:
        (got,) = wait_for(receiver.received, 15, "the delivery once the receiver is up")
        assert _verify(secret, got)
        wait_for(
            lambda: _delivery(hooks, admin_headers, board)["status"] == "delivered",
            10,
            "the delivery to show as delivered",
        )
    finally:
        receiver.stop()


def test_delivered_by_a_new_api_process_after_a_crash(
    start_api: Any,
    postgres: PostgresServer,
    base_env: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    receiver = Receiver()  # down while the first api runs
    with migrated_database(postgres, base_env, "sb_hooks") as url:
        try:
            first = start_api(DATABASE_URL=url, **FAST)
            with httpx.Client(base_url=first.url, timeout=15.0) as http:
                board, secret = _board(http, admin_headers, receiver.url)
                assert _reset(http, admin_headers, board, 2) is True
                wait_for(
                    lambda: _delivery(http, admin_headers, board).get("attempts", 0) >= 1,
                    15,
                    "a failed attempt",
                )
            first.kill()  # the row is pending; no api process runs on this database now
            receiver.start()
            second = start_api(DATABASE_URL=url, **FAST)
            (got,) = wait_for(receiver.received, 30, "the delivery from the new api process")
            assert got.headers["x-scoreboard-delivery"] == f"{board}:1"
            assert _verify(secret, got)
            with httpx.Client(base_url=second.url, timeout=15.0) as http:
                wait_for(
                    lambda: _delivery(http, admin_headers, board)["status"] == "delivered",
                    10,
                    "the delivery to show as delivered",
                )
            second.stop()
        finally:
            receiver.stop()


def test_webhook_target_is_validated(hooks: httpx.Client, admin_headers: dict[str, str]) -> None:
    name = new_board_name("hook")
    cases: list[dict[str, Any]] = [
        {"webhookTarget": {"url": "ftp://x.example/", "secret": "s" * 32}},
        {"webhookTarget": {"url": "https://x.example/", "secret": "short"}},
        {
            "webhook": {"url": "https://a.example/", "secretRef": {"name": "h", "key": "k"}},
            "webhookTarget": {"url": "https://b.example/", "secret": "s" * 32},
        },
        {"webhook": {"url": "https://a.example/"}},
    ]
    for body in cases:
        response = put_board(hooks, admin_headers, name, **body)
        assert response.status_code == 400, (body, response.text)
        assert "s" * 32 not in response.text
    # Without a target (or after removing it) a reset queues nothing.
    assert put_board(hooks, admin_headers, name).status_code == 200
    assert _reset(hooks, admin_headers, name, 2) is True
    stats = hooks.get(f"/api/v1/admin/leaderboards/{name}/stats", headers=admin_headers).json()
    assert stats["webhook"] is None
