"""Small helpers the route handlers share: the container, strict body decoding, callers."""

from __future__ import annotations

import math
import uuid
from typing import Any, TypeVar, cast

import msgspec
from litestar import Request, Response
from litestar.exceptions import ClientException, InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState
from scoreboard_common.http_server import scope_header
from scoreboard_common.policy import is_board_name

from scoreboard_api.domain.errors import ProblemError, validation_error
from scoreboard_api.domain.policy import BoardPolicy
from scoreboard_api.services.auth import Caller
from scoreboard_api.services.container import Container

T = TypeVar("T")
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
AnyRequest = Request[Any, Any, Any]


class _EncodedJson:
    """The ASGI app of an already-encoded JSON answer: its two messages, built once."""

    __slots__ = ("_body", "_start")

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None) -> None:
        raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if headers:
            raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self._start = {"type": "http.response.start", "status": status, "headers": raw}
        self._body = {"type": "http.response.body", "body": body, "more_body": False}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(self._start)
        await send(self._body)


class JsonBytesResponse(Response[Any]):
    """An answer (the route's status) whose body is already-encoded JSON (the hot paths encode
    once), sent without Litestar's general response machinery: its header container and content
    negotiation cost ~10 µs a request, a third of ``GET /top`` served from memory
    (docs/benchmarks.md). A route that adds cookies, headers or background tasks, or a HEAD
    request, takes the general path."""

    def __init__(self, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._encoded = body
        self._extra_headers = headers

    def to_asgi_response(self, app: Any, request: AnyRequest, **route: Any) -> Any:
        general = (
            route.get("cookies")
            or route.get("headers")
            or route.get("background")
            or route.get("is_head_response")
            or request.method == "HEAD"
        )
        if general:
            plain = Response(
                self._encoded, media_type="application/json", headers=self._extra_headers
            )
            return plain.to_asgi_response(app, request, **route)
        return _EncodedJson(route.get("status_code") or 200, self._encoded, self._extra_headers)


def json_bytes(body: bytes, headers: dict[str, str] | None = None) -> Response[Any]:
    """A response whose body is already-encoded JSON."""
    return JsonBytesResponse(body, headers)


def container_of(request: AnyRequest) -> Container:
    container: Container = request.app.state.container
    return container


def header(request: AnyRequest, name: bytes) -> str | None:
    """The first value of the request header ``name`` (lower case), without Litestar's header
    container (:func:`scoreboard_common.http_server.scope_header`)."""
    return scope_header(request.scope, name)


def request_id(request: AnyRequest) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None


def client_ip(request: AnyRequest) -> str | None:
    value = request.scope.get("state", {}).get("client_ip")
    return str(value) if value else None


async def read_body(request: AnyRequest) -> bytes:
    """The request body, read once straight from ASGI ``receive``. Litestar's ``request.body()``
    builds its header container to learn the length and streams through a generator: ~6 % of a
    score write's CPU (docs/benchmarks.md, "Phase 12"). Same limits and answers as Litestar's:
    413 (``body_too_large``) when the announced or streamed size passes the route's
    ``request_max_body_size``, 400 when more arrives than announced. The body is kept where
    Litestar keeps it, so ``request.body()`` afterwards returns it too (instead of waiting on
    a ``receive`` that has nothing left)."""
    state = ScopeState.from_scope(request.scope)
    if state.body is not Empty:
        return state.body
    limit = request.route_handler.resolve_request_max_body_size() or math.inf
    announced_text = header(request, b"content-length")
    try:
        announced = int(announced_text) if announced_text is not None else None
    except ValueError:
        raise ClientException(f"Invalid content-length: {announced_text!r}") from None
    if announced is not None and announced > limit:
        raise RequestEntityTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
        chunk = cast(bytes, message.get("body", b""))
        if chunk:
            size += len(chunk)
            if announced is not None and size > announced:
                raise ClientException("Malformed request")
            if size > limit:
                raise RequestEntityTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    state.body = body
    return body


async def decode_body(request: AnyRequest, kind: type[T]) -> T:
    """Strict JSON decoding: wrong types, unknown fields, bad UTF-8 and out-of-range values are
    400s; bodies above MAX_BODY_BYTES are 413s (raised by :func:`read_body`)."""
    content_type = header(request, b"content-type")
    media = "application/json" if content_type is None else content_type
    media = media.split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ProblemError(415, "unsupported_media_type", "send the body as application/json")
    body = await read_body(request)
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        return decoder.decode(body)  # type: ignore[no-any-return]
    except msgspec.ValidationError as error:
        raise validation_error(str(error)) from None
    except msgspec.DecodeError as error:
        raise ProblemError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    except UnicodeDecodeError:
        raise ProblemError(400, "malformed_json", "the body is not valid UTF-8") from None


def check_board_name(board: str) -> None:
    if not is_board_name(board):
        raise ProblemError(404, "board_not_found", "no leaderboard has this name")


def parse_user_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise validation_error("user_id must be a UUID") from None


async def authenticate(request: AnyRequest) -> Caller:
    return await container_of(request).auth.authenticate(header(request, b"authorization"))


async def require_scope(request: AnyRequest, scope: str) -> Caller:
    return await container_of(request).auth.require_scope(header(request, b"authorization"), scope)


async def check_read_access(request: AnyRequest, policy: BoardPolicy) -> None:
    if not policy.spec.access.public_read:
        await authenticate(request)
