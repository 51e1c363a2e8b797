"""Redis side of a board's standings: the one place that reads and writes the sorted set.

The api writes absolute totals here after each PostgreSQL commit and rebuilds from PostgreSQL;
the realtime service only reads snapshots. Both use the same code, so a snapshot pushed over a
WebSocket equals what ``GET /top`` returns for the same version.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, cast

import msgspec
from redis.asyncio import Redis

from scoreboard_common.keys import BoardKeys
from scoreboard_common.ranking import (
    decode_member,
    decode_score,
    encode_member,
    encode_score,
    from_micros,
)

# KEYS: rank, member, names, version. ARGV: user_id, member, negated total, username, version seed.
# Refuses to move a total backwards so a late, stale write cannot overwrite a newer one.
_APPLY_TOTAL = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  local current = redis.call('ZSCORE', KEYS[1], old)
  if current and tonumber(current) <= tonumber(ARGV[3]) then
    return {0, tonumber(redis.call('GET', KEYS[4]) or '0'), redis.call('ZRANK', KEYS[1], old)}
  end
  redis.call('ZREM', KEYS[1], old)
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
local version
if redis.call('EXISTS', KEYS[4]) == 1 then
  version = redis.call('INCR', KEYS[4])
else
  redis.call('SET', KEYS[4], ARGV[5])
  version = tonumber(ARGV[5])
end
return {1, version, redis.call('ZRANK', KEYS[1], ARGV[2])}
"""

# The same, then PUBLISH the event (ARGV 6: channel, 7-9: template around version and rank) and
# count the update (KEYS 5: a counter hash, ARGV 10: its field, ARGV 11: its TTL) in one trip.
_APPLY_AND_PUBLISH = _APPLY_TOTAL.replace(
    "return {1, version, redis.call('ZRANK', KEYS[1], ARGV[2])}",
    """local rank = redis.call('ZRANK', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[6], ARGV[7] .. string.format('%d', version) .. ARGV[8]
  .. string.format('%d', rank + 1) .. ARGV[9])
redis.call('HINCRBY', KEYS[5], ARGV[10], 1)
redis.call('EXPIRE', KEYS[5], ARGV[11])
return {1, version, rank}""",
)
assert _APPLY_AND_PUBLISH != _APPLY_TOTAL

