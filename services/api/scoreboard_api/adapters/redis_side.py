"""Redis adapter of the api: write guard (rate limits + fraud counters, one Lua call), the
encoded /top cache, policy and season keys, event publishing and the stats counter."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, cast

from opentelemetry import trace
from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from scoreboard_common.events import (
    BOARD_CHANNEL,
    BoardChanged,
    encode_event,
)
from scoreboard_common.keys import BoardKeys
from scoreboard_common.policy import PublicPolicy, encode_public_policy
from scoreboard_common.ranking import to_micros
from scoreboard_common.redis_client import scan_hash_tag

from scoreboard_api.domain.credentials import LoginThrottle
from scoreboard_api.domain.fraud import FraudCounters
from scoreboard_api.domain.ratelimit import Decision, Limit
from scoreboard_api.domain.scoring import Write
from scoreboard_api.metrics import WRITE_BATCH_SIZE

log = logging.getLogger("scoreboard.redis")
CONTROL_CHANNEL = "sb:api:control"  # api replicas only: reload users/bans

# KEYS: user limiter, ip limiter, fraud hash of the user.
# ARGV: user limit, user window s, ip limit, ip window s, check ip (0/1), increment,
#       client timestamp ms, burst window ms.
# GCRA per key; a request refused by one limit consumes neither. When allowed, the increment is
# added to the user's per-minute points and the client timestamp streak is updated.
_GUARD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function gcra(key, limit, window)
  local span = window * 1000
  local interval = span / limit
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  if new_tat - now > span then
    local retry = math.ceil((new_tat - span - now) / 1000)
    if retry < 1 then retry = 1 end
    return {0, 0, math.ceil((tat - now) / 1000), retry, tat}
  end
  return {1, math.floor((span - (new_tat - now)) / interval), math.ceil((new_tat - now) / 1000), 0, new_tat}
end
local u = gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
local i = {1, 0, 0, 0, 0}
local check_ip = ARGV[5] == '1'
if check_ip then i = gcra(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4])) end
local allowed = u[1] == 1 and i[1] == 1
if allowed then
  redis.call('SET', KEYS[1], string.format('%d', u[5]), 'PX', tonumber(ARGV[2]) * 1000 + 1000)
  if check_ip then
    redis.call('SET', KEYS[2], string.format('%d', i[5]), 'PX', tonumber(ARGV[4]) * 1000 + 1000)
  end
end
local minute = math.floor(now / 60000)
local frac = (now % 60000) / 60000
local seen = redis.call('HMGET', KEYS[3], 'p' .. minute, 'p' .. (minute - 1), 'ts', 'sv', 'st')
local ppm = math.floor(tonumber(seen[1] or '0') + tonumber(seen[2] or '0') * (1 - frac))
local client = tonumber(ARGV[7])
local burst_window = tonumber(ARGV[8])
local streak = 0
local last = seen[3]
local last_arrival = tonumber(seen[4] or '0')
-- A burst: client timestamps near-identical, or (fabricated timestamps spaced apart) the
-- submissions themselves arriving within the window of each other.
if last and (math.abs(client - tonumber(last)) <= burst_window
             or (last_arrival > 0 and now - last_arrival <= burst_window)) then
  streak = tonumber(seen[5] or '0') + 1
end
if allowed then
  local points = redis.call('HINCRBY', KEYS[3], 'p' .. minute, ARGV[6])
  redis.call('HSET', KEYS[3], 'ts', ARGV[7], 'st', streak, 'sv', now)
  if points == tonumber(ARGV[6]) then
    -- The minute's first points: drop the minutes no reader looks at any more and keep the
    -- hash while the player is active (once a minute, not on every write).
    redis.call('HDEL', KEYS[3], 'p' .. (minute - 2), 'r' .. (minute - 2),
               'p' .. (minute - 3), 'r' .. (minute - 3))
    redis.call('PEXPIRE', KEYS[3], 180000)
  end
end
return {u[1], u[2], u[3], u[4], i[1], i[2], i[3], i[4], ppm, streak}
"""

