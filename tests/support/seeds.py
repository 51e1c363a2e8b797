"""Helpers of the seed-compatibility tests: a fresh `default` board, accounts, signatures and
a WebSocket client that keeps what it receives."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

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


class LiveFeed:
    """A real WebSocket client (the ``websockets`` library) that keeps every message."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.messages: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self.closed = False
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, **options: Any) -> LiveFeed:
        return cls(await websockets.connect(url, open_timeout=5, **options))

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.connection:
                self.messages.append(json.loads(raw))
                self._new.set()
        self.closed = True
        self._new.set()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for message in self.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.messages)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self.closed:
                raise AssertionError(f"no matching message; last: {self.messages[-3:]}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def wait_closed(self, timeout: float = 10.0) -> int | None:
        """The close code the server sent."""
        await asyncio.wait_for(asyncio.shield(self._task), timeout)
        received = self.connection.protocol.close_rcvd
        return received.code if received else None

    async def close(self) -> None:
        await self.connection.close()
        await self._task
