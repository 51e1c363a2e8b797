"""One score update is one trace across services: the api's request span, its PostgreSQL and
Redis client spans, and the realtime broadcast it causes, read from the console exporter
(``OTEL_TRACES_EXPORTER=console`` prints every finished span as JSON into the process log)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import websockets
from scoreboard_devstack.servers import ServiceProcess

from tests.support import wait_for_async
from tests.support.api import board_and_player

ServiceFactory = Callable[..., ServiceProcess]


def spans_in(log: Path) -> list[dict[str, Any]]:
    """Every JSON span object in a process log, whatever else (log lines) is around them."""
    text = log.read_text(errors="replace")
    decoder = json.JSONDecoder()
    spans: list[dict[str, Any]] = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict) and "context" in value and "name" in value:
            spans.append(value)
        position = text.find("{", end)
    return spans


def attribute_text(span: dict[str, Any]) -> str:
    return " ".join(str(v) for v in (span.get("attributes") or {}).values())


async def test_a_score_update_is_one_trace_across_api_and_realtime(
    start_api: ServiceFactory, start_realtime: ServiceFactory, admin_token: str
) -> None:
    api = start_api(OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="scoreboard-api")
    realtime = start_realtime(
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="scoreboard-realtime",
        PUBLIC_API_URL=api.url,
    )
    async with httpx.AsyncClient(base_url=api.url, timeout=15) as http:
        board, _, token = await board_and_player(http, admin_token, "trace")

        ws = realtime.url.replace("http://", "ws://") + f"/ws/v1/leaderboards/{board}"
        async with websockets.connect(ws, open_timeout=5) as feed:
            first = json.loads(await asyncio.wait_for(feed.recv(), 5))
            assert first["type"] == "snapshot", first
            response = await http.post(
                f"/api/v1/leaderboards/{board}/scores",
                json={
                    "action_id": str(uuid.uuid4()),
                    "score_increment": 9,
                    "timestamp": datetime.now(UTC).isoformat(),
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
            # Wait for the snapshot that carries this write, not just a newer version: on a slow
            # machine another change of the new board was broadcast first (a new version 80 ms
            # before the write was placed), and closing the feed then dropped the write's own
            # broadcast, the span this test looks for.
            while True:
                message = json.loads(await asyncio.wait_for(feed.recv(), 10))
                if message["type"] == "snapshot" and any(
                    entry["score"] == 9 for entry in message["entries"]
                ):
                    break

    def request_span() -> dict[str, Any] | None:
        for span in spans_in(api.log_path):
            if (
                span.get("kind") == "SpanKind.SERVER"
                and "POST" in span["name"]
                and f"/api/v1/leaderboards/{board}/scores" in attribute_text(span)
            ):
                return span
        return None

    def broadcast_span(trace_id: str) -> dict[str, Any] | None:
        for span in spans_in(realtime.log_path):
            if span["name"] == "realtime.broadcast" and span["context"]["trace_id"] == trace_id:
                return span
        return None

    # The exporter writes synchronously at span end; allow a moment for the last spans.
    server = await wait_for_async(
        request_span,
        10,
        lambda: f"a server span for POST /scores in {api.log_path}:\n"
        + "\n".join(s["name"] for s in spans_in(api.log_path)),
        interval=0.1,
    )
    trace_id = server["context"]["trace_id"]
    broadcast = await wait_for_async(
        lambda: broadcast_span(trace_id),
        10,
        lambda: f"a realtime.broadcast span in trace {trace_id} in {realtime.log_path}: "
        + str(
            [
                (s["name"], s["context"]["trace_id"], s.get("parent_id"))
                for s in spans_in(realtime.log_path)
            ]
        ),
        interval=0.1,
    )

    api_trace = [s for s in spans_in(api.log_path) if s["context"]["trace_id"] == trace_id]
    api_span_ids = {s["context"]["span_id"] for s in api_trace}
    assert server["context"]["span_id"] in api_span_ids
    assert broadcast["parent_id"] in api_span_ids, (
        f"broadcast parent {broadcast['parent_id']} is not a span of the api trace: "
        + str([(s["name"], s["context"]["span_id"]) for s in api_trace])
    )
    assert (broadcast.get("resource") or {}).get("attributes", {}).get("service.name") == (
        "scoreboard-realtime"
    )
    assert (server.get("resource") or {}).get("attributes", {}).get("service.name") == (
        "scoreboard-api"
    )

    client_spans = [s for s in api_trace if s.get("kind") == "SpanKind.CLIENT"]
    systems = {(s.get("attributes") or {}).get("db.system") for s in client_spans}
    assert "postgresql" in systems, [(s["name"], s.get("attributes")) for s in client_spans]
    assert "redis" in systems, [(s["name"], s.get("attributes")) for s in client_spans]
