"""Read path: GET /top of a 1,000,000-player board vs the framework's minimal JSON endpoint,
both served by one uvicorn worker with the same flags; and rank lookups on boards of 10^3,
10^5 and 10^6 players (the cost should stay flat: Redis ZRANK is O(log N))."""

from __future__ import annotations

from bench.report import Row
from bench.seed import seed_board
from bench.stack import Stack
from bench.tools import HERE, median, wrk

BIG = 1_000_000


def run(stack: Stack, *, runs: int, seconds: int, connections: int) -> list[Row]:
    api = stack.start_service("api")
    baseline = stack.start_baseline()
    sizes = {"rank-1k": 1_000, "rank-100k": 100_000, "rank-1m": BIG}
    for board, players in sizes.items():
        stack.put_board(api, board)
        seed_board(stack, board, players)
    top_url = f"{api.url}/api/v1/leaderboards/rank-1m/top"
    wrk(top_url, connections=connections, duration_s=2, server_pid=api.pid)  # warm the cache
    top, minimal = [], []
    for _ in range(runs):
        minimal.append(
            wrk(
                f"{baseline.url}/minimal",
                connections=connections,
                duration_s=seconds,
                server_pid=baseline.pid,
            )
        )
        top.append(wrk(top_url, connections=connections, duration_s=seconds, server_pid=api.pid))
    top_rps = median([r.requests_per_second for r in top])
    base_rps = median([r.requests_per_second for r in minimal])
    rows = [
        Row(
            "read: GET /top, 1M players (req/s)",
            top_rps,
            "Litestar minimal JSON (req/s)",
            base_rps,
            target=">= 70% of baseline",
            met=top_rps >= 0.7 * base_rps,
            note=f"c={connections}; /top p50 {median([r.p50_ms for r in top]):.2f} ms, "
            f"p99 {median([r.p99_ms for r in top]):.2f} ms; errors "
            f"{sum(r.errors for r in top)}",
        )
    ]
    rank_rps: dict[str, float] = {}
    for board, players in sizes.items():
        results = [
            wrk(
                api.url,
                connections=connections,
                duration_s=seconds,
                script=HERE / "wrk" / "players.lua",
                script_args=(board, str(players)),
                server_pid=api.pid,
            )
            for _ in range(runs)
        ]
        rank_rps[board] = median([r.requests_per_second for r in results])
        rows.append(
            Row(
                f"rank lookup, {players:,} players (req/s)",
                rank_rps[board],
                "rank lookup, 1,000 players",
                rank_rps.get("rank-1k", float("nan")),
                target="flat (ratio ≈ 1)",
                met=rank_rps[board] >= 0.8 * rank_rps["rank-1k"],
                note=f"p99 {median([r.p99_ms for r in results]):.2f} ms, errors "
                f"{sum(r.errors for r in results)}",
            )
        )
    return rows
