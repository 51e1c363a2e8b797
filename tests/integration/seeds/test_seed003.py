"""Seed 003's frontend: `/api/auth/login|refresh|logout`, signed `POST /api/scores/update
{userId, actionId, timestamp, idempotencyKey, signature}`, `GET /api/scores/leaderboard`,
`GET /api/scores/user/{userId}` and `WS /ws/scoreboard`; plus the request signatures of a
signed board for the v1 header and the seed 003 field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis

from tests.support.feeds import Feed
from tests.support.seeds import (
    PASSWORD,
    canonical,
    fresh_default,
    hmac_b64url,
    register,
)
from tests.support.seeds import (
    hmac_b64url as sign,
)

KEYS = {"k1": "first-key-material-0123456789", "k2": "second-key-material-9876543210"}


def _signed_board(http: httpx.Client, admin: dict[str, str]) -> dict[str, Any]:
    return fresh_default(
        http,
        admin,
        scoring={"maxIncrement": 100, "actions": {"win": 10, "quest": 25}},
        signing={"required": True},
        signingKeys=KEYS,
    )


def _seed003_body(user_id: str, action: str, key: str, key_material: str) -> dict[str, Any]:
    body = {
        "userId": user_id,
        "actionId": action,
        "timestamp": datetime.now(UTC).isoformat(),
        "idempotencyKey": key,
    }
    return {**body, "signature": sign(key_material, canonical(body))}


async def test_seed003_frontend(http: httpx.Client, admin: dict[str, str], ws_base: str) -> None:
    _signed_board(http, admin)
    player = register(http)
    login = http.post("/api/auth/login", json={"username": player.username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    refreshed = http.post(
        "/api/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    tokens = refreshed.json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}", "X-Signature-Key": "k1"}
    feed = await Feed.open(f"{ws_base}/ws/scoreboard")
    try:
        await feed.wait_for(lambda m: m.get("type") == "snapshot")
        body = _seed003_body(player.user_id, "quest", f"i-{player.user_id}", KEYS["k1"])
        answer = http.post("/api/scores/update", content=json.dumps(body), headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "userId": player.user_id,
            "actionId": "quest",
            "idempotencyKey": f"i-{player.user_id}",
            "increment": 25,  # the board's points for the action
            "score": 25,
            "rank": 1,
            "replayed": False,
        }
        again = http.post("/api/scores/update", content=json.dumps(body), headers=auth)
        assert again.json()["replayed"] is True and again.json()["score"] == 25
        pushed = await feed.wait_for(
            lambda m: m.get("type") == "snapshot" and len(m["entries"]) == 1
        )
        assert pushed["entries"][0]["user_id"] == player.user_id
        assert pushed["entries"][0]["score"] == 25
    finally:
        await feed.close()
    entry = http.get(f"/api/scores/user/{player.user_id}")
    assert entry.status_code == 200, entry.text
    document = entry.json()
    assert set(document) == {"userId", "username", "score", "rank", "lastUpdated"}
    assert (document["userId"], document["username"], document["score"], document["rank"]) == (
        player.user_id,
        player.username,
        25,
        1,
    )
    datetime.fromisoformat(document["lastUpdated"])
    board = http.get("/api/scores/leaderboard").json()
    assert board["leaderboard"][0]["user_id"] == player.user_id
    assert board["total_players"] == 1
    logout = http.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert logout.status_code == 204
    reused = http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reused.status_code == 401


def test_seed003_on_a_board_without_per_action_points_earns_one(
    http: httpx.Client, admin: dict[str, str]
) -> None:
    fresh_default(http, admin)  # unsigned, no per-action points
    player = register(http)
    token = http.post(
        "/api/auth/login", json={"username": player.username, "password": PASSWORD}
    ).json()["access_token"]
    body = _seed003_body(player.user_id, "anything", f"o-{player.user_id}", "not-checked")
    answer = http.post(
        "/api/scores/update", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["increment"] == 1


@pytest.fixture
def signed(http: httpx.Client, admin: dict[str, str]) -> tuple[str, str]:
    _signed_board(http, admin)
    player = register(http)
    token = http.post(
        "/api/auth/login", json={"username": player.username, "password": PASSWORD}
    ).json()["access_token"]
    return player.user_id, str(token)


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "bad_signature"


def test_seed003_signatures(http: httpx.Client, signed: tuple[str, str]) -> None:
    user_id, token = signed
    auth = {"Authorization": f"Bearer {token}"}

    def post(body: dict[str, Any], key_id: str | None) -> httpx.Response:
        headers = {**auth, **({"X-Signature-Key": key_id} if key_id else {})}
        return http.post("/api/scores/update", content=json.dumps(body), headers=headers)

    good = _seed003_body(user_id, "win", "g-1", KEYS["k2"])
    assert post(good, "k2").status_code == 200
    missing = dict(_seed003_body(user_id, "win", "m-1", KEYS["k1"]))
    del missing["signature"]
    _refused(post(missing, "k1"))
    _refused(post(_seed003_body(user_id, "win", "n-1", KEYS["k1"]), None))  # no key id
    _refused(post(_seed003_body(user_id, "win", "w-1", "wrong-key"), "k1"))
    replayed = {**_seed003_body(user_id, "win", "r-1", KEYS["k1"]), "actionId": "quest"}
    _refused(post(replayed, "k1"))  # a captured signature on another body
    _refused(post(_seed003_body(user_id, "win", "u-1", KEYS["k1"]), "k9"))


def test_v1_signatures(http: httpx.Client, signed: tuple[str, str]) -> None:
    user_id, token = signed
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def raw(action_id: str) -> bytes:
        body = {"action_id": action_id, "action": "win", "timestamp": datetime.now(UTC).isoformat()}
        return json.dumps(body).encode()

    def post(body: bytes, header: str | None, path: str) -> httpx.Response:
        headers = {**auth, **({"X-Signature": header} if header else {})}
        return http.post(path, content=body, headers=headers)

    for path in ("/api/v1/leaderboards/default/scores", "/api/score"):  # v1 and seed 001
        body = raw(f"v1-{path[-5:]}")
        accepted = post(body, f"keyId=k1,sig={hmac_b64url(KEYS['k1'], body)}", path)
        assert accepted.status_code == 200, accepted.text
        other = raw(f"v1b-{path[-5:]}")
        _refused(post(other, None, path))
        _refused(post(other, f"keyId=k1,sig={hmac_b64url('wrong', other)}", path))
        _refused(post(other, f"keyId=k1,sig={hmac_b64url(KEYS['k1'], body)}", path))
        _refused(post(other, f"keyId=k7,sig={hmac_b64url(KEYS['k1'], other)}", path))
    # Unsigned seed routes cannot bypass a signed board.
    _refused(http.post("/scores/increment", headers=auth))
    _refused(
        http.post("/api/scores/update", json={"userId": user_id, "scoreIncrement": 1}, headers=auth)
    )


def test_keys_are_never_returned_or_published(
    http: httpx.Client, admin: dict[str, str], seed_redis: Any
) -> None:
    state = _signed_board(http, admin)
    texts = [
        json.dumps(state),
        http.put(
            "/api/v1/admin/leaderboards/default",
            json={"signing": {"required": True}, "signingKeys": KEYS, "generation": 1},
            headers=admin,
        ).text,
        http.get("/api/v1/leaderboards/default").text,
        http.get("/api/v1/leaderboards").text,
        http.get("/api/v1/admin/leaderboards/default/stats", headers=admin).text,
        http.get("/schema/openapi.json").text,
    ]
    client = redis.Redis.from_url(seed_redis.url)
    try:
        for key in client.scan_iter("sb:*"):
            if client.type(key) == b"string":
                texts.append(str(client.get(key)))
    finally:
        client.close()
    for text in texts:
        for material in KEYS.values():
            assert material not in text
