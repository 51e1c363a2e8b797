"""Seed 000's frontend: Bearer JWT, `POST /api/scores/update {action_id, score_increment,
timestamp}`, `GET /api/scores/leaderboard`, live top 10 over a WebSocket."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.support.feeds import Feed
from tests.support.seeds import PASSWORD, fresh_default, register


def _login(http: httpx.Client, username: str) -> dict[str, str]:
    tokens = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


async def test_seed000_frontend(http: httpx.Client, admin: dict[str, str], ws_base: str) -> None:
    fresh_default(http, admin)
    alice, bob = register(http), register(http)
    alice_auth, bob_auth = _login(http, alice.username), _login(http, bob.username)
    feed = await Feed.open(f"{ws_base}/ws/v1/leaderboards/default")
    try:
        await feed.wait_for(lambda m: m.get("type") == "snapshot")
        body = {
            "action_id": f"a-{alice.user_id}",
            "score_increment": 7,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        first = http.post("/api/scores/update", json=body, headers=alice_auth)
        assert first.status_code == 200, first.text
        assert first.json() == {
            "success": True,
            "user_id": alice.user_id,
            "new_total_score": 7,
            "leaderboard_position": 1,
        }
        # The same action again: the original result (the seed said 403; never counted twice).
        again = http.post("/api/scores/update", json=body, headers=alice_auth)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        bob_body = {**body, "action_id": f"b-{bob.user_id}", "score_increment": 9}
        second = http.post("/api/scores/update", json=bob_body, headers=bob_auth)
        assert second.json()["leaderboard_position"] == 1
        assert second.json()["new_total_score"] == 9

        pushed = await feed.wait_for(
            lambda m: m.get("type") == "snapshot" and len(m["entries"]) == 2
        )
        assert [(e["user_id"], e["score"]) for e in pushed["entries"]] == [
            (bob.user_id, 9),
            (alice.user_id, 7),
        ]
    finally:
        await feed.close()

    board = http.get("/api/scores/leaderboard")  # the token is optional
    assert board.status_code == 200, board.text
    document = board.json()
    assert set(document) == {"leaderboard", "total_players", "last_refresh"}
    assert document["total_players"] == 2
    datetime.fromisoformat(document["last_refresh"])
    top = document["leaderboard"]
    # every field the seed names (entries also carry the v1 `metadata`, which it ignores)
    assert all({"rank", "user_id", "username", "score", "last_updated"} <= set(e) for e in top)
    assert len(top) == 2
    assert [(e["rank"], e["user_id"], e["username"], e["score"]) for e in top] == [
        (1, bob.user_id, bob.username, 9),
        (2, alice.user_id, alice.username, 7),
    ]
    for entry in top:
        datetime.fromisoformat(entry["last_updated"])


def test_seed000_refusals_are_problem_details(http: httpx.Client, admin: dict[str, str]) -> None:
    fresh_default(http, admin)
    body = {"action_id": "x-1", "score_increment": 1, "timestamp": datetime.now(UTC).isoformat()}
    anonymous = http.post("/api/scores/update", json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    alice = register(http)
    auth = _login(http, alice.username)
    conflict = http.post("/api/scores/update", json=body, headers=auth)
    assert conflict.status_code == 200
    changed = http.post("/api/scores/update", json={**body, "score_increment": 2}, headers=auth)
    assert changed.status_code == 409
    assert changed.json()["code"] == "action_conflict"
