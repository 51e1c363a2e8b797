"""Where the machine's CPU goes per score write: the api, PostgreSQL and Redis processes (from
``/proc/<pid>/stat``) and the whole machine's busy time (``/proc/stat``, so the load generator
and the kernel are in it), around ``wrk`` runs at full load, beside ``pgbench`` running the
api's statement at the same concurrency (bench/write_path.py). Rounds alternate api and
pgbench on one stack; nothing asserts.

    .venv/bin/python -m bench.write_cpu [--workers 2] [--connections 32] [--rounds 2]

What it showed is in docs/benchmarks.md, "Phase 7".
"""

from __future__ import annotations

import argparse
import collections
import os
from collections.abc import Callable
from pathlib import Path

from bench.stack import stack
from bench.tools import LoadResult
from bench.write_path import storage_load, submissions, user_tokens

SECONDS = 8
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_by_program() -> collections.defaultdict[str, float]:
    """CPU seconds so far of every live process, summed by program (postgres backends as one);
    ``<program> sys`` holds the kernel's share of it."""
    seconds: collections.defaultdict[str, float] = collections.defaultdict(float)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        fields = stat.rsplit(")", 1)[1].split()
        program = "postgres" if name.startswith("postgres") else name
        seconds[program] += (int(fields[11]) + int(fields[12])) / _TICK
        seconds[f"{program} sys"] += int(fields[12]) / _TICK
    return seconds


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far (all but idle and iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK


def measured(name: str, load: Callable[[], LoadResult]) -> str:
    before, busy = cpu_by_program(), machine_busy()
    result = load()
    after, busy = cpu_by_program(), machine_busy() - busy
    done = result.requests_per_second * SECONDS
    per_write = {
        program: 1e6 * (after[program] - before[program]) / done
        for program in after
        if after[program] - before[program] > 0.05
    }
    split = ", ".join(
        f"{program} {us:.0f}" for program, us in sorted(per_write.items(), key=lambda kv: -kv[1])
    )
    return (
        f"{name}: {result.requests_per_second:,.0f}/s, p99 {result.p99_ms:.1f} ms; machine "
        f"{1e6 * busy / done:.0f} µs/write busy ({100 * busy / SECONDS / (os.cpu_count() or 1):.0f}% "
        f"of it); by process (µs/write): {split or '-'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.write_cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with stack() as running:
        api = running.start_service("api", workers=args.workers)
        running.put_board(api)
        with user_tokens(running) as tokens:

            def through_api() -> LoadResult:
                return submissions(api, tokens, connections=args.connections, seconds=SECONDS)

            def storage() -> LoadResult:
                return storage_load(running, connections=args.connections, seconds=SECONDS)

            through_api()  # warm up
            print(f"c={args.connections}, {args.workers} api workers", flush=True)
            for _ in range(args.rounds):
                print(measured("api", through_api), flush=True)
                print(measured("pgbench", storage), flush=True)


if __name__ == "__main__":
    main()
