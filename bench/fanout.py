"""Live fan-out: delegates to bench/ws_fanout.py (the WebSocket load client)."""

from __future__ import annotations

from bench.report import Row
from bench.stack import Stack


def run(stack: Stack, *, runs: int, seconds: int, connections: int) -> list[Row]:
    from bench import ws_fanout

    return ws_fanout.scenario(stack, runs=runs, seconds=seconds)
