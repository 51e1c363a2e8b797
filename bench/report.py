"""One row of the benchmark table: a figure, its same-run baseline, and the ratio."""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    baseline_name: str
    baseline: float
    target: str = ""
    met: bool | None = None
    note: str = ""
    lower_is_better: bool = False

    @property
    def ratio(self) -> float:
        if not self.baseline or math.isnan(self.baseline):
            return float("nan")
        return self.value / self.baseline


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    lines = [
        "| Scenario | Figure | Baseline | Baseline figure | Ratio | Target | Met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for row in rows:
        met = "—" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.name} | {_fmt(row.value)} | {row.baseline_name} | {_fmt(row.baseline)} | "
            f"{_fmt(row.ratio)} | {row.target} | {met} |"
        )
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note]
    return "\n".join([*lines, "", *notes] if notes else lines)


def machine() -> str:
    import os

    import psutil

    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
