"""Helpers of the seed-compatibility tests: a fresh `default` board, accounts, signatures and
a WebSocket client that keeps what it receives."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "seed-frontend-password-7"


def fresh_default(http: httpx.Client, admin: dict[str, str], **spec: Any) -> dict[str, Any]:
    """(Re)define the board `default` with ``spec`` (open limits unless given) and start a new,
    empty season, so a test sees only its own players. Waits until the api serves it."""
    body: dict[str, Any] = {
        "size": 10,
        "writers": ["users", "services"],
        "rateLimit": {
            "perUser": {"limit": 100000, "windowSeconds": 60},
            "perIP": {"limit": 100000, "windowSeconds": 60},
        },
        "fraud": {"maxPointsPerMinute": 10**12, "burstCount": 10000, "onViolation": "flag"},
        **spec,
        "generation": time.time_ns() // 1000,
    }
    put = http.put("/api/v1/admin/leaderboards/default", json=body, headers=admin)
    assert put.status_code == 200, put.text
    season = put.json()["season"] + 1
    reset = http.post(
        "/api/v1/admin/leaderboards/default/reset", json={"season": season}, headers=admin
    )
    assert reset.status_code == 200, reset.text
    state: dict[str, Any] = reset.json()
    return state


@dataclass
class Account:
    user_id: str
    username: str
    email: str | None
    password: str = PASSWORD


def register(http: httpx.Client, *, email: bool = False) -> Account:
    username = f"s{secrets.token_hex(5)}"
    address = f"{username}.Mail@Example.test" if email else None
    body: dict[str, Any] = {"username": username, "password": PASSWORD}
    if address:
        body["email"] = address
    created = http.post("/api/v1/auth/register", json=body)
    assert created.status_code == 201, created.text
    assert "email" not in created.json()  # never published, not even back to its owner
    return Account(created.json()["user_id"], username, address)


def hmac_b64url(key: str, message: bytes) -> str:
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
