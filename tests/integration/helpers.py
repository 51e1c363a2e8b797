"""Async set-up shared by integration tests that drive a running api over HTTP."""

from __future__ import annotations

import secrets

import httpx

PASSWORD = "correct-horse-battery-staple-7"


async def board_and_player(
    http: httpx.AsyncClient, admin_token: str, prefix: str
) -> tuple[str, str, str]:
    """Create a board (size 5) with the admin token and a signed-in player; return
    ``(board, username, access_token)``."""
    board = f"{prefix}-{secrets.token_hex(4)}"
    created = await http.put(
        f"/api/v1/admin/leaderboards/{board}",
        json={"displayName": board, "size": 5, "generation": 1},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert created.status_code == 200, created.text
    username = f"{prefix[0]}{secrets.token_hex(4)}"
    registered = await http.post(
        "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    login = await http.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return board, username, str(login.json()["access_token"])
