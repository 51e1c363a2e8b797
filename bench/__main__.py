"""`make bench`: every scenario, printed as one table of figures, baselines and ratios.

python -m bench                      # all scenarios, 3 runs each, medians
python -m bench write read --runs 5  # some scenarios
python -m bench --write-docs         # also refresh the table in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import fanout, login_isolation, read_path, write_path
from bench.report import Row, machine, table
from bench.stack import stack

SCENARIOS: dict[str, Callable[..., list[Row]]] = {
    "write": write_path.run,
    "read": read_path.run,
    "login": login_isolation.run,
    "fanout": fanout.run,
}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], default=[])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    chosen = args.scenarios or list(SCENARIOS)
    rows: list[Row] = []
    started = time.monotonic()
    for name in chosen:
        print(f"== {name}", flush=True)
        with stack() as running:
            rows += SCENARIOS[name](
                running, runs=args.runs, seconds=args.seconds, connections=args.connections
            )
        print(table(rows), flush=True)
    elapsed = time.monotonic() - started
    report = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; {args.runs} runs per "
        f"figure (medians), {args.seconds}s each; total {elapsed / 60:.1f} min.\n\n{table(rows)}"
    )
    print("\n" + report)
    if args.write_docs:
        text = DOCS.read_text()
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOCS.write_text(f"{head}{BEGIN}\n{report}\n{END}{tail}")


if __name__ == "__main__":
    main()
