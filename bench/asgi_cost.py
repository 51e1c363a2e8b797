"""Python cost per request of ``GET /top`` and of the minimal endpoint variants, called in
process through ASGI (no sockets, no load generator: steadier than wrk on a shared machine).

    .venv/bin/python -m bench.asgi_cost [--requests 20000] [--profile PATH]

Starts PostgreSQL and Redis (bench.stack), builds the api app as ``create_app`` does, runs its
lifespan, seeds a 1,000-player board, then times N calls of each target (best of 5 rounds).
``--profile`` writes a cProfile of the ``/top`` calls (sorted by cumulative time) to PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bench.minimal_app import APPS, build
from bench.seed import seed_board
from bench.stack import stack

Asgi = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]


def http_scope(
    path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    """An HTTP scope as uvicorn builds it (``headers``: instead of wrk's three)."""
    if headers is None:
        headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Asgi, path: str) -> int:
    return await call_scope(app, http_scope(path))


async def call_scope(app: Asgi, scope: dict[str, Any], body: bytes = b"") -> int:
    """One request through ``app``; its status."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def per_request_us(app: Asgi, path: str, requests: int) -> float:
    assert await call(app, path) == 200, path
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(requests):
            await call(app, path)
        best = min(best, (time.perf_counter() - started) / requests * 1e6)
    return best


class Lifespan:
    def __init__(self, app: Asgi) -> None:
        self.app = app
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        async def send(message: dict[str, Any]) -> None:
            await self.replies.put(message)

        self.task = asyncio.create_task(
            self.app({"type": "lifespan", "state": {}}, self.events.get, send)
        )
        await self.events.put({"type": "lifespan.startup"})
        reply = await self.replies.get()
        assert reply["type"] == "lifespan.startup.complete", reply

    async def __aexit__(self, *_: object) -> None:
        await self.events.put({"type": "lifespan.shutdown"})
        await self.replies.get()


async def measure(requests: int, profile: str | None) -> None:
    from scoreboard_api.app import create_app

    api: Asgi = create_app()
    minimal = {name: build(name) for name in APPS}
    async with Lifespan(api):
        for app in minimal.values():
            await Lifespan(app).__aenter__()
        top = "/api/v1/leaderboards/cost/top"
        figures = {
            name: await per_request_us(app, "/minimal", requests) for name, app in minimal.items()
        }
        figures["GET /top"] = await per_request_us(api, top, requests)
        bare = figures["bare"]
        for name, us in figures.items():
            print(
                f"{name:>16}: {us:7.1f} µs/request ({us - bare:+.1f} over bare; ratio {bare / us:.2f})"
            )
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                await call(api, top)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(60)
            with open(profile, "w") as handle:
                handle.write(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.asgi_cost")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--profile")
    args = parser.parse_args()
    with stack() as running:
        api = running.start_service("api")
        running.put_board(api, "cost")
        seed_board(running, "cost", 1000)
        api.stop()
        os.environ.update(running.env)
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(measure(args.requests, args.profile))


if __name__ == "__main__":
    main()
