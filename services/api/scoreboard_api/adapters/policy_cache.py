"""Per-replica cache of every board's policy, bans and disabled users.

Loaded from PostgreSQL at start, reloaded when a ``BoardChanged`` arrives on ``sb:boards``
(admin changes reach every replica within a second) and every ``policy_refresh_seconds`` as a
safety net. Requests never read policies from PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import msgspec
from redis.asyncio import Redis
from scoreboard_common.events import BOARD_CHANNEL, BoardChanged, decode_event
from scoreboard_common.policy import decode_spec
from scoreboard_common.redis_client import raise_if_cancelled
from scoreboard_common.revocation import replace_disabled_users

from scoreboard_api.adapters import pg_boards, pg_identity
from scoreboard_api.adapters.pg_boards import BoardRow
from scoreboard_api.adapters.postgres import Database
from scoreboard_api.adapters.redis_side import CONTROL_CHANNEL
from scoreboard_api.domain.policy import BoardPolicy
from scoreboard_api.domain.signing import SigningKeys

log = logging.getLogger("scoreboard.policy")


def policy_from_row(row: BoardRow, banned: frozenset[str] = frozenset()) -> BoardPolicy:
    return BoardPolicy(
        name=row.name,
        spec=decode_spec(row.spec_json),
        generation=row.generation,
        season=row.season,
        banned=banned,
        signing_keys=SigningKeys.from_json(row.signing_keys_json),
    )


class PolicyCache:
    def __init__(self, db: Database, redis: Redis, refresh_seconds: float) -> None:
        self.db = db
        self.redis = redis
        self.refresh_seconds = refresh_seconds
        self.boards: dict[str, BoardPolicy] = {}
        self.rows: dict[str, BoardRow] = {}
        self.disabled_users: frozenset[str] = frozenset()
        self.loaded = False
        self.loaded_at = 0.0
        self._wake = asyncio.Event()
        # Changes this replica made itself, re-applied on top of a reload that started before
        # them (the reload's snapshot may predate their commit).
        self._local: list[tuple[str, BoardRow | None]] = []
        self._mirrored: frozenset[str] | None = None  # disabled users last written to Redis

    def get(self, board: str) -> BoardPolicy | None:
        return self.boards.get(board)

    def put(self, row: BoardRow) -> BoardPolicy:
        """Apply a change made by this replica at once (others learn it via Pub/Sub)."""
        current = self.boards.get(row.name)
        policy = policy_from_row(row, current.banned if current else frozenset())
        boards = dict(self.boards)
        boards[row.name] = policy
        self.boards = boards
        self.rows = {**self.rows, row.name: row}
        self._local.append((row.name, row))
        return policy

    def drop(self, board: str) -> None:
        self.boards = {k: v for k, v in self.boards.items() if k != board}
        self.rows = {k: v for k, v in self.rows.items() if k != board}
        self._local.append((board, None))

    def ban(self, board: str, user_id: str) -> None:
        current = self.boards.get(board)
        if current is not None:
            updated = msgspec.structs.replace(current, banned=current.banned | {user_id})
            self.boards = {**self.boards, board: updated}

    def disable(self, user_id: str, disabled: bool) -> None:
        if disabled:
            self.disabled_users = self.disabled_users | {user_id}
        else:
            self.disabled_users = self.disabled_users - {user_id}

    async def reload(self) -> None:
        mark = len(self._local)
        rows, bans = await pg_boards.load_boards(self.db)
        disabled = await pg_identity.disabled_users(self.db)
        banned: dict[str, set[str]] = {}
        for board, user_id in bans:
            banned.setdefault(board, set()).add(user_id)
        boards: dict[str, BoardPolicy] = {}
        for row in rows:
            try:
                boards[row.name] = policy_from_row(row, frozenset(banned.get(row.name, ())))
            except msgspec.MsgspecError:
                log.exception("stored policy of board %s is invalid; skipped", row.name)
        by_name = {row.name: row for row in rows}
        for name, local in self._local[mark:]:
            if local is None:
                boards.pop(name, None)
                by_name.pop(name, None)
            elif name not in by_name or by_name[name].generation <= local.generation:
                current = boards.get(name)
                boards[name] = policy_from_row(local, current.banned if current else frozenset())
                by_name[name] = local
        self._local = self._local[mark:]
        self.boards = boards
        self.rows = by_name
        self.disabled_users = frozenset(disabled)
        self.loaded = True
        self.loaded_at = time.monotonic()
        if self.disabled_users != self._mirrored:
            # Realtime reads disabled accounts from Redis; repair it after a missed write.
            try:
                await replace_disabled_users(self.redis, self.disabled_users)
                self._mirrored = self.disabled_users
            except Exception as error:
                log.debug("disabled users not mirrored to Redis: %s", error)

    def request_reload(self) -> None:
        self._wake.set()

    async def run_reloader(self) -> None:
        """Reload periodically, or at once when woken by a notification."""
        while True:
            raise_if_cancelled()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.refresh_seconds)
            self._wake.clear()
            try:
                await self.reload()
            except Exception as error:
                log.warning("policy reload failed: %s", error)
                await asyncio.sleep(0.5)

    async def run_subscriber(self) -> None:
        """Listen on ``sb:boards``; reconnect with backoff while Redis is down."""
        delay = 0.2
        while True:
            raise_if_cancelled()
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(BOARD_CHANNEL, CONTROL_CHANNEL)
                delay = 0.2
                self.request_reload()  # changes may have been missed while disconnected
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    raise_if_cancelled()
                    if message is None or message.get("type") != "message":
                        continue
                    if message.get("channel") in (CONTROL_CHANNEL, CONTROL_CHANNEL.encode()):
                        self.request_reload()
                        continue
                    try:
                        event = decode_event(message["data"])
                    except msgspec.MsgspecError:
                        continue
                    if isinstance(event, BoardChanged):
                        self.request_reload()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.debug("board channel subscriber: %s", error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