# KEYS: fraud hash, rank, member. ARGV: points to give back (may be 0), count a replay (0/1),
# user id. The one place counted points are given back: a submission refused after the guard,
# failed, or replayed. Returns {the sliding-minute replay count, the player's 0-based rank or
# -1}: a replay answers with the current rank in the same trip.
_GIVE_BACK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local minute = math.floor(now / 60000)
local frac = (now % 60000) / 60000
if tonumber(ARGV[1]) ~= 0 then
  redis.call('HINCRBY', KEYS[1], 'p' .. minute, -tonumber(ARGV[1]))
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'r' .. minute) or '0')
if ARGV[2] == '1' then
  cur = redis.call('HINCRBY', KEYS[1], 'r' .. minute, 1)
end
redis.call('PEXPIRE', KEYS[1], 180000)
local prev = tonumber(redis.call('HGET', KEYS[1], 'r' .. (minute - 1)) or '0')
local rank = -1
local member = redis.call('HGET', KEYS[3], ARGV[3])
if member then rank = redis.call('ZRANK', KEYS[2], member) or -1 end
return {math.floor(cur + prev * (1 - frac)), rank}
"""


# Per-account login throttle (domain/credentials.py LoginThrottle). KEYS: the account's hash.
# ARGV: mode (check | fail), free failures, base delay ms, max delay ms, forget ms.
# check -> ms the account is still blocked for; fail -> the new delay in ms.
_LOGIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'check' then
  local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
  if until_ms > now then return until_ms - now end
  return 0
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[2])
local delay = 0
if failures >= free then
  local exponent = math.min(failures - free, 32)
  delay = math.min(tonumber(ARGV[3]) * (2 ^ exponent), tonumber(ARGV[4]))
end
delay = math.floor(delay)
redis.call('HSET', KEYS[1], 'until', now + delay)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]) + delay)
return delay
"""


def login_key(account: str) -> str:
    """One key per account (its own slot on a cluster); ``account`` is already a digest."""
    return f"sb:login:{{{account}}}"


@dataclass(frozen=True, slots=True)
class GuardResult:
    decisions: list[Decision]
    counters: FraudCounters

    @property
    def allowed(self) -> bool:
        return all(d.allowed for d in self.decisions)


def fraud_key(board: str, user_id: str) -> str:
    return BoardKeys(board).rate_limit("fraud", user_id)


def upm_key(board: str) -> str:
    return f"{BoardKeys(board).prefix}:stats:upm"


_PIPELINE_SIZE = WRITE_BATCH_SIZE.labels("redis")
_tracer = trace.get_tracer("scoreboard.redis")


