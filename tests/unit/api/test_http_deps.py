"""Request header reads that skip Litestar's header container (scoreboard_api.http.deps)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from scoreboard_api.http.deps import header


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
