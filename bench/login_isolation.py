"""Login (argon2) isolation: ``GET /top`` p99 at 32 connections while a burst of logins runs
against the same api process, over the same without the burst (rounds interleaved, medians).
Password hashing runs on its own bounded pool (services/hashing.py); this shows what it still
costs the event loop.

    .venv/bin/python -m bench.login_isolation [--runs 3] [--seconds 6]
"""

from __future__ import annotations

import argparse
import secrets
import threading
import time

import httpx

from bench.report import Row, table
from bench.seed import seed_board
from bench.stack import Stack, stack
from bench.tools import HERE, LoadResult, median, wrk

TARGET = 1.5
BURST_CONNECTIONS = 4


def _login_burst(url: str, username: str, password: str, seconds: int) -> list[LoadResult]:
    out: list[LoadResult] = []
    out.append(
        wrk(
            url,
            connections=BURST_CONNECTIONS,
            duration_s=seconds,
            script=HERE / "wrk" / "login.lua",
            script_args=(username, password),
        )
    )
    return out


def run(stack: Stack, *, runs: int, seconds: int, connections: int) -> list[Row]:
    api = stack.start_service("api", AUTH_RATE_LIMIT_PER_MINUTE="100000000")
    stack.put_board(api, "login-iso")
    seed_board(stack, "login-iso", 1000)
    username, password = "burst", secrets.token_urlsafe(18)
    httpx.post(
        f"{api.url}/api/v1/auth/register",
        json={"username": username, "password": password},
        timeout=30,
    ).raise_for_status()
    top_url = f"{api.url}/api/v1/leaderboards/login-iso/top"
    wrk(top_url, connections=connections, duration_s=2)  # warm up
    quiet: list[LoadResult] = []
    busy: list[LoadResult] = []
    logins: list[LoadResult] = []
    for _ in range(runs):
        quiet.append(wrk(top_url, connections=connections, duration_s=seconds))
        # The burst starts first and outlasts the /top window by a second on each side.
        thread = threading.Thread(
            target=lambda: logins.extend(_login_burst(api.url, username, password, seconds + 2))
        )
        thread.start()
        time.sleep(1)
        busy.append(wrk(top_url, connections=connections, duration_s=seconds))
        thread.join()
    p99_quiet = median([r.p99_ms for r in quiet])
    p99_busy = median([r.p99_ms for r in busy])
    ratio = p99_busy / p99_quiet if p99_quiet else float("nan")
    return [
        Row(
            "login isolation: /top p99 during a login burst (ms)",
            p99_busy,
            "/top p99 without the burst (ms)",
            p99_quiet,
            target=f"<= {TARGET}",
            met=ratio <= TARGET,
            lower_is_better=True,
            note=f"c={connections} on /top; burst: {BURST_CONNECTIONS} connections posting correct "
            f"logins, {median([r.requests_per_second for r in logins]):.1f} logins/s answered "
            f"(non-2xx {sum(r.errors for r in logins)}: refusals of the bounded hash pool); "
            f"/top req/s {median([r.requests_per_second for r in busy]):,.0f} with vs "
            f"{median([r.requests_per_second for r in quiet]):,.0f} without",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.login_isolation")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with stack() as running:
        rows = run(running, runs=args.runs, seconds=args.seconds, connections=args.connections)
    print(table(rows))
    print(f"ratio (during / without): {rows[0].ratio:.2f} (target <= {TARGET})")


if __name__ == "__main__":
    main()
