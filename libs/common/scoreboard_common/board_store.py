"""Redis side of a board's standings: the one place that reads and writes the sorted set.

The api writes absolute totals here after each PostgreSQL commit and rebuilds from PostgreSQL;
the realtime service only reads snapshots. Both use the same code, so a snapshot pushed over a
WebSocket equals what ``GET /top`` returns for the same version.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, cast

import msgspec
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from scoreboard_common.keys import BoardKeys
from scoreboard_common.ranking import (
    GuardMode,
    Order,
    decode_member,
    decode_score,
    encode_member,
    encode_score,
    from_micros,
)

#: Runs a script call: ``run(script, keys, args)``.
ScriptRunner = Callable[[AsyncScript, list[Any], list[Any]], Awaitable[Any]]

# KEYS: rank, member, names, version, meta, revision[, counter hash].
# ARGV: user_id, member, rank key (the sorted-set score), username, version seed, guard mode,
#       revision, metadata JSON ('' = none)[, channel, the event template around version and
#       rank (3 parts), counter field (the number of the current period, e.g. the minute),
#       counter TTL].
# With the optional arguments (the api's write path) the applied total is also published and
# counted in the same trip; nothing is published when the write is refused as stale.
# Refuses a late, stale write so it cannot overwrite a newer one (ranking.GuardMode): ``grow``
# needs a larger total than the stored one, ``shrink`` a smaller one, ``revision`` a newer
# revision. Totals are >= 0, so the total is the absolute value of the rank key.
_APPLY_TOTAL = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  local stale = false
  if ARGV[6] == 'revision' then
    local rev = redis.call('HGET', KEYS[6], ARGV[1])
    stale = rev ~= false and tonumber(rev) >= tonumber(ARGV[7])
  else
    local current = redis.call('ZSCORE', KEYS[1], old)
    if current then
      local have, new = math.abs(tonumber(current)), math.abs(tonumber(ARGV[3]))
      if ARGV[6] == 'shrink' then stale = have <= new else stale = have >= new end
    end
  end
  if stale then
    return {0, tonumber(redis.call('GET', KEYS[4]) or '0'), redis.call('ZRANK', KEYS[1], old)}
  end
  redis.call('ZREM', KEYS[1], old)
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
if ARGV[8] == '' then
  redis.call('HDEL', KEYS[5], ARGV[1])
else
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[8])
end
if ARGV[6] == 'revision' then redis.call('HSET', KEYS[6], ARGV[1], ARGV[7]) end
local version = redis.call('INCR', KEYS[4])
if version == 1 then  -- there was no version: start from the seed (ranking.version_seed)
  redis.call('SET', KEYS[4], ARGV[5])
  version = tonumber(ARGV[5])
end
local rank = redis.call('ZRANK', KEYS[1], ARGV[2])
if ARGV[9] then
  redis.call('PUBLISH', ARGV[9], ARGV[10] .. string.format('%d', version) .. ARGV[11]
    .. string.format('%d', rank + 1) .. ARGV[12])
  if redis.call('HINCRBY', KEYS[7], ARGV[13], 1) == 1 then
    -- A new period: drop the periods no reader looks at and keep the hash (once a period).
    local period = tonumber(ARGV[13])
    redis.call('HDEL', KEYS[7], string.format('%d', period - 2), string.format('%d', period - 3))
    redis.call('EXPIRE', KEYS[7], ARGV[14])
  end
end
return {1, version, rank}
"""

# KEYS: rank, member, names, version, meta, revision. ARGV: user_id, version seed.
_REMOVE_PLAYER = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
redis.call('ZREM', KEYS[1], old)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
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


# KEYS: rank, names, version, season, meta. ARGV: limit.
# The top N with scores, the player count, version, season, the N names and metadata: one round
# trip, atomic (names always match the ranked members), and a single slot on Redis Cluster.
_TOP = """
local ranked = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local names, metas = {}, {}
for i = 1, #ranked, 2 do
  local member = ranked[i]
  local user = string.sub(member, string.find(member, ':', 1, true) + 1)
  names[#names + 1] = redis.call('HGET', KEYS[2], user) or ''
  metas[#metas + 1] = redis.call('HGET', KEYS[5], user) or ''
end
return {ranked, redis.call('ZCARD', KEYS[1]), redis.call('GET', KEYS[3]) or '0',
  redis.call('GET', KEYS[4]) or '1', names, metas}
"""