# KEYS: rank, member, names, version. ARGV: user_id, version seed.
_REMOVE_PLAYER = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
redis.call('ZREM', KEYS[1], old)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.call('INCR', KEYS[4])
end
redis.call('SET', KEYS[4], ARGV[2])
return tonumber(ARGV[2])
"""


# KEYS: rank, member. ARGV: user_id. One round trip, atomic, and cluster-safe.
_STANDING_OF = """
local member = redis.call('HGET', KEYS[2], ARGV[1])
if not member then return nil end
local rank = redis.call('ZRANK', KEYS[1], member)
if not rank then return nil end
return {rank, redis.call('ZSCORE', KEYS[1], member)}
"""


# KEYS: rank, names, version, season. ARGV: limit.
# The top N with scores, the player count, version, season and the N names: one round trip,
# atomic (names always match the ranked members), and a single slot on Redis Cluster.
_TOP = """
local ranked = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local names = {}
for i = 1, #ranked, 2 do
  local member = ranked[i]
  local name = redis.call('HGET', KEYS[2], string.sub(member, string.find(member, ':', 1, true) + 1))
  names[#names + 1] = name or ''
end
return {ranked, redis.call('ZCARD', KEYS[1]), redis.call('GET', KEYS[3]) or '0',
  redis.call('GET', KEYS[4]) or '1', names}
"""


def version_seed() -> int:
    """A version to start from when the counter is missing: the clock, so versions only grow."""
    return int(time.time() * 1000) * 1000


class Entry(msgspec.Struct, kw_only=True):
    """One row of a board's standings: the one entry type of every response and message
    (``GET /top``, around, seasons, the seed routes, the live feed's snapshots).

    A field added here reaches all of them, and realtime's "did the top N change" signature
    (it encodes whole entries)."""

    rank: int
    user_id: str
    username: str
    score: int
    last_updated: datetime


def entry_from_member(rank: int, member: bytes | str, score: float, name: Any) -> Entry:
    """An entry from a sorted-set member, its score and the player's name from the names hash."""
    micros, user_id = decode_member(member)
    return Entry(
        rank=rank,
        user_id=user_id,
        username=name.decode() if isinstance(name, bytes) else str(name or user_id),
        score=decode_score(float(score)),
        last_updated=from_micros(micros),
    )


class Standing(msgspec.Struct, kw_only=True):
    """A total to place on the board (from a commit, or from PostgreSQL during a rebuild)."""

    user_id: str
    username: str
    total: int
    reached_at: datetime

    def entry(self, rank: int) -> Entry:
        return Entry(
            rank=rank,
            user_id=self.user_id,
            username=self.username,
            score=self.total,
            last_updated=self.reached_at,
        )


class ApplyResult(msgspec.Struct, kw_only=True):
    changed: bool
    version: int
    rank: int | None  # 1-based


class TopSnapshot(msgspec.Struct, kw_only=True):
    leaderboard: str
    season: int
    version: int
    total_players: int
    entries: list[Entry]


class BoardStore:
    """Reads and writes one Redis (or Redis Cluster) instance's board standings."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._apply = redis.register_script(_APPLY_TOTAL)
        self._remove = redis.register_script(_REMOVE_PLAYER)
        self._apply_publish = redis.register_script(_APPLY_AND_PUBLISH)
        self._standing = redis.register_script(_STANDING_OF)
        self._top = redis.register_script(_TOP)

    async def apply_total(self, board: str, standing: Standing) -> ApplyResult:
        keys = BoardKeys(board)
        member = encode_member(standing.reached_at, standing.user_id)
        changed, version, rank = await self._apply(
            keys=[keys.rank, keys.member, keys.names, keys.version],
            args=[
                standing.user_id,
                member,
                encode_score(standing.total),
                standing.username,
                version_seed(),
            ],
        )
        return ApplyResult(
            changed=bool(changed),
            version=int(version),
            rank=None if rank is None else int(rank) + 1,
        )

    async def apply_total_and_publish(
        self,
        board: str,
        standing: Standing,
        *,
        channel: str,
        template: tuple[bytes, bytes, bytes],
        counter: tuple[str, str, int],
    ) -> ApplyResult:
        """:meth:`apply_total`, then publish the event built from ``template`` (see
        ``events.score_changed_template``) with the new version and rank, and ``HINCRBY`` the
        ``counter`` (key, field, ttl seconds): one round trip. Nothing is published when the
        total was refused as stale."""
        keys = BoardKeys(board)
        member = encode_member(standing.reached_at, standing.user_id)
        counter_key, counter_field, counter_ttl = counter
        changed, version, rank = await self._apply_publish(
            keys=[keys.rank, keys.member, keys.names, keys.version, counter_key],
            args=[
                standing.user_id,
                member,
                encode_score(standing.total),
                standing.username,
                version_seed(),
                channel,
                *template,
                counter_field,
                counter_ttl,
            ],
        )
        return ApplyResult(
            changed=bool(changed),
            version=int(version),
            rank=None if rank is None else int(rank) + 1,
        )

    async def remove_player(self, board: str, user_id: str) -> int:
        keys = BoardKeys(board)
        version = await self._remove(
            keys=[keys.rank, keys.member, keys.names, keys.version], args=[user_id, version_seed()]
        )
        return int(version)

    async def replace_all(self, board: str, season: int, standings: list[Standing]) -> int:
        """Rebuild a board from PostgreSQL's standings in one transaction; returns the version."""
        keys = BoardKeys(board)
        current = await self.redis.get(keys.version)
        version = max(int(current or 0) + 1, version_seed())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*keys.all_standings())
            for chunk_start in range(0, len(standings), 5000):
                chunk = standings[chunk_start : chunk_start + 5000]
                pipe.zadd(
                    keys.rank,
                    {encode_member(s.reached_at, s.user_id): encode_score(s.total) for s in chunk},
                )
                pipe.hset(
                    keys.member,
                    mapping={s.user_id: encode_member(s.reached_at, s.user_id) for s in chunk},
                )
                pipe.hset(keys.names, mapping={s.user_id: s.username for s in chunk})
            pipe.set(keys.season, season)
            pipe.set(keys.version, version)
            await pipe.execute()
        return version

    async def top(self, board: str, limit: int) -> TopSnapshot:
        keys = BoardKeys(board)
        reply = await self._top(
            keys=[keys.rank, keys.names, keys.version, keys.season], args=[limit]
        )
        ranked, total_players, version, season, names = cast(list[Any], reply)
        entries = [
            entry_from_member(position, ranked[index], ranked[index + 1], names[position - 1])
            for position, index in enumerate(range(0, len(ranked), 2), 1)
        ]
        return TopSnapshot(
            leaderboard=board,
            season=int(season or 1),
            version=int(version or 0),
            total_players=int(total_players),
            entries=entries,
        )

    async def standing_of(self, board: str, user_id: str) -> tuple[int, int] | None:
        """``(rank 1-based, score)`` of a player, or None."""
        keys = BoardKeys(board)
        found = await self._standing(keys=[keys.rank, keys.member], args=[user_id])
        if not found:
            return None
        rank, score = found
        return int(rank) + 1, decode_score(float(score))

    async def version(self, board: str) -> int:
        return int(await self.redis.get(BoardKeys(board).version) or 0)
