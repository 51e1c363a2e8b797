"""Load tools the benchmarks drive (wrk, pgbench) and how their figures are read."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int
    cpu_server_s: float = 0.0
    cpu_client_s: float = 0.0

    def server_cpu_per_request_s(self, seconds: float) -> float:
        """CPU the server spent per request served in a run of ``seconds``: the steadier
        figure on a shared machine."""
        return self.cpu_server_s / max(1.0, self.requests_per_second * seconds)


def require(binary: str, hint: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(f"{binary} is missing: {hint}")
    return path


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU of a process and its children (uvicorn workers, postgres backends)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def wrk(
    url: str,
    *,
    connections: int,
    duration_s: int,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
    threads: int = 1,
    rate: int | None = None,
    server_pid: int | None = None,
    pace_ms: float | None = None,
) -> LoadResult:
    """Run wrk (one thread by default: the server needs the other core) and parse its JSON line.

    ``pace_ms``: each connection waits a random think time of that mean after each answer
    (``wrk/paced.lua``); ``None`` sends as fast as answered."""
    binary = require("wrk", "run `make system-deps`")
    parts = [script] if script is not None else []
    if pace_ms is not None:
        parts.append(HERE / "wrk" / "paced.lua")
    parts.append(HERE / "wrk" / "report.lua")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as combined:
        combined.write("\n".join(part.read_text() for part in parts))
    argv = [
        binary,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{duration_s}s",
        "--timeout",
        "5s",
        "-s",
        combined.name,
        url,
    ]
    if script_args:
        argv += ["--", *script_args]
    before_server = tree_cpu_seconds(server_pid) if server_pid else 0.0
    env = {**os.environ, "WRK_PACE_MS": str(pace_ms)} if pace_ms is not None else None
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    ps = psutil.Process(process.pid)
    client_cpu = 0.0
    out, err = "", ""
    try:
        while True:
            try:
                times = ps.cpu_times()
                client_cpu = times.user + times.system
            except psutil.NoSuchProcess:
                pass
            try:
                out, err = process.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        Path(combined.name).unlink(missing_ok=True)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {err}")
    line = next(line for line in reversed(out.splitlines()) if line.startswith("{"))
    data = json.loads(line)
    seconds = data["duration_us"] / 1e6
    return LoadResult(
        requests_per_second=(data["requests"] - data["non2xx"]) / seconds,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        p999_ms=data["p999_us"] / 1000,
        errors=data["non2xx"] + data["socket_errors"],
        cpu_server_s=(tree_cpu_seconds(server_pid) - before_server) if server_pid else 0.0,
        cpu_client_s=client_cpu,
    )


def pgbench(
    bin_dir: Path,
    dsn: str,
    script: str,
    *,
    clients: int,
    duration_s: int,
    defines: dict[str, str],
    rate: int | None = None,
) -> LoadResult:
    """Run pgbench with a custom script (prepared statements, one thread) and read p50/p99/p999
    from its per-transaction log. ``rate``: transactions per second on a schedule (``-R``)
    instead of as fast as possible."""
    with tempfile.TemporaryDirectory() as work:
        script_path = Path(work) / "script.sql"
        script_path.write_text(script)
        argv = [
            str(bin_dir / "pgbench"),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "1",
            "-T",
            str(duration_s),
            "-f",
            str(script_path),
            "-l",
            f"--log-prefix={work}/tx",
        ]
        if rate is not None:
            argv += ["-R", str(rate)]
        for key, value in defines.items():
            argv += ["-D", f"{key}={value}"]
        argv.append(dsn)
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=work)
        if result.returncode != 0:
            raise RuntimeError(f"pgbench failed: {result.stderr}\n{result.stdout}")
        latencies_us = sorted(
            int(line.split()[2])
            for log in Path(work).glob("tx*")
            for line in log.read_text().splitlines()
            if line and line.split()[2].isdigit()
        )
    tps = 0.0
    failed = 0
    for line in result.stdout.splitlines():
        if line.startswith("tps ="):
            tps = float(line.split()[2])
        elif line.startswith("number of failed transactions"):
            failed = int(line.split(":")[1].split()[0])
    return LoadResult(
        requests_per_second=tps,
        p50_ms=percentile(latencies_us, 50) / 1000,
        p99_ms=percentile(latencies_us, 99) / 1000,
        p999_ms=percentile(latencies_us, 99.9) / 1000,
        errors=failed,
    )


def percentile(sorted_values: list[int] | list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return float(sorted_values[index])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def round_ratios(figures: list[LoadResult], baselines: list[LoadResult]) -> str:
    """Each round's req/s over its own interleaved baseline's: the spread behind a ratio of
    medians on a noisy machine."""
    ratios = [
        f.requests_per_second / b.requests_per_second
        for f, b in zip(figures, baselines, strict=True)
        if b.requests_per_second
    ]
    return "per round " + " / ".join(f"{r:.2f}" for r in ratios)
