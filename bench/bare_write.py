"""The write bench's floor: the least a score-writing HTTP service can do on this machine.

A raw ASGI app (no framework, no middleware, no metrics, tracing or logging) served like the
api (uvicorn, uvloop, httptools, the api's SO_REUSEPORT workers) that answers each
``POST .../scores`` with the api's own three round trips, one request at a time: the api's rate
limit and fraud script on Redis, the api's write statement on PostgreSQL (its own transaction,
from a pool), the api's place-and-publish script on Redis. The player is the token's subject,
read without verifying it (no signature check, no policy, no idempotency replay, no group
commit, no pipelining): what the api costs above this is what those cost, or save.

    .venv/bin/python -m bench.bare_write --port 8766 --workers 2   # DATABASE_URL, REDIS_URL
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from scoreboard_api.adapters.pg_scores import SUBMIT_SCORE_SQL
from scoreboard_api.adapters.redis_side import _GUARD, fraud_key, upm_key
from scoreboard_common.board_store import BoardStore, Standing
from scoreboard_common.events import SCORE_CHANNEL, ScoreChanged, score_changed_template
from scoreboard_common.keys import BoardKeys
from scoreboard_common.ranking import to_micros
from scoreboard_common.redis_client import create_redis


class _Body(msgspec.Struct):
    action_id: str
    score_increment: int
    timestamp: datetime


class _Claims(msgspec.Struct):
    sub: str


_decode_body = msgspec.json.Decoder(_Body).decode
_decode_claims = msgspec.json.Decoder(_Claims).decode
_JSON = (b"content-type", b"application/json")


class BareWriter:
    """One worker's connections and the three round trips of a write."""

    def __init__(self, pool: Any, redis: Redis) -> None:
        self.pool = pool
        self.store = BoardStore(redis)
        self.guard: AsyncScript = redis.register_script(_GUARD)
        self.subjects: dict[bytes, str] = {}

    def subject(self, authorization: bytes) -> str:
        """The token's ``sub``, read, not verified (kept per token, as the api keeps verdicts)."""
        user_id = self.subjects.get(authorization)
        if user_id is None:
            payload = authorization.split(b".")[1]
            claims = _decode_claims(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
            user_id = self.subjects[authorization] = claims.sub
        return user_id

    async def write(self, board: str, user_id: str, body: _Body) -> bytes:
        keys = BoardKeys(board)
        await self.guard(
            keys=[
                keys.rate_limit("user", user_id),
                keys.rate_limit("ip", "127.0.0.1"),
                fraud_key(board, user_id),
            ],
            # the bench board's limits (bench.stack.BENCH_SPEC) and burst window (the default)
            args=[
                *(1_000_000, 60, 1_000_000, 60, "1"),
                *(body.score_increment, to_micros(body.timestamp) // 1000, 50),
            ],
        )
        row = await self.pool.fetchrow(
            SUBMIT_SCORE_SQL,
            board,
            body.action_id,
            1,
            user_id,
            None,
            body.score_increment,
            body.timestamp,
            "127.0.0.1",
            None,
            None,
            "increment",
            "desc",
            None,
        )
        username = row["username"] or user_id
        template = score_changed_template(
            ScoreChanged(
                board=board,
                season=1,
                version=0,
                user_id=user_id,
                username=username,
                total=row["total"],
                rank=None,
                increment=body.score_increment,
            )
        )
        applied = await self.store.apply_total_and_publish(
            board,
            Standing(
                user_id=user_id,
                username=username,
                total=row["total"],
                reached_at=row["reached_at"],
                revision=to_micros(row["updated_at"]),
            ),
            channel=SCORE_CHANNEL,
            template=template,
            counter=(upm_key(board), str(int(time.time() // 60)), 180),
        )
        return b'{"total":%d,"rank":%d}' % (row["total"], applied.rank or 0)


class BareWriteApp:
    """``POST /api/v1/leaderboards/{board}/scores`` and ``GET /healthz``; nothing else."""

    def __init__(self) -> None:
        self.writer: BareWriter | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["path"] == "/healthz":
            await _answer(send, 200, b'{"status":"ok"}')
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        authorization = next(v for k, v in scope["headers"] if k == b"authorization")
        assert self.writer is not None
        board = scope["path"].split("/")[4]
        user_id = self.writer.subject(authorization)
        await _answer(
            send, 200, await self.writer.write(board, user_id, _decode_body(b"".join(chunks)))
        )

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                pool = await asyncpg.create_pool(
                    os.environ["DATABASE_URL"], min_size=4, max_size=40
                )
                self.writer = BareWriter(pool, create_redis(os.environ["REDIS_URL"]))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.writer is not None:
                    await self.writer.pool.close()
                    await self.writer.store.redis.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [_JSON, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app() -> BareWriteApp:
    return BareWriteApp()


def main() -> None:
    import uvicorn
    from scoreboard_api.cli import _run_workers

    parser = argparse.ArgumentParser(prog="python -m bench.bare_write")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = uvicorn.Config(
        "bench.bare_write:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
    )
    _run_workers(config)


if __name__ == "__main__":
    main()
