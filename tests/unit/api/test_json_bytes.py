"""Already-encoded JSON answers: the lean path keeps the route's status and the caller's
headers; routes with their own headers or cookies take Litestar's general path."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.datastructures import ResponseHeader
from litestar.testing import create_test_client
from scoreboard_api.http.deps import JsonBytesResponse, json_bytes


@get("/lean")
async def lean() -> JsonBytesResponse:
    return JsonBytesResponse(b'{"a":1}', {"RateLimit": "limit=5"})


@post("/created")
async def created() -> Any:
    return json_bytes(b'{"made":true}')


@post("/ok", status_code=200)
async def ok() -> Any:
    return json_bytes(b"{}")


@get("/decorated", response_headers=[ResponseHeader(name="X-Route", value="yes")])
async def decorated() -> Any:
    return json_bytes(b'{"b":2}', {"X-Call": "1"})


def test_lean_answers_keep_status_body_and_headers() -> None:
    with create_test_client([lean, created, ok, decorated]) as client:
        answer = client.get("/lean")
        assert answer.status_code == 200 and answer.json() == {"a": 1}
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["content-length"] == "7"
        assert answer.headers["ratelimit"] == "limit=5"
        assert client.post("/created").status_code == 201  # Litestar's POST default
        assert client.post("/ok").status_code == 200


def test_route_headers_take_the_general_path() -> None:
    with create_test_client([decorated]) as client:
        answer = client.get("/decorated")
        assert answer.json() == {"b": 2}
        assert answer.headers["x-route"] == "yes" and answer.headers["x-call"] == "1"
