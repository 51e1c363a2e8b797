"""Revoked sessions and disabled accounts, shared by the api and realtime through Redis.

The api writes: a logout (or a reused refresh token) revokes its session, the refresh-token
family whose id every access token of that session carries as ``sid``; an admin disabling an
account adds it to the disabled set. Every api and realtime replica reloads both every
``REVOCATION_REFRESH_SECONDS`` (1 s by default) into a local :class:`RevocationList`, so a
request is checked against it without a round trip and a revocation takes effect everywhere
within that period. Realtime closes open sockets it no longer authorises.

Keys (one slot each, so Redis Cluster is fine): ``sb:auth:disabled`` (set of user ids) and
``sb:auth:revoked`` (sorted set of session ids scored by when their last access token expires;
entries are dropped after that, the set stays as small as the logouts of one token lifetime).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from redis.asyncio import Redis

from scoreboard_common.redis_client import raise_if_cancelled

DISABLED_USERS_KEY = "sb:auth:disabled"
REVOKED_SESSIONS_KEY = "sb:auth:revoked"
log = logging.getLogger("scoreboard.revocation")


async def revoke_session(redis: Redis, session_id: str, until: float) -> None:
    """Revoke every access token carrying ``sid = session_id`` (until ``until``, epoch s)."""
    await cast(Any, redis.zadd(REVOKED_SESSIONS_KEY, {session_id: until}))
    await cast(Any, redis.zremrangebyscore(REVOKED_SESSIONS_KEY, "-inf", time.time()))


async def set_user_disabled(redis: Redis, user_id: str, disabled: bool) -> None:
    if disabled:
        await cast(Any, redis.sadd(DISABLED_USERS_KEY, user_id))
    else:
        await cast(Any, redis.srem(DISABLED_USERS_KEY, user_id))


async def replace_disabled_users(redis: Redis, user_ids: Iterable[str]) -> None:
    """Make the shared set exactly ``user_ids`` (the api's database is the source of truth),
    adding before removing so a still-disabled account never drops out in between."""
    wanted = set(user_ids)
    current = {_text(m) for m in await cast(Any, redis.smembers(DISABLED_USERS_KEY))}
    if wanted - current:
        await cast(Any, redis.sadd(DISABLED_USERS_KEY, *(wanted - current)))
    if current - wanted:
        await cast(Any, redis.srem(DISABLED_USERS_KEY, *(current - wanted)))


class RevocationList:
    """This replica's copy of the revoked sessions and disabled accounts."""

    def __init__(self) -> None:
        self.disabled: frozenset[str] = frozenset()
        self.sessions: dict[str, float] = {}
        self.loaded_at = 0.0

    def user_disabled(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in self.disabled

    def session_revoked(self, session_id: str | None) -> bool:
        if session_id is None:
            return False
        until = self.sessions.get(session_id)
        return until is not None and until > time.time()

    def revoke_locally(self, session_id: str, until: float) -> None:
        """Apply a revocation this replica made at once (the others reload it)."""
        self.sessions = {**self.sessions, session_id: until}

    async def reload(self, redis: Redis) -> None:
        now = time.time()
        async with redis.pipeline(transaction=False) as pipe:
            pipe.smembers(DISABLED_USERS_KEY)
            pipe.zrangebyscore(REVOKED_SESSIONS_KEY, now, "+inf", withscores=True)
            disabled, revoked = await pipe.execute()
        self.disabled = frozenset(_text(member) for member in disabled)
        sessions = {_text(member): float(score) for member, score in revoked}
        # Keep local revocations that the reload may predate.
        for session_id, until in self.sessions.items():
            if until > now and session_id not in sessions:
                sessions[session_id] = until
        self.sessions = sessions
        self.loaded_at = time.monotonic()

    async def run(
        self, redis: Redis, interval: float, after_reload: Callable[[], object] | None = None
    ) -> None:
        """Reload every ``interval`` seconds (then call ``after_reload``); keep the last copy
        while Redis is unreachable."""
        while True:
            raise_if_cancelled()
            try:
                await self.reload(redis)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.debug("revocation reload failed: %s", error)
            if after_reload is not None:
                try:
                    after_reload()
                except Exception:
                    log.exception("after revocation reload")
            await asyncio.sleep(interval)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
