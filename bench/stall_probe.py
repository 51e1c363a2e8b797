"""What stalls the api's event loop under ``GET /top`` load: GC pauses per generation and any
main-thread Python frame that runs longer than 15 ms, sampled while wrk runs.

    .venv/bin/python -m bench.stall_probe [TOP_CACHE_FRESH_MS=100 ...]   # env overrides

Starts the stack, seeds a 1,000-player board, serves the api under this probe
(``--serve``: the api CLI with a ``gc.callbacks`` recorder and a sampler thread reading
``sys._current_frames()`` every 2 ms), runs wrk (32 connections, 3 x 5 s) and prints the
figures and the report. This is how the 100 ms revalidation storm behind the /top p99 was
found (docs/benchmarks.md).
"""

from __future__ import annotations

import collections
import gc
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

STALL_SECONDS = 0.015


def serve(report: Path, argv: list[str]) -> None:
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: dict[str, float] = {}

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started["t"]) * 1000)

    gc.callbacks.append(on_gc)
    main_id = threading.main_thread().ident
    stalls: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}

    def write() -> None:
        lines = []
        for generation, values in pauses.items():
            ordered = sorted(values)
            if ordered:
                lines.append(
                    f"gen{generation}: n={len(ordered)} max={ordered[-1]:.2f} ms "
                    f"p99={ordered[int(len(ordered) * 0.99)]:.2f} ms total={sum(ordered):.0f} ms"
                )
        for where, count in stalls.most_common(8):
            lines += [
                f"\nstall x{count} (> {STALL_SECONDS * 1000:.0f} ms): {where}",
                examples[where],
            ]
        report.write_text("\n".join(lines) + "\n")

    def sample() -> None:
        last: tuple[Any, ...] | None = None
        since, reported, written = 0.0, False, time.monotonic()
        while True:
            time.sleep(0.002)
            frame = sys._current_frames().get(main_id or 0)
            if frame is not None:
                code = frame.f_code
                key = (id(frame), frame.f_lasti, code.co_filename, frame.f_lineno)
                now = time.perf_counter()
                idle = "runners.py" in code.co_filename or "base_events" in code.co_filename
                if key != last:
                    last, since, reported = key, now, False
                elif not reported and not idle and now - since > STALL_SECONDS:
                    reported = True
                    where = f"{os.path.basename(code.co_filename)}:{frame.f_lineno} {code.co_name}"
                    stalls[where] += 1
                    examples.setdefault(where, "".join(traceback.format_stack(frame, limit=12)))
            if time.monotonic() - written > 2:
                written = time.monotonic()
                write()

    threading.Thread(target=sample, daemon=True).start()
    from scoreboard_api.cli import main as api

    sys.argv = ["scoreboard-api", *argv]
    api()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), sys.argv[3:])
        return
    from scoreboard_devstack.servers import ServiceProcess, free_port

    from bench.seed import seed_board
    from bench.stack import stack
    from bench.tools import wrk

    overrides = dict(arg.split("=", 1) for arg in sys.argv[1:])
    with stack() as running:
        setup = running.start_service("api")
        running.put_board(setup, "stall")
        seed_board(running, "stall", 1000)
        setup.stop()
        report = running.root / "stall-report.txt"
        port = free_port()
        argv = [sys.executable, "-m", "bench.stall_probe", "--serve", str(report)]
        probe = ServiceProcess(
            "api-probe",
            [*argv, "serve", "--port", str(port)],
            port,
            {**running.env, **overrides},
            running.root / "logs",
        )
        probe.start()
        running.processes.append(probe)
        url = f"{probe.url}/api/v1/leaderboards/stall/top"
        wrk(url, connections=32, duration_s=2)
        for _ in range(3):
            result = wrk(url, connections=32, duration_s=5)
            print(
                f"/top: {result.requests_per_second:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                f"p99 {result.p99_ms:.2f} ms, p999 {result.p999_ms:.2f} ms",
                flush=True,
            )
        time.sleep(3)
        print(report.read_text())


if __name__ == "__main__":
    main()
