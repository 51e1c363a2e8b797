"""Seed 001's frontend: `POST /api/score` (the v1 submission), `GET /api/score-board` (the v1
top) and the live feed on `/ws/score`."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.support.feeds import Feed
from tests.support.seeds import PASSWORD, fresh_default, register


async def test_seed001_frontend(http: httpx.Client, admin: dict[str, str], ws_base: str) -> None:
    fresh_default(http, admin)
    player = register(http)
    tokens = http.post(
        "/api/v1/auth/login", json={"username": player.username, "password": PASSWORD}
    ).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    feed = await Feed.open(f"{ws_base}/ws/score")
    try:
        first = await feed.wait_for(lambda m: m.get("type") == "snapshot")
        assert first["leaderboard"] == "default"
        body = {
            "action_id": f"s001-{player.user_id}",
            "score_increment": 5,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        answer = http.post("/api/score", json=body, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "leaderboard": "default",
            "user_id": player.user_id,
            "action_id": body["action_id"],
            "increment": 5,
            "new_total_score": 5,
            "rank": 1,
            "replayed": False,
        }
        pushed = await feed.wait_for(
            lambda m: m.get("type") == "snapshot" and len(m["entries"]) == 1
        )
        assert pushed["entries"][0]["user_id"] == player.user_id
        assert pushed["entries"][0]["score"] == 5
    finally:
        await feed.close()
    board = http.get("/api/score-board")
    assert board.status_code == 200, board.text
    top = board.json()
    assert {"leaderboard", "season", "version", "generated_at", "total_players", "entries"} <= set(
        top
    )
    assert top["entries"][0]["username"] == player.username
    assert top["entries"][0]["score"] == 5
    assert http.post("/api/score", json=body).status_code == 401
