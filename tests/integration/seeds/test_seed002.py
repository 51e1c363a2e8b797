"""Seed 002's frontend: `POST /users/auth/login {email, password}`, `GET /scores`,
`POST /scores/increment` (+1, optional Idempotency-Key) and `WS /scores/websocket`, all with
`{scores: [{email, score}]}` where `email` is the public username (addresses are never
published)."""

from __future__ import annotations

import httpx

from tests.support.feeds import Feed
from tests.support.seeds import PASSWORD, fresh_default, register


def _login(http: httpx.Client, email: str) -> dict[str, str]:
    answer = http.post("/users/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"accessToken", "refreshToken"}
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


async def test_seed002_frontend(http: httpx.Client, admin: dict[str, str], ws_base: str) -> None:
    fresh_default(http, admin)
    alice, bob = register(http, email=True), register(http, email=True)
    assert alice.email and bob.email
    alice_auth = _login(http, alice.email.upper())  # e-mail addresses match case-insensitively
    bob_auth = _login(http, bob.email)
    feed = await Feed.open(f"{ws_base}/scores/websocket")
    try:
        await feed.wait_for(lambda m: "scores" in m)
        for _ in range(2):
            answer = http.post("/scores/increment", headers=alice_auth)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"message": "Score incremented"}
        retry = {**bob_auth, "Idempotency-Key": f"inc-{bob.user_id}"}
        for _ in range(3):  # one click, retried: one point
            assert http.post("/scores/increment", headers=retry).status_code == 200
        pushed = await feed.wait_for(
            lambda m: m.get("scores")
            == [
                {"email": alice.username, "score": 2},
                {"email": bob.username, "score": 1},
            ]
        )
        assert set(pushed) == {"scores"}
    finally:
        await feed.close()
    scores = http.get("/scores")
    assert scores.status_code == 200, scores.text
    assert scores.json() == {
        "scores": [{"email": alice.username, "score": 2}, {"email": bob.username, "score": 1}]
    }
    # No read publishes an address.
    for text in [scores.text, *(str(m) for m in feed.messages), http.get("/api/scores/top").text]:
        assert alice.email.lower() not in text.lower() and bob.email.lower() not in text.lower()


def test_seed002_refusals(http: httpx.Client, admin: dict[str, str]) -> None:
    fresh_default(http, admin)
    carol = register(http, email=True)
    assert carol.email
    wrong = http.post("/users/auth/login", json={"email": carol.email, "password": "nope-nope"})
    assert wrong.status_code == 401
    assert http.post("/scores/increment").status_code == 401
    taken = http.post(
        "/api/v1/auth/register",
        json={"username": "x" + carol.username, "password": PASSWORD, "email": carol.email.upper()},
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "email_taken"
