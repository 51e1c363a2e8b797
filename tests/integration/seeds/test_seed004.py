"""Seed 004's frontend: `POST /api/scores/update {userId, scoreIncrement}` answered
`{status, message, newScore}` with `X-RateLimit-Remaining`, `GET /api/scores/top` and
`WS /scores/live?token=<JWT>` sending `{event: "scoresUpdate", topScores: [{userId, score,
rank}]}`."""

from __future__ import annotations

import httpx

from tests.support.feeds import Feed
from tests.support.seeds import PASSWORD, fresh_default, register


def _token(http: httpx.Client, username: str) -> str:
    answer = http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def test_seed004_frontend(http: httpx.Client, admin: dict[str, str], ws_base: str) -> None:
    fresh_default(
        http,
        admin,
        rateLimit={
            "perUser": {"limit": 3, "windowSeconds": 3600},
            "perIP": {"limit": 100000, "windowSeconds": 60},
        },
    )
    alice, bob = register(http), register(http)
    alice_token, bob_token = _token(http, alice.username), _token(http, bob.username)
    feed = await Feed.open(f"{ws_base}/scores/live?token={alice_token}")
    try:
        await feed.wait_for(lambda m: m.get("event") == "scoresUpdate")
        auth = {"Authorization": f"Bearer {alice_token}"}
        answer = http.post(
            "/api/scores/update", json={"userId": alice.user_id, "scoreIncrement": 4}, headers=auth
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": "success", "message": "Score updated", "newScore": 4}
        assert answer.headers["X-RateLimit-Remaining"] == "2"
        retry = {**auth, "Idempotency-Key": f"k-{alice.user_id}"}
        body = {"userId": alice.user_id, "scoreIncrement": 3}
        assert http.post("/api/scores/update", json=body, headers=retry).json()["newScore"] == 7
        again = http.post("/api/scores/update", json=body, headers=retry)
        assert again.json()["newScore"] == 7  # a retry counts once
        assert "X-RateLimit-Remaining" in again.headers
        limited = http.post(
            "/api/scores/update", json={"userId": alice.user_id, "scoreIncrement": 1}, headers=auth
        )
        assert limited.status_code == 429
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        bob_auth = {"Authorization": f"Bearer {bob_token}"}
        http.post(
            "/api/scores/update",
            json={"userId": bob.user_id, "scoreIncrement": 9},
            headers=bob_auth,
        )
        pushed = await feed.wait_for(
            lambda m: m.get("topScores")
            == [
                {"userId": bob.user_id, "score": 9, "rank": 1},
                {"userId": alice.user_id, "score": 7, "rank": 2},
            ]
        )
        assert set(pushed) == {"event", "topScores"} and pushed["event"] == "scoresUpdate"
        # Receive-only: a message from the client closes the feed.
        await feed.connection.send("hello")
        assert (await feed.wait_closed())[0] == 1008
    finally:
        await feed.close()
    invalid = http.post(
        "/api/scores/update",
        json={"userId": bob.user_id, "scoreIncrement": -1},
        headers={"Authorization": f"Bearer {bob_token}"},
    )
    assert invalid.status_code == 400
    other = http.post(
        "/api/scores/update",
        json={"userId": alice.user_id, "scoreIncrement": 1},
        headers={"Authorization": f"Bearer {bob_token}"},
    )
    assert other.status_code == 403
    top = http.get("/api/scores/top")
    assert top.status_code == 200
    assert [(e["user_id"], e["score"], e["rank"]) for e in top.json()["entries"]] == [
        (bob.user_id, 9, 1),
        (alice.user_id, 7, 2),
    ]
