"""Board order/operator, metadata, entries with keyset cursors and players/lookup (issue 14):
each endpoint, its errors, and cursor stability while scores change."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.api import make_board, new_action, now_iso, put_board
from tests.support.boards import entries_page, walk_entries

MAX = 2**53 - 1


def post_score(
    http: httpx.Client, board: str, headers: dict[str, str], user_id: str, **fields: Any
) -> httpx.Response:
    body = {"action_id": new_action(), "timestamp": now_iso(), "user_id": user_id, **fields}
    return http.post(f"/api/v1/leaderboards/{board}/scores", json=body, headers=headers)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def code(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["code"])


@pytest.mark.parametrize("operator", ["best", "latest"])
def test_wrong_fields_per_operator_are_400_with_clear_codes(
    client: httpx.Client,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
    operator: str,
) -> None:
    absolute = make_board(client, admin_headers, operator=operator)
    counting = make_board(client, admin_headers)
    user = str(uuid.uuid4())
    h = service_headers
    assert code(post_score(client, absolute, h, user, score_increment=5)) == (
        "increment_not_allowed"
    )
    assert code(post_score(client, absolute, h, user, score=5, score_increment=5)) == (
        "increment_not_allowed"
    )
    assert code(post_score(client, absolute, h, user, score=5, action="win")) == (
        "increment_not_allowed"
    )
    assert code(post_score(client, absolute, h, user)) == "score_required"
    assert code(post_score(client, absolute, h, user, score=-1)) == "validation_error"
    assert code(post_score(client, absolute, h, user, score=MAX + 1)) == "validation_error"
    assert code(post_score(client, counting, h, user, score=5)) == "score_not_allowed"
    assert code(post_score(client, counting, h, user, score=5, score_increment=5)) == (
        "score_not_allowed"
    )
    # Nothing was written by the refused submissions.
    assert client.get(f"/api/v1/leaderboards/{absolute}/top").json()["total_players"] == 0
    assert ok(post_score(client, absolute, h, user, score=MAX))["new_total_score"] == MAX
    assert ok(post_score(client, absolute, h, user, score=0))["new_total_score"] == (
        0 if operator == "latest" else MAX
    )


def test_board_spec_refuses_actions_on_best_boards(
    client: httpx.Client, admin_headers: dict[str, str]
) -> None:
    response = put_board(
        client, admin_headers, "t-bad-actions", operator="best", scoring={"actions": {"win": 5}}
    )
    assert code(response) == "validation_error"
    assert "scoring.actions only applies to operator increment" in response.json()["detail"]
    assert code(put_board(client, admin_headers, "t-bad-order", order="up")) == "validation_error"


def test_best_keeps_the_better_and_a_worse_score_changes_nothing(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers, operator="best", order="asc")
    racer, other = str(uuid.uuid4()), str(uuid.uuid4())
    first = ok(post_score(client, board, service_headers, racer, score=90, metadata={"lap": 1}))
    assert (first["new_total_score"], first["increment"], first["rank"]) == (90, 90, 1)
    ok(post_score(client, board, service_headers, other, score=80))
    before = client.get(f"/api/v1/leaderboards/{board}/top").json()
    worse = ok(post_score(client, board, service_headers, racer, score=95, metadata={"lap": 2}))
    assert (worse["new_total_score"], worse["increment"], worse["rank"]) == (90, 0, 2)
    after = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert after["version"] == before["version"]  # nothing published, nothing moved
    assert after["entries"] == before["entries"]
    assert after["entries"][1]["metadata"] == {"lap": 1}  # the metadata of the best
    better = ok(post_score(client, board, service_headers, racer, score=70, metadata={"lap": 3}))
    assert (better["new_total_score"], better["increment"], better["rank"]) == (70, -20, 1)
    top = client.get(f"/api/v1/leaderboards/{board}/top").json()
    assert [(e["user_id"], e["score"], e["metadata"]) for e in top["entries"]] == [
        (racer, 70, {"lap": 3}),
        (other, 80, None),
    ]


def test_replays_compare_score_and_metadata(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers, operator="latest")
    user = str(uuid.uuid4())
    body = {
        "action_id": new_action(),
        "timestamp": now_iso(),
        "user_id": user,
        "score": 40,
        "metadata": {"a": [1, 2]},
    }
    url = f"/api/v1/leaderboards/{board}/scores"
    first = ok(client.post(url, json=body, headers=service_headers))
    again = client.post(url, json=body, headers=service_headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert {**ok(again), "replayed": False} == first
    assert code(client.post(url, json={**body, "score": 41}, headers=service_headers), 409) == (
        "action_conflict"
    )
    changed = {**body, "metadata": {"a": [1]}}
    assert code(client.post(url, json=changed, headers=service_headers), 409) == "action_conflict"


def test_metadata_is_returned_everywhere_and_limited_to_1_kib(
    client: httpx.Client,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
    service_token: str,
) -> None:
    board = make_board(client, admin_headers)
    tagged, plain = str(uuid.uuid4()), str(uuid.uuid4())
    meta = {"country": "NO", "level": 3, "tags": ["x"], "nested": {"ok": True}}
    ok(post_score(client, board, service_headers, tagged, score_increment=5, metadata=meta))
    ok(post_score(client, board, service_headers, plain, score_increment=2))
    base = f"/api/v1/leaderboards/{board}"
    expected = [meta, None]
    assert [e["metadata"] for e in client.get(f"{base}/top").json()["entries"]] == expected
    assert [e["metadata"] for e in entries_page(client, board, 10)["entries"]] == expected
    looked = client.post(f"{base}/players/lookup", json={"user_ids": [plain, tagged]}).json()
    assert [e["metadata"] for e in looked["entries"]] == expected
    around = client.get(f"{base}/players/{plain}/around").json()
    assert [e["metadata"] for e in around["entries"]] == expected
    assert client.get(f"{base}/players/{tagged}").json()["metadata"] == meta
    assert client.get(f"{base}/players/{plain}").json()["metadata"] is None
    # The latest accepted submission's metadata wins (none: null).
    ok(post_score(client, board, service_headers, tagged, score_increment=1))
    assert client.get(f"{base}/players/{tagged}").json()["metadata"] is None
    ok(post_score(client, board, service_headers, tagged, score_increment=1, metadata=meta))

    big = {"k": "x" * 1020}
    assert code(
        post_score(client, board, service_headers, plain, score_increment=1, metadata=big)
    ) == ("metadata_too_large")
    for wrong in ([1, 2], "text", 5):
        response = post_score(
            client, board, service_headers, plain, score_increment=1, metadata=wrong
        )
        assert code(response) == "validation_error"

    # Archived seasons keep each standing's metadata.
    reset = client.post(
        f"/api/v1/admin/leaderboards/{board}/reset", json={"season": 2}, headers=admin_headers
    )
    assert reset.status_code == 200, reset.text
    archived = client.get(f"{base}/seasons/1/top").json()
    assert [e["metadata"] for e in archived["entries"]] == expected


def test_entries_and_top_limits_and_bad_cursors(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers)
    base = f"/api/v1/leaderboards/{board}"
    empty = entries_page(client, board, 5)
    assert empty["entries"] == [] and empty["next_cursor"] is None and empty["prev_cursor"] is None
    for limit in (0, 1001, -1):
        assert code(client.get(f"{base}/entries", params={"limit": limit})) == "validation_error"
    assert code(client.get(f"{base}/top", params={"limit": 1001})) == "validation_error"
    assert client.get(f"{base}/top", params={"limit": 1000}).status_code == 200
    for cursor in ("nope", "MXxhfDV8MXx4", "=" * 8):
        response = client.get(f"{base}/entries", params={"cursor": cursor})
        assert code(response) == "invalid_cursor"
    assert code(client.get(f"{base}/entries", params={"cursor": "x" * 201})) == "validation_error"
    assert client.get("/api/v1/leaderboards/t-missing-board/entries").status_code == 404
    # The default page size is 100.
    for _ in range(3):
        ok(post_score(client, board, service_headers, str(uuid.uuid4()), score_increment=1))
    page = entries_page(client, board, 100)
    assert len(client.get(f"{base}/entries").json()["entries"]) == len(page["entries"]) == 3


def test_lookup_returns_ranked_standings_of_up_to_1000_ids(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers, order="asc", operator="best")
    players = [str(uuid.uuid4()) for _ in range(5)]
    for seconds, player in zip((50, 40, 40, 60, 30), players, strict=True):
        ok(post_score(client, board, service_headers, player, score=seconds))
    url = f"/api/v1/leaderboards/{board}/players/lookup"
    friends = [players[3], players[1], str(uuid.uuid4()), players[2], players[1]]
    body = ok(client.post(url, json={"user_ids": friends}))
    assert body["leaderboard"] == board and body["season"] == 1 and body["version"] > 0
    # Global ranks: 30 (p4) is 1st, then the tie at 40 by who reached it first: p1, p2.
    assert [(e["rank"], e["user_id"], e["score"]) for e in body["entries"]] == [
        (2, players[1], 40),
        (3, players[2], 40),
        (5, players[3], 60),
    ]
    many = [*players, *(str(uuid.uuid4()) for _ in range(995))]
    assert len(ok(client.post(url, json={"user_ids": many}))["entries"]) == 5
    assert code(client.post(url, json={"user_ids": [*many, str(uuid.uuid4())]})) == (
        "validation_error"
    )
    assert code(client.post(url, json={"user_ids": []})) == "validation_error"
    assert code(client.post(url, json={"user_ids": ["not-a-uuid"]})) == "validation_error"
    assert code(client.post(url, json={"user_ids": players, "extra": 1})) == "validation_error"


def test_cursor_paging_is_stable_while_scores_change(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    """Walk the board forward and back while other players' scores change between pages: every
    player whose standing did not change is seen exactly once in each direction."""
    board = make_board(client, admin_headers, scoring={"maxIncrement": 100_000})
    steady = [str(uuid.uuid4()) for _ in range(12)]
    movers = [str(uuid.uuid4()) for _ in range(6)]
    for index, player in enumerate(steady + movers):
        ok(post_score(client, board, service_headers, player, score_increment=10 + index * 10))
    seen: list[str] = []
    page = entries_page(client, board, 3)
    turn = 0
    while True:
        seen += [e["user_id"] for e in page["entries"]]
        # Between pages: a mover jumps to the top, another one climbs past the cursor.
        mover = movers[turn % len(movers)]
        ok(post_score(client, board, service_headers, mover, score_increment=1000 + turn))
        turn += 1
        if page["next_cursor"] is None:
            break
        page = entries_page(client, board, 3, page["next_cursor"])
    assert sorted(p for p in seen if p in steady) == sorted(steady)
    assert len([p for p in seen if p in steady]) == len(steady)  # no repeats
    back: list[str] = []
    while True:
        back += [e["user_id"] for e in page["entries"]]
        ok(
            post_score(
                client, board, service_headers, movers[turn % len(movers)], score_increment=1
            )
        )
        turn += 1
        if page["prev_cursor"] is None:
            break
        page = entries_page(client, board, 3, page["prev_cursor"])
    steady_back = [p for p in back if p in steady]
    assert sorted(steady_back) == sorted(steady) and len(steady_back) == len(steady)
    # Without changes, forward and back give the whole board in rank order.
    forward, backward = walk_entries(client, board, 4)
    top = client.get(f"/api/v1/leaderboards/{board}/top", params={"limit": 1000}).json()
    assert forward == backward == top["entries"]
    assert [e["rank"] for e in forward] == list(range(1, len(steady) + len(movers) + 1))


def test_changing_order_or_operator_needs_an_empty_season(
    client: httpx.Client, admin_headers: dict[str, str], service_headers: dict[str, str]
) -> None:
    board = make_board(client, admin_headers)
    assert put_board(client, admin_headers, board, 2, order="asc").status_code == 200
    assert put_board(client, admin_headers, board, 3, order="desc").status_code == 200
    ok(post_score(client, board, service_headers, str(uuid.uuid4()), score_increment=3))
    refused = put_board(client, admin_headers, board, 4, operator="best")
    assert code(refused, 409) == "scoring_change_requires_reset"
    assert "reset the season first" in refused.json()["detail"]
    detail = client.get(f"/api/v1/leaderboards/{board}").json()
    assert detail["generation"] == 3 and detail["policy"]["operator"] == "increment"
    # Other fields still change freely.
    assert put_board(client, admin_headers, board, 4, size=20).status_code == 200
    reset = client.post(
        f"/api/v1/admin/leaderboards/{board}/reset", json={"season": 2}, headers=admin_headers
    )
    assert reset.status_code == 200, reset.text
    assert (
        put_board(client, admin_headers, board, 5, operator="best", order="asc").status_code == 200
    )
    policy = client.get(f"/api/v1/leaderboards/{board}").json()["policy"]
    assert (policy["order"], policy["operator"]) == ("asc", "best")
