"""Login (argon2) isolation: ``GET /top`` p99 at 32 connections while logins run against the same
api process, over the same without them (rounds interleaved, medians).

Two loads beside ``/top``, each in every round:

- the target's burst: correct logins from one client at the most the api's default per-address
  limit lets it make (AUTH_RATE_LIMIT_PER_MINUTE, 600/min = 10/s), on four connections with
  random think times (``wrk/paced.lua``);
- the pool's ceiling: the same four connections posting logins as fast as answered, the
  per-address limit off, so only the hashing pool bounds them (one thread for one client).

Any CPU taken beside ``/top`` on this 2-core machine shows in its p99: a plain one-core
spinner in another process cost 2.3x to 25x over a few runs (the kernel's scheduling of the
spinner, not the api; not kept as a row for that spread).

    .venv/bin/python -m bench.login_isolation [--runs 3] [--seconds 6]
"""

from __future__ import annotations

import argparse
import secrets
import threading
import time
from collections.abc import Callable

import httpx
from scoreboard_api.settings import ApiSettings

from bench.report import Row, table
from bench.seed import seed_board
from bench.stack import Stack, stack
from bench.tools import HERE, LoadResult, median, wrk

TARGET = 1.5
BURST_CONNECTIONS = 4
DEFAULT_AUTH_LIMIT_PER_MINUTE = int(ApiSettings.model_fields["auth_rate_limit_per_minute"].default)


def _logins(
    url: str, username: str, password: str, seconds: int, *, pace_ms: float | None
) -> LoadResult:
    """Logins on BURST_CONNECTIONS connections; ``pace_ms``: mean think time after each
    (``None``: as fast as answered)."""
    return wrk(
        url,
        connections=BURST_CONNECTIONS,
        duration_s=seconds,
        script=HERE / "wrk" / "login.lua",
        script_args=(username, password),
        pace_ms=pace_ms,
    )


def _beside(
    load: Callable[[int], object], measure: Callable[[], LoadResult], seconds: int
) -> LoadResult:
    """``measure()`` while ``load(seconds + 2)`` runs on a thread, started a second before."""
    thread = threading.Thread(target=lambda: load(seconds + 2))
    thread.start()
    time.sleep(1)
    try:
        return measure()
    finally:
        thread.join()


def run(stack: Stack, *, runs: int, seconds: int, connections: int) -> list[Row]:
    # The paced burst keeps to the default per-address limit by its own schedule; the limit is
    # off here so that the ceiling load reaches the hashing pool.
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

    def top() -> LoadResult:
        return wrk(top_url, connections=connections, duration_s=seconds)

    pace_ms = int(BURST_CONNECTIONS * 1000 / (DEFAULT_AUTH_LIMIT_PER_MINUTE / 60))
    quiet: list[LoadResult] = []
    paced: list[LoadResult] = []
    ceiling: list[LoadResult] = []
    paced_logins: list[LoadResult] = []
    ceiling_logins: list[LoadResult] = []
    for _ in range(runs):
        quiet.append(top())
        paced.append(
            _beside(
                lambda s: paced_logins.append(
                    _logins(api.url, username, password, s, pace_ms=pace_ms)
                ),
                top,
                seconds,
            )
        )
        ceiling.append(
            _beside(
                lambda s: ceiling_logins.append(
                    _logins(api.url, username, password, s, pace_ms=None)
                ),
                top,
                seconds,
            )
        )

    p99_quiet = median([r.p99_ms for r in quiet])

    def row(name: str, results: list[LoadResult], note: str, *, target: bool) -> Row:
        p99 = median([r.p99_ms for r in results])
        return Row(
            name,
            p99,
            "/top p99 without it (ms)",
            p99_quiet,
            target=f"<= {TARGET}" if target else "",
            met=(p99 / p99_quiet <= TARGET) if target and p99_quiet else None,
            lower_is_better=True,
            note=f"c={connections} on /top; /top req/s "
            f"{median([r.requests_per_second for r in results]):,.0f} with vs "
            f"{median([r.requests_per_second for r in quiet]):,.0f} without; {note}",
        )

    def answered(logins: list[LoadResult]) -> str:
        return (
            f"{median([r.requests_per_second for r in logins]):.1f} logins/s answered "
            f"(non-2xx {sum(r.errors for r in logins)})"
        )

    return [
        row(
            "login isolation: /top p99 during a login burst (ms)",
            paced,
            f"burst: one client at its default limit ({DEFAULT_AUTH_LIMIT_PER_MINUTE}/min) on "
            f"{BURST_CONNECTIONS} connections, {answered(paced_logins)}",
            target=True,
        ),
        row(
            "context: /top p99 during logins at the hashing pool's ceiling (ms)",
            ceiling,
            f"{BURST_CONNECTIONS} connections as fast as answered, limit off: "
            f"{answered(ceiling_logins)}, one hashing thread busy",
            target=False,
        ),
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
