"""Is the login burst's cost to ``GET /top`` the api's, or any CPU burst's on these cores?

``GET /top`` p99 at 32 connections while *another process* (not the api) runs one job about
every 1/rate seconds (exponential gaps), over the p99 without it; rounds interleaved, medians.
The jobs: ``argon2`` (the api's argon2id hash, by libsodium, at the api's parameters),
``spin`` (CPU only, a 64-byte buffer: no memory traffic) and ``stream`` (copying 7 MiB
buffers: memory traffic like Argon2's), each for a given time; ``nice`` runs the process at
nice 19, ``idle`` in Linux's SCHED_IDLE class (``chrt --idle 0``). What it showed is in
docs/benchmarks.md, "Phase 6" and "Phase 7".

    .venv/bin/python -m bench.cpu_bursts [--runs 3] [--seconds 6]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.seed import seed_board
from bench.stack import stack
from bench.tools import median, wrk

ARGON2_MEMORY = 7 * 1024 * 1024  # PASSWORD_HASH_MEMORY_KIB's default
ARGON2_TIME = 5


@dataclass(frozen=True)
class Bursts:
    job: str  # argon2 | spin | stream
    milliseconds: float  # per job (argon2: what the hash takes)
    per_second: float
    nice: bool = False
    idle: bool = False

    @property
    def label(self) -> str:
        nice = ", nice 19" if self.nice else ""
        idle = ", SCHED_IDLE" if self.idle else ""
        return f"{self.job} {self.milliseconds:g} ms x {self.per_second:g}/s{nice}{idle}"

    def argv(self, seconds: float) -> list[str]:
        command = [sys.executable, "-m", "bench.cpu_bursts", "--job", self.job]
        command += [f"--job-ms={self.milliseconds}", f"--per-second={self.per_second}"]
        command += [f"--for={seconds}"]
        if self.idle:
            command = ["chrt", "--idle", "0", *command]
        return ["nice", "-n", "19", *command] if self.nice else command


COMPARED = (
    Bursts("argon2", 7.2, 10),  # a login burst at the default limit: 10 hashes/s
    Bursts("spin", 7.2, 10),
    Bursts("stream", 7.2, 10),
    Bursts("spin", 7.2, 10, nice=True),
    Bursts("argon2", 7.2, 10, idle=True),  # the idle class yields to any runnable task at once
    Bursts("spin", 1.0, 72),  # the same CPU time in 1 ms pieces
)


def _job(kind: str, seconds: float) -> Callable[[], None]:
    if kind == "argon2":
        import nacl.pwhash.argon2id as argon2id

        def argon2() -> None:
            argon2id.kdf(
                32, b"a password", b"0123456789abcdef", opslimit=ARGON2_TIME, memlimit=ARGON2_MEMORY
            )

        return argon2
    if kind == "spin":
        data = b"x" * 64

        def spin() -> None:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                for _ in range(100):
                    hashlib.sha256(data).digest()

        return spin
    source = bytearray(os.urandom(ARGON2_MEMORY))
    target = bytearray(len(source))

    def stream() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            target[:] = source

    return stream


def run_bursts(kind: str, job_ms: float, per_second: float, seconds: float) -> None:
    job = _job(kind, job_ms / 1000)
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        time.sleep(random.expovariate(per_second))
        job()


def compare(runs: int, seconds: int, connections: int) -> list[tuple[str, float, float]]:
    """``(label, /top p99 ms, ratio to none)`` for no bursts and each of COMPARED."""
    p99s: dict[str, list[float]] = {"none": [], **{b.label: [] for b in COMPARED}}
    with stack() as running:
        api = running.start_service("api")
        running.put_board(api, "bursts")
        seed_board(running, "bursts", 1000)
        url = f"{api.url}/api/v1/leaderboards/bursts/top"
        wrk(url, connections=connections, duration_s=2)  # warm up
        for _ in range(runs):
            p99s["none"].append(wrk(url, connections=connections, duration_s=seconds).p99_ms)
            for bursts in COMPARED:
                process = subprocess.Popen(bursts.argv(seconds + 2))
                try:
                    time.sleep(1)
                    result = wrk(url, connections=connections, duration_s=seconds)
                finally:
                    process.wait(timeout=30)
                p99s[bursts.label].append(result.p99_ms)
    quiet = median(p99s["none"])
    return [(label, median(values), median(values) / quiet) for label, values in p99s.items()]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_bursts")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    # The burst process itself (what compare() starts):
    parser.add_argument("--job", choices=("argon2", "spin", "stream"))
    parser.add_argument("--job-ms", type=float, default=7.2)
    parser.add_argument("--per-second", type=float, default=10)
    parser.add_argument("--for", dest="duration", type=float, default=8)
    args = parser.parse_args()
    if args.job:
        run_bursts(args.job, args.job_ms, args.per_second, args.duration)
        return
    print(
        f"GET /top p99 at c={args.connections}, bursts in another process; medians of {args.runs}"
    )
    for label, p99, ratio in compare(args.runs, args.seconds, args.connections):
        print(f"  {label:34s} p99 {p99:6.2f} ms   ratio {ratio:4.2f}")


if __name__ == "__main__":
    main()
