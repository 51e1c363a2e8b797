"""Small helpers the route handlers share: the container, strict body decoding, callers."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from scoreboard_common.policy import is_board_name

from scoreboard_api.domain.errors import ProblemError, validation_error
from scoreboard_api.domain.policy import BoardPolicy
from scoreboard_api.services.auth import Caller
from scoreboard_api.services.container import Container

T = TypeVar("T")
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}
AnyRequest = Request[Any, Any, Any]


def json_bytes(body: bytes, headers: dict[str, str] | None = None) -> Response[Any]:
    """A response whose body is already-encoded JSON (the hot paths encode once)."""
    return Response(body, media_type="application/json", headers=headers)


def container_of(request: AnyRequest) -> Container:
    container: Container = request.app.state.container
    return container


def request_id(request: AnyRequest) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None


def client_ip(request: AnyRequest) -> str | None:
    value = request.scope.get("state", {}).get("client_ip")
    return str(value) if value else None


async def decode_body(request: AnyRequest, kind: type[T]) -> T:
    """Strict JSON decoding: wrong types, unknown fields, bad UTF-8 and out-of-range values are
    400s; bodies above MAX_BODY_BYTES are 413s (raised by ``request.body()``)."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ProblemError(415, "unsupported_media_type", "send the body as application/json")
    body = await request.body()
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
    return await container_of(request).auth.authenticate(request.headers.get("authorization"))


async def require_scope(request: AnyRequest, scope: str) -> Caller:
    return await container_of(request).auth.require_scope(
        request.headers.get("authorization"), scope
    )


async def check_read_access(request: AnyRequest, policy: BoardPolicy) -> None:
    if not policy.spec.access.public_read:
        await authenticate(request)
