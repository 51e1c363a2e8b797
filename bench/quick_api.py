"""Quick api figures: write and read throughput with p50/p99 on one uvicorn worker.

    .venv/bin/python -m bench.quick_api [--seconds 8] [--connections 32] [--players 100000]

Starts its own PostgreSQL, Redis and api (bench.stack), 200 users with tokens, then runs wrk:
POST /api/v1/leaderboards/bench/scores (fresh action_id per request) and GET .../top on a board
seeded with --players players. Prints one line per figure."""

from __future__ import annotations

import argparse

from bench.seed import seed_board
from bench.stack import stack
from bench.tools import LoadResult, wrk
from bench.write_path import submissions, user_tokens


def line(name: str, result: LoadResult) -> str:
    return (
        f"{name}: {result.requests_per_second:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, errors {result.errors}, server CPU {result.cpu_server_s:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quick_api")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--players", type=int, default=100_000)
    args = parser.parse_args()
    with stack() as running:
        api = running.start_service("api")
        running.put_board(api)
        with user_tokens(running) as tokens:
            write = submissions(api, tokens, connections=args.connections, seconds=args.seconds)
        print(line(f"write (c={args.connections})", write), flush=True)
        running.put_board(api, "quick-read")
        seed_board(running, "quick-read", args.players)
        url = f"{api.url}/api/v1/leaderboards/quick-read/top"
        wrk(url, connections=args.connections, duration_s=2, server_pid=api.pid)  # warm up
        read = wrk(url, connections=args.connections, duration_s=args.seconds, server_pid=api.pid)
        print(line(f"read /top, {args.players:,} players (c={args.connections})", read))


if __name__ == "__main__":
    main()