# KEYS: rank, names, version, season, meta, member.
# ARGV: kind, rank key, member (or user id for 'p'), limit (or radius for 'p').
# One page of the board by keyset, with its start index: kind 'first' (from the top), 'a' (after
# a key), 'A' (at or after), 'b' (before), 'B' (at or before), 'p' (around a player: ARGV[3] is
# the user id, ARGV[4] the radius). A key's position is found by ZCOUNT on its score and a binary
# search among the members of equal score (compared bytewise, as Redis does), so a key whose
# player has moved or left still has its place: keyset, not offset.
_PAGE = """
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function below(score, member, inclusive)
  local lo = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. score)
  local hi = lo + redis.call('ZCOUNT', KEYS[1], score, score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local other = redis.call('ZRANGE', KEYS[1], mid, mid)[1]
    local before
    if inclusive then before = not less(member, other) else before = less(other, member) end
    if before then lo = mid + 1 else hi = mid end
  end
  return lo
end
local kind, count = ARGV[1], tonumber(ARGV[4])
local card = redis.call('ZCARD', KEYS[1])
local start, stop, rank
if kind == 'first' then
  start = 0
  stop = count
elseif kind == 'a' or kind == 'A' then
  start = below(ARGV[2], ARGV[3], kind == 'a')
  stop = start + count
elseif kind == 'b' or kind == 'B' then
  stop = below(ARGV[2], ARGV[3], kind == 'B')
  start = math.max(stop - count, 0)
else
  local member = redis.call('HGET', KEYS[6], ARGV[3])
  if not member then return nil end
  rank = redis.call('ZRANK', KEYS[1], member)
  if not rank then return nil end
  start = math.max(rank - count, 0)
  stop = rank + count + 1
end
if stop > card then stop = card end
local ranked = {}
if stop > start then ranked = redis.call('ZRANGE', KEYS[1], start, stop - 1, 'WITHSCORES') end
local names, metas = {}, {}
for i = 1, #ranked, 2 do
  local member = ranked[i]
  local user = string.sub(member, string.find(member, ':', 1, true) + 1)
  names[#names + 1] = redis.call('HGET', KEYS[2], user) or ''
  metas[#metas + 1] = redis.call('HGET', KEYS[5], user) or ''
end
return {start, ranked, names, metas, card, redis.call('GET', KEYS[3]) or '0',
  redis.call('GET', KEYS[4]) or '1', rank or -1}
"""

# KEYS: rank, member, names, meta, version, season. ARGV: user ids.
# The standings of those of the players who have one: {rank, member, score, name, metadata}.
_LOOKUP = """
local found = {}
for i = 1, #ARGV do
  local member = redis.call('HGET', KEYS[2], ARGV[i])
  if member then
    local rank = redis.call('ZRANK', KEYS[1], member)
    if rank then
      found[#found + 1] = {rank, member, redis.call('ZSCORE', KEYS[1], member),
        redis.call('HGET', KEYS[3], ARGV[i]) or '', redis.call('HGET', KEYS[4], ARGV[i]) or ''}
    end
  end
end
return {found, redis.call('GET', KEYS[5]) or '0', redis.call('GET', KEYS[6]) or '1'}
"""


def version_seed() -> int:
    """A version to start from when the counter is missing: the clock, so versions only grow."""
    return int(time.time() * 1000) * 1000


Metadata = dict[str, Any]
_meta_decoder = msgspec.json.Decoder(dict[str, Any])


def decode_metadata(raw: Any) -> Metadata | None:
    """A standing's metadata from its stored JSON text (``None``/empty: none)."""
    if not raw:
        return None
    return _meta_decoder.decode(raw)


class Entry(msgspec.Struct, kw_only=True):
    """One row of a board's standings: the one entry type of every response and message
    (``GET /top``, entries, lookup, around, player, seasons, the seed routes, the live feed's
    snapshots).

    A field added here reaches all of them, and realtime's "did the top N change" signature
    (it encodes whole entries)."""

    rank: int
    user_id: str
    username: str
    score: int
    last_updated: datetime
    #: The JSON object stored with the standing (the latest accepted submission's; for ``best``
    #: boards the one that set the best), or null.
    metadata: Metadata | None = None


