"""The api's own CPU per score submission, called in process through ASGI (no sockets, no load
generator): ``POST /scores`` in waves of ``--concurrency`` concurrent calls, so the group
commit and the Redis pipelines batch as they do under load; PostgreSQL and Redis are real
servers (bench.stack) in their own processes, so this process's CPU time is the api's alone.

    .venv/bin/python -m bench.write_cost [--writes 20000] [--concurrency 32] [--profile PATH]

``--profile`` writes a cProfile (the event loop thread's CPU time) of one more round (by own
time, then cumulative) to PATH, and its pstats to PATH.pstats. It also prints how often the
garbage collector ran during the rounds and the CPU time it took (``gc.callbacks``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import itertools
import os
import pstats
import time
from typing import Any

from bench.asgi_cost import Asgi, Lifespan, call_scope, http_scope
from bench.stack import BENCH_BOARD, stack
from bench.write_path import USERS

_counter = itertools.count()


def _scope(token: str) -> dict[str, Any]:
    return http_scope(
        f"/api/v1/leaderboards/{BENCH_BOARD}/scores",
        "POST",
        [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer " + token.encode()),
        ],
    )


async def submit(app: Asgi, token: str) -> int:
    n = next(_counter)
    body = (
        f'{{"action_id":"cost-{os.getpid()}-{n}","score_increment":{n % 5 + 1},'
        f'"timestamp":"{time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}"}}'
    ).encode()
    return await call_scope(app, _scope(token), body)


async def waves(app: Asgi, tokens: list[str], writes: int, concurrency: int) -> None:
    users = itertools.cycle(tokens)
    for _ in range(writes // concurrency):
        statuses = await asyncio.gather(*(submit(app, next(users)) for _ in range(concurrency)))
        if any(status != 200 for status in statuses):
            raise RuntimeError(f"a submission failed: {sorted(set(statuses))}")


class GcCounter:
    """Collections per generation and the CPU time they took, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> GcCounter:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.collections[info["generation"]] += 1
            self.seconds += time.thread_time() - self._started


async def measure(tokens: list[str], writes: int, concurrency: int, profile: str | None) -> None:
    from scoreboard_api.app import create_app

    api: Asgi = create_app()
    async with Lifespan(api):
        await waves(api, tokens, concurrency * 20, concurrency)  # warm up
        rounds = []
        with GcCounter() as collected:
            for _ in range(3):
                cpu, wall = time.process_time(), time.perf_counter()
                await waves(api, tokens, writes, concurrency)
                rounds.append(
                    ((time.process_time() - cpu) / writes, (time.perf_counter() - wall) / writes)
                )
        cpu_us = sorted(r[0] for r in rounds)[1] * 1e6
        wall_us = sorted(r[1] for r in rounds)[1] * 1e6
        print(
            f"POST /scores in process, waves of {concurrency}: api CPU {cpu_us:.1f} µs/write, "
            f"wall {wall_us:.1f} µs/write ({1e6 / wall_us:,.0f} writes/s); median of 3 rounds "
            f"of {writes}"
        )
        young, middle, full = collected.collections
        print(
            f"garbage collector over the {3 * writes} writes (thresholds {gc.get_threshold()}): "
            f"{young} young, {middle} middle, {full} full collections, "
            f"{collected.seconds * 1e3:.0f} ms ({collected.seconds * 1e6 / (3 * writes):.1f} µs "
            "per write)"
        )
        if profile:
            # CPU time, not wall time: a send to Redis or PostgreSQL wakes the server, which can
            # take this core mid-call, and wall time would charge its work to the api.
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            await waves(api, tokens, writes, concurrency)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
            profiler.dump_stats(profile + ".pstats")
            with open(profile, "w") as handle:
                handle.write(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.write_cost")
    parser.add_argument("--writes", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile")
    args = parser.parse_args()
    with stack() as running:
        api = running.start_service("api")
        running.put_board(api)
        tokens = running.create_users(USERS)
        api.stop()
        os.environ.update(running.env)
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(measure(tokens, args.writes, args.concurrency, args.profile))


if __name__ == "__main__":
    main()
