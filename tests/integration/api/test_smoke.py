from __future__ import annotations

import httpx

from tests.support.api import User, make_board, submit


def test_write_then_read(client: httpx.Client, admin_headers: dict[str, str], user: User) -> None:
    board = make_board(client, admin_headers)
    first = submit(client, board, user.headers, 5)
    assert first.status_code == 200, first.text
    assert first.json()["new_total_score"] == 5
    assert first.json()["rank"] == 1
    assert first.headers["x-request-id"]
    top = client.get(f"/api/v1/leaderboards/{board}/top")
    assert top.status_code == 200, top.text
    assert top.json()["entries"][0]["score"] == 5
