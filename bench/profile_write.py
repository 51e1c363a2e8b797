"""Profile the api under the write load: ``py-spy record`` on one api worker while ``wrk``
posts submissions (the write scenario's load), written as a flame graph (SVG) and as the
top functions by own time (text).

.venv/bin/python -m bench.profile_write docs/benchmarks/write-before   # .svg + .txt
(py-spy: ``uv pip install py-spy`` into the venv; it is not a project dependency.)
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
from pathlib import Path

from bench.stack import stack
from bench.write_path import submissions, user_tokens

_OURS = ("scoreboard_", "redis/", "asyncpg/", "litestar/middleware", "prometheus", "msgspec")


def top_functions(collapsed: Path, limit: int = 30) -> str:
    """Own and total sample shares per function, from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack_text.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{samples} samples", "", "own %  function"]
    lines += [f"{100 * n / samples:5.1f}  {f}" for f, n in own.most_common(limit)]
    lines += ["", "total %  function (the api, its drivers, the middleware)"]
    lines += [
        f"{100 * n / samples:5.1f}  {f}"
        for f, n in total.most_common()
        if any(part in f for part in _OURS)
    ][: limit * 2]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_write")
    parser.add_argument("output", help="path without suffix: writes .svg and .txt")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        raise SystemExit("py-spy is not installed in the venv")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with stack() as running:
        api = running.start_service("api", workers=1)
        running.put_board(api)
        with user_tokens(running) as tokens:
            collapsed = out.with_suffix(".collapsed")
            recorders = [
                subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "--pid",
                        str(api.pid),
                        "--subprocesses",
                        "--nonblocking",
                        "--duration",
                        str(args.seconds),
                        "--format",
                        fmt,
                        "--output",
                        str(path),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for fmt, path in (("flamegraph", out.with_suffix(".svg")), ("raw", collapsed))
            ]
            result = submissions(api, tokens, connections=args.connections, seconds=args.seconds)
            for recorder in recorders:
                recorder.wait(timeout=60)
    header = (
        f"py-spy record, one api worker, wrk c={args.connections} for {args.seconds}s: "
        f"{result.requests_per_second:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, api CPU {result.cpu_server_s:.1f}s\n"
    )
    out.with_suffix(".txt").write_text(header + top_functions(collapsed))
    collapsed.unlink(missing_ok=True)
    print(out.with_suffix(".txt").read_text()[:3000])


if __name__ == "__main__":
    main()
