"""The admin api client: request shapes and the typed errors the handlers act on."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import httpx
import pytest
from scoreboard_operator.api_client import (
    AdminApi,
    ApiNotFound,
    ApiRejected,
    ApiUnauthorized,
    ApiUnavailable,
    BoardStats,
)

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> AdminApi:
    return AdminApi("http://api.test/", "tok", transport=httpx.MockTransport(handler))


async def test_put_sends_the_payload_with_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"name": "g", "generation": 2})

    api = client(handler)
    out = await api.put_board("g", {"size": 5, "generation": 2})
    await api.aclose()
    assert out == {"name": "g", "generation": 2}
    (request,) = seen
    assert request.method == "PUT"
    assert request.url.path == "/api/v1/admin/leaderboards/g"
    assert request.headers["Authorization"] == "Bearer tok"
    assert json.loads(request.content) == {"size": 5, "generation": 2}


async def test_reset_delete_stats_paths() -> None:
    seen: list[tuple[str, str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url), request.content))
        if request.url.path.endswith("/stats"):
            return httpx.Response(
                200, json={"players": 3, "top_score": 40, "season": 7, "updates_per_minute": 1.5}
            )
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json={"season": 157852800, "replayed": False})

    api = client(handler)
    stats = await api.stats("g")
    assert (stats.players, stats.top_score, stats.season, stats.updates_per_minute) == (
        3,
        40,
        7,
        1.5,
    )
    await api.reset("g", 157852800)
    assert await api.delete_board("g", archive=True) is True
    await api.aclose()
    assert seen[1] == (
        "POST",
        "http://api.test/api/v1/admin/leaderboards/g/reset",
        b'{"season":157852800}',
    )
    assert seen[2][:2] == ("DELETE", "http://api.test/api/v1/admin/leaderboards/g?archive=true")


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (503, ApiUnavailable, "ApiUnavailable"),
        (500, ApiUnavailable, "ApiUnavailable"),
        (429, ApiUnavailable, "ApiUnavailable"),
        (401, ApiUnauthorized, "ApiUnauthorized"),
        (403, ApiUnauthorized, "ApiUnauthorized"),
        (400, ApiRejected, "ApiRejected"),
        (422, ApiRejected, "ApiRejected"),
        (404, ApiNotFound, "BoardNotFound"),
    ],
)
async def test_status_codes_map_to_typed_errors(
    status: int, error: type[Exception], reason: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            json={
                "type": "about:blank",
                "title": "nope",
                "detail": "size too big",
                "code": "invalid_policy",
            },
            headers={"Content-Type": "application/problem+json", "Retry-After": "7"},
        )

    api = client(handler)
    with pytest.raises(error) as info:
        await api.put_board("g", {"generation": 1})
    await api.aclose()
    assert info.value.reason == reason  # type: ignore[attr-defined]
    assert "size too big" in str(info.value)
    assert info.value.code == "invalid_policy"  # type: ignore[attr-defined]
    assert info.value.retry_after == 7.0  # type: ignore[attr-defined]


async def test_missing_boards_are_none_or_false() -> None:
    api = client(
        lambda request: httpx.Response(404, json={"detail": "unknown board", "code": "not_found"})
    )
    assert await api.get_board("g") is None
    assert await api.delete_board("g") is False
    await api.aclose()


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = AdminApi(f"http://127.0.0.1:{port}", "tok", timeout=2)
    with pytest.raises(ApiUnavailable) as info:
        await api.put_board("g", {"generation": 1})
    assert info.value.reason == "ApiUnavailable"
    assert await api.healthy() is False
    await api.aclose()


def test_stats_read_the_apis_own_names_only() -> None:
    stats = BoardStats.from_json(
        {"players": 2, "top_score": 9, "season": 4, "fraud_events": 1, "updates_per_minute": 3}
    )
    assert (stats.players, stats.top_score, stats.season, stats.fraud_events) == (2, 9, 4, 1)
    assert stats.updates_per_minute == 3.0
    assert BoardStats.from_json({"players": True}).players is None
    other_spellings = {"totalPlayers": 2, "topScore": 9, "currentSeason": 4, "fraudEvents": 1}
    assert BoardStats.from_json(other_spellings) == BoardStats(raw=other_spellings)


def test_stats_fields_are_the_apis_stats_response_fields() -> None:
    """The operator reads ``GET .../stats`` by the api's names; a rename in the api fails here."""
    import dataclasses

    from scoreboard_api.schemas import StatsResponse

    read = {f.name for f in dataclasses.fields(BoardStats)} - {"raw"}
    assert read <= set(StatsResponse.__struct_fields__)


async def test_every_call_reports_whether_the_api_answered() -> None:
    """The operator's api-up gauge is fed here, once, instead of in every handler."""
    import asyncio

    statuses = iter([200, 404, 503])

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        status = next(statuses)
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
            f"content-length: 2\r\nconnection: close\r\n\r\n{{}}".encode()
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    heard: list[bool] = []
    api = AdminApi(f"http://127.0.0.1:{port}", "tok", timeout=5, on_reachable=heard.append)
    await api.stats("g")
    with pytest.raises(ApiNotFound):
        await api.stats("g")
    with pytest.raises(ApiUnavailable):
        await api.stats("g")
    await api.aclose()
    server.close()
    await server.wait_closed()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = AdminApi(f"http://127.0.0.1:{closed}", "tok", timeout=2, on_reachable=heard.append)
    with pytest.raises(ApiUnavailable):
        await down.stats("g")
    await down.aclose()
    assert heard == [True, True, False, False]
