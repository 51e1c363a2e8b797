"""Request header and body reads that skip Litestar's header container
(scoreboard_api.http.deps)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Request, post
from litestar.testing import create_test_client
from scoreboard_api.http.deps import header, read_body


def _request(*headers: tuple[bytes, bytes]) -> Request[Any, Any, Any]:
    return Request({"type": "http", "method": "POST", "path": "/", "headers": list(headers)})


def test_header_is_the_first_value_of_that_name() -> None:
    request = _request(
        (b"content-type", b"application/json"),
        (b"authorization", b"Bearer one"),
        (b"authorization", b"Bearer two"),
    )
    assert header(request, b"authorization") == "Bearer one"
    assert header(request, b"authorization") == request.headers.get("authorization")
    assert header(request, b"content-type") == "application/json"


def test_a_missing_header_is_none_and_an_empty_one_is_empty() -> None:
    request = _request((b"x-signature", b""))
    assert header(request, b"authorization") is None
    assert header(request, b"x-signature") == ""


def test_header_values_are_latin_1_as_in_http() -> None:
    assert header(_request((b"x-signature", "keyId=é".encode("latin-1"))), b"x-signature") == (
        "keyId=é"
    )


@post("/echo", request_max_body_size=64, status_code=200)
async def _echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
    first = await read_body(request)
    again = await read_body(request)  # the signature check reads it after decoding
    litestar_view = await request.body()  # would wait on an empty `receive` if not shared
    same = first is again and litestar_view == first
    return {"size": len(first), "same": same, "text": first.decode()}


def test_read_body_reads_once_and_keeps_it_for_the_second_reader() -> None:
    with create_test_client([_echo]) as client:
        answer = client.post("/echo", content=b'{"a": 1}')
    assert answer.status_code == 200
    assert answer.json() == {"size": 8, "same": True, "text": '{"a": 1}'}


def test_read_body_joins_chunks_and_refuses_past_the_routes_limit() -> None:
    def chunks(count: int) -> Iterator[bytes]:
        yield from (b"0123456789" for _ in range(count))

    with create_test_client([_echo]) as client:
        small = client.post("/echo", content=chunks(3))  # chunked: no Content-Length
        streamed_over = client.post("/echo", content=chunks(7))
        announced_over = client.post("/echo", content=b"x" * 65)
    assert small.json()["text"] == "0123456789" * 3
    assert streamed_over.status_code == 413
    assert announced_over.status_code == 413