def entry_from_member(
    rank: int, member: bytes | str, score: Any, name: Any, meta: Any = None
) -> Entry:
    """An entry from a sorted-set member, its score, the player's name from the names hash and
    the metadata JSON from the meta hash."""
    micros, user_id = decode_member(member)
    return Entry(
        rank=rank,
        user_id=user_id,
        username=name.decode() if isinstance(name, bytes) else str(name or user_id),
        score=decode_score(float(score)),
        last_updated=from_micros(micros),
        metadata=decode_metadata(meta),
    )


class Standing(msgspec.Struct, kw_only=True):
    """A total to place on the board (from a commit, or from PostgreSQL during a rebuild)."""

    user_id: str
    username: str
    total: int
    reached_at: datetime
    metadata: str | None = None  # JSON text, as PostgreSQL returns it
    revision: int = 0  # µs of the row's updated_at: strictly grows per standing (latest boards)

    def entry(self, rank: int) -> Entry:
        return Entry(
            rank=rank,
            user_id=self.user_id,
            username=self.username,
            score=self.total,
            last_updated=self.reached_at,
            metadata=decode_metadata(self.metadata),
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


#: A position in a board's order: ``(total, reached_at in µs, user_id)``.
PageKey = tuple[int, int, str]
#: ``a``: after the key, ``A``: at or after, ``b``: before, ``B``: at or before.
PageKind = Literal["first", "a", "A", "b", "B"]


class Page(msgspec.Struct, kw_only=True):
    """Consecutive entries of a board: ``entries[0]`` has rank ``start + 1``."""

    start: int
    entries: list[Entry]
    total_players: int
    version: int
    season: int
    rank: int | None = None  # the player's rank (around)


def _entries(start: int, ranked: list[Any], names: list[Any], metas: list[Any]) -> list[Entry]:
    return [
        entry_from_member(
            start + position,
            ranked[index],
            ranked[index + 1],
            names[position - 1],
            metas[position - 1],
        )
        for position, index in enumerate(range(0, len(ranked), 2), 1)
    ]


class BoardStore:
    """Reads and writes one Redis (or Redis Cluster) instance's board standings.

    Writers pass the board's ``order`` (how totals map to sorted-set scores) and ``guard``
    (how a stale write is recognised, ``ranking.guard_mode``); readers need neither."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._apply = redis.register_script(_APPLY_TOTAL)
        self._remove = redis.register_script(_REMOVE_PLAYER)
        self._standing = redis.register_script(_STANDING_OF)
        self._top = redis.register_script(_TOP)
        self._page = redis.register_script(_PAGE)
        self._lookup = redis.register_script(_LOOKUP)

    @staticmethod
    def _apply_args(standing: Standing, order: Order, guard: GuardMode) -> list[str | int]:
        return [
            standing.user_id,
            encode_member(standing.reached_at, standing.user_id),
            encode_score(standing.total, order),
            standing.username,
            version_seed(),
            guard,
            standing.revision,
            standing.metadata or "",
        ]

    @staticmethod
    def _apply_keys(keys: BoardKeys) -> list[str]:
        return [keys.rank, keys.member, keys.names, keys.version, keys.meta, keys.revision]

    async def apply_total(
        self, board: str, standing: Standing, *, order: Order = "desc", guard: GuardMode = "grow"
    ) -> ApplyResult:
        changed, version, rank = await self._apply(
            keys=self._apply_keys(BoardKeys(board)),
            args=self._apply_args(standing, order, guard),
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
        order: Order = "desc",
        guard: GuardMode = "grow",
        run: ScriptRunner | None = None,
    ) -> ApplyResult:
        """:meth:`apply_total`, then publish the event built from ``template`` (see
        ``events.score_changed_template``) with the new version and rank, and ``HINCRBY`` the
        ``counter`` (key, the current period's number as its field, ttl seconds; the periods
        before the last two are dropped): one round trip. Nothing is published when the
        total was refused as stale. ``run`` runs the script call instead of calling it (e.g. the
        api's pipelined batcher)."""
        counter_key, counter_field, counter_ttl = counter
        keys = [*self._apply_keys(BoardKeys(board)), counter_key]
        args: list[Any] = [
            *self._apply_args(standing, order, guard),
            channel,
            *template,
            counter_field,
            counter_ttl,
        ]
        if run is None:
            result = await self._apply(keys=keys, args=args)
        else:
            result = await run(self._apply, keys, args)
        changed, version, rank = result
        return ApplyResult(
            changed=bool(changed),
            version=int(version),
            rank=None if rank is None else int(rank) + 1,
        )

    async def remove_player(self, board: str, user_id: str) -> int:
        keys = BoardKeys(board)
        version = await self._remove(
            keys=[keys.rank, keys.member, keys.names, keys.version, keys.meta, keys.revision],
            args=[user_id, version_seed()],
        )
        return int(version)

    async def replace_all(
        self,
        board: str,
        season: int,
        standings: list[Standing],
        *,
        order: Order = "desc",
        guard: GuardMode = "grow",
    ) -> int:
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
                    {
                        encode_member(s.reached_at, s.user_id): encode_score(s.total, order)
                        for s in chunk
                    },
                )
                pipe.hset(
                    keys.member,
                    mapping={s.user_id: encode_member(s.reached_at, s.user_id) for s in chunk},
                )
                pipe.hset(keys.names, mapping={s.user_id: s.username for s in chunk})
                metas = {s.user_id: s.metadata for s in chunk if s.metadata}
                if metas:
                    pipe.hset(keys.meta, mapping=metas)
                if guard == "revision":
                    pipe.hset(keys.revision, mapping={s.user_id: s.revision for s in chunk})
            pipe.set(keys.season, season)
            pipe.set(keys.version, version)
            await pipe.execute()
        return version

    async def top(self, board: str, limit: int) -> TopSnapshot:
        keys = BoardKeys(board)
        reply = await self._top(
            keys=[keys.rank, keys.names, keys.version, keys.season, keys.meta], args=[limit]
        )
        ranked, total_players, version, season, names, metas = cast(list[Any], reply)
        return TopSnapshot(
            leaderboard=board,
            season=int(season or 1),
            version=int(version or 0),
            total_players=int(total_players),
            entries=_entries(0, ranked, names, metas),
        )

    async def _run_page(self, board: str, args: list[str | int]) -> Page | None:
        keys = BoardKeys(board)
        reply = await self._page(
            keys=[keys.rank, keys.names, keys.version, keys.season, keys.meta, keys.member],
            args=args,
        )
        if reply is None:
            return None
        start, ranked, names, metas, card, version, season, rank = cast(list[Any], reply)
        return Page(
            start=int(start),
            entries=_entries(int(start), ranked, names, metas),
            total_players=int(card),
            version=int(version or 0),
            season=int(season or 1),
            rank=None if int(rank) < 0 else int(rank) + 1,
        )

    async def page(
        self, board: str, kind: PageKind, key: PageKey | None, limit: int, order: Order
    ) -> Page:
        """Up to ``limit`` consecutive entries from (``kind``) the ``key``; ``first`` ignores
        the key. The ``b``/``B`` kinds return the ``limit`` entries just before the key."""
        if kind == "first" or key is None:
            args: list[str | int] = ["first", "", "", limit]
        else:
            total, micros, user_id = key
            args = [kind, encode_score(total, order), f"{micros:016d}:{user_id}", limit]
        found = await self._run_page(board, args)
        assert found is not None
        return found

    async def around(self, board: str, user_id: str, radius: int) -> Page | None:
        """The entries within ``radius`` ranks of a player (``None``: no standing)."""
        return await self._run_page(board, ["p", "", user_id, radius])

    async def lookup(self, board: str, user_ids: list[str]) -> tuple[int, int, list[Entry]]:
        """``(version, season, entries by rank)`` of those of ``user_ids`` with a standing."""
        keys = BoardKeys(board)
        reply = await self._lookup(
            keys=[keys.rank, keys.member, keys.names, keys.meta, keys.version, keys.season],
            args=user_ids,
        )
        found, version, season = cast(list[Any], reply)
        entries = sorted(
            (
                entry_from_member(int(rank) + 1, member, score, name, meta)
                for rank, member, score, name, meta in found
            ),
            key=lambda entry: entry.rank,
        )
        return int(version or 0), int(season or 1), entries

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