class ScriptBatcher:
    """Runs Lua script calls of the write path pipelined: calls made while a batch is in flight
    wait for it to return and then go together in the next one (one write, one read), up to
    ``max_batch``; no timer, so a lone call goes at once. Each call gets its own result or
    error. On Redis Cluster (keys on several nodes) each call runs on its own.

    The batches go over a connection of the batcher's own, kept between batches like the group
    commit's PostgreSQL connection, with one deadline for the whole round trip: redis-py's
    ``Pipeline`` takes a pooled connection, checks it for stray data, sets a timeout per reply
    and gives it back, which cost more than twice the round trip itself (~350 against ~160 µs of
    CPU for six calls, docs/benchmarks.md "Phase 11"). A connection error before any reply is
    retried once on a new connection (as redis-py retries a pipeline): Redis ran none of it."""

    def __init__(self, redis: Redis, max_batch: int = 128) -> None:
        self.redis = redis
        self.max_batch = max_batch
        self.pipelined = not isinstance(redis, RedisCluster)
        self._queue: list[tuple[AsyncScript, list[Any], list[Any], asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._connection: Any = None
        if self.pipelined:
            kwargs = redis.connection_pool.connection_kwargs
            self._deadline = float(kwargs.get("socket_timeout") or 2.0)

    async def run(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> Any:
        if not self.pipelined:
            return await script(keys=keys, args=args)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((script, keys, args, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        """Close the batcher's connection (at shutdown, with the client)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.disconnect(nowait=True)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._flush(batch)
        finally:
            self._drainer = None

    async def _flush(
        self, batch: list[tuple[AsyncScript, list[Any], list[Any], asyncio.Future[Any]]]
    ) -> None:
        _PIPELINE_SIZE.observe(len(batch))
        commands = [
            ("EVALSHA", script.sha, len(keys), *keys, *args) for script, keys, args, _ in batch
        ]
        try:
            if trace.get_current_span().is_recording():  # tracing on, and this write sampled
                with _tracer.start_as_current_span(
                    "EVALSHA", kind=trace.SpanKind.CLIENT, attributes=self._span_attributes(batch)
                ):
                    results = await self._round_trip(commands)
            else:
                results = await self._round_trip(commands)
        except BaseException as error:
            for *_, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for (script, keys, args, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, NoScriptError):  # Redis restarted: load it and run it again
                try:
                    result = await script(keys=keys, args=args)
                except Exception as error:
                    result = error
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _round_trip(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Every command written at once, every reply read (an error reply as its exception)."""
        for attempt in (1, 2):
            connection = self._own_connection()
            replies: list[Any] = []
            try:
                async with asyncio.timeout(self._deadline):
                    await connection.connect()
                    packed = connection.pack_commands(commands)
                    await connection.send_packed_command(packed, check_health=False)
                    for _ in commands:
                        try:
                            replies.append(await connection.read_response())
                        except ResponseError as error:
                            replies.append(error)
                return replies
            except RedisConnectionError:
                await connection.disconnect(nowait=True)
                if replies or attempt == 2:
                    raise
            except TimeoutError:
                await connection.disconnect(nowait=True)
                raise RedisTimeoutError("Timeout waiting for Redis") from None
            except BaseException:
                await connection.disconnect(nowait=True)
                raise
        raise AssertionError("unreachable")

    def _span_attributes(self, batch: list[Any]) -> dict[str, Any]:
        """What redis-py's instrumentation records for a pipeline (it does not see this one)."""
        kwargs = self.redis.connection_pool.connection_kwargs
        attributes: dict[str, Any] = {
            "db.system": "redis",
            "db.statement": "EVALSHA ?",
            "db.redis.pipeline_length": len(batch),
            "db.redis.database_index": int(kwargs.get("db") or 0),
        }
        if "host" in kwargs:
            attributes |= {"net.peer.name": kwargs["host"], "net.peer.port": kwargs.get("port")}
        return attributes

    def _own_connection(self) -> Any:
        """The batcher's connection: the client's kind (plain, TLS, Unix socket), credentials
        and database, without a per-reply timeout (the round trip has one deadline)."""
        if self._connection is None:
            pool = self.redis.connection_pool
            kwargs = {**pool.connection_kwargs, "socket_timeout": None}
            self._connection = pool.connection_class(**kwargs)
        return self._connection


class RedisSide:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.batch = ScriptBatcher(redis)
        self._guard = redis.register_script(_GUARD)
        self._give_back = redis.register_script(_GIVE_BACK)
        self._login = redis.register_script(_LOGIN)

    async def login_blocked_ms(self, account: str) -> int:
        """How long the account's logins are still refused (0: not throttled)."""
        return int(cast(Any, await self._login(keys=[login_key(account)], args=["check"])))

    async def login_failed(self, account: str, rule: LoginThrottle) -> int:
        """Count a failed login; returns the delay now imposed in ms."""
        value = await self._login(
            keys=[login_key(account)],
            args=[
                "fail",
                rule.free_failures,
                int(rule.base_delay_seconds * 1000),
                int(rule.max_delay_seconds * 1000),
                rule.forget_seconds * 1000,
            ],
        )
        return int(cast(Any, value))

    async def login_succeeded(self, account: str) -> None:
        await self.redis.delete(login_key(account))

    async def guard(
        self,
        write: Write,
        *,
        client_group: str | None,
        user_limit: Limit,
        ip_limit: Limit | None,
        burst_window_ms: int,
    ) -> GuardResult:
        """Rate limits and fraud counters in one trip; when allowed, the write's points are
        counted (:meth:`give_back` returns them if the write is not added after all)."""
        keys = BoardKeys(write.board)
        check_ip = ip_limit is not None and client_group is not None
        ip_key = keys.rate_limit("ip", client_group or "-")
        result = await self.batch.run(
            self._guard,
            [
                keys.rate_limit("user", write.user_id),
                ip_key,
                fraud_key(write.board, write.user_id),
            ],
            args=[
                user_limit.limit,
                user_limit.window_seconds,
                ip_limit.limit if ip_limit else 1,
                ip_limit.window_seconds if ip_limit else 1,
                "1" if check_ip else "0",
                write.points,
                to_micros(write.submission.timestamp) // 1000,
                burst_window_ms,
            ],
        )
        values = [int(v) for v in cast(list[Any], result)]
        decisions = [
            Decision(
                allowed=bool(values[0]),
                limit=user_limit,
                remaining=values[1],
                reset_seconds=values[2],
                retry_after_seconds=values[3],
            )
        ]
        if check_ip and ip_limit is not None:
            decisions.append(
                Decision(
                    allowed=bool(values[4]),
                    limit=ip_limit,
                    remaining=values[5],
                    reset_seconds=values[6],
                    retry_after_seconds=values[7],
                )
            )
        return GuardResult(
            decisions,
            FraudCounters(
                points_last_minute=values[8], burst_streak=values[9], replays_last_minute=0
            ),
        )

    async def limit(self, scope: str, subject: str, limit: Limit) -> Decision:
        """A plain rate limit (the credential endpoints): the guard's GCRA on ``subject``,
        nothing counted for fraud."""
        keys = BoardKeys(scope)
        result = await self._guard(
            keys=[
                keys.rate_limit("user", subject),
                keys.rate_limit("ip", "-"),
                fraud_key(scope, subject),
            ],
            args=[limit.limit, limit.window_seconds, 1, 1, "0", 0, 0, 0],
        )
        values = [int(v) for v in cast(list[Any], result)]
        return Decision(
            allowed=bool(values[0]),
            limit=limit,
            remaining=values[1],
            reset_seconds=values[2],
            retry_after_seconds=values[3],
        )

    async def give_back(self, write: Write, *, replay: bool) -> tuple[int, int | None]:
        """Give back the points the guard counted for a write that was not added (refused,
        failed, replayed) and count a replay: ``(replays in the sliding minute, the player's
        rank or None)``."""
        keys = BoardKeys(write.board)
        replays, rank = await self._give_back(
            keys=[fraud_key(write.board, write.user_id), keys.rank, keys.member],
            args=[write.points, "1" if replay else "0", write.user_id],
        )
        return int(replays), None if int(rank) < 0 else int(rank) + 1

    async def updates_by_minute(self, board: str, minute: int) -> tuple[int, int]:
        """Committed updates in the current and the previous clock minute."""
        values = await cast(Any, self.redis.hmget(upm_key(board), [str(minute), str(minute - 1)]))
        return int(values[0] or 0), int(values[1] or 0)

    async def publish_control(self, message: bytes) -> None:
        """Tell the other api replicas to reload (e.g. a user was disabled)."""
        await self.redis.publish(CONTROL_CHANNEL, message)

    async def publish_board(self, event: BoardChanged) -> None:
        await self.redis.publish(BOARD_CHANNEL, encode_event(event))

    async def write_policy(self, policy: PublicPolicy) -> None:
        keys = BoardKeys(policy.board)
        # One MSET (atomic; both keys in the board's slot) rather than a MULTI pipeline.
        await self.redis.mset(
            {keys.policy: encode_public_policy(policy), keys.season: policy.season}
        )

    async def delete_board(self, board: str) -> None:
        # Every key of the board shares its hash tag: on a cluster one node holds them all.
        found = [key async for key in scan_hash_tag(self.redis, BoardKeys(board).prefix)]
        for start in range(0, len(found), 500):
            await self.redis.delete(*found[start : start + 500])

    # ---- encoded /top cache ------------------------------------------------------------

    async def version_and_cached_top(self, board: str, limit: int) -> tuple[int, bytes | None]:
        keys = BoardKeys(board)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.version)
            pipe.get(keys.top_cache(limit))
            version, cached = await pipe.execute()
        current = int(version or 0)
        if cached:
            prefix, _, body = bytes(cached).partition(b"\n")
            if prefix == str(current).encode():
                return current, body
        return current, None

    async def store_top(self, board: str, limit: int, version: int, body: bytes) -> None:
        await self.redis.set(
            BoardKeys(board).top_cache(limit), str(version).encode() + b"\n" + body, ex=300
        )
