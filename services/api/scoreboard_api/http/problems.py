"""RFC 9457 problem responses and the exception handlers that produce them."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from scoreboard_api.domain.errors import (
    TITLES,
    Conflict,
    DomainError,
    Invalid,
    Limited,
    ProblemError,
    Refused,
    Unavailable,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_encoder = msgspec.json.Encoder()
log = logging.getLogger("scoreboard.api")


def problem_response(
    request: Request[Any, Any, Any] | None,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[bytes]:
    body: dict[str, Any] = {
        "type": f"https://scoreboard.dev/problems/{code.replace('_', '-')}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = request.scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
    if extra:
        body.update(extra)
    return Response(
        content=_encoder.encode(body),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def handle_problem(request: Request[Any, Any, Any], error: ProblemError) -> Response[bytes]:
    return problem_response(
        request, error.status, error.code, error.detail, headers=error.headers, extra=error.extra
    )


#: The HTTP status of each kind of domain error: the one place they meet HTTP.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Refused: 403,
    Conflict: 409,
    Limited: 429,
    Unavailable: 503,
}


def domain_status(error: DomainError) -> int:
    for kind in type(error).__mro__:
        status = DOMAIN_STATUS.get(kind)
        if status is not None:
            return status
    return 500


def handle_domain(request: Request[Any, Any, Any], error: DomainError) -> Response[bytes]:
    return problem_response(
        request,
        domain_status(error),
        error.code,
        error.detail,
        headers=error.headers,
        extra=error.extra,
    )


def handle_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    status = error.status_code
    headers = dict(error.headers or {})
    if isinstance(error, RequestEntityTooLarge):
        return problem_response(request, 413, "body_too_large", "the request body is too large")
    if isinstance(error, NotFoundException):
        return problem_response(request, 404, "not_found", "no such resource")
    if isinstance(error, MethodNotAllowedException):
        allowed = headers.pop("allowed", None)
        if allowed:
            headers["Allow"] = allowed
        return problem_response(
            request, 405, "method_not_allowed", "method not allowed here", headers=headers
        )
    if isinstance(error, ValidationException):
        return problem_response(request, 400, "validation_error", _validation_detail(error))
    if status >= 500:
        log.error("server error: %s", error.detail)
        return problem_response(request, status, "internal_error", "internal server error")
    code = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}.get(status, "bad_request")
    return problem_response(request, status, code, str(error.detail), headers=headers)


def _validation_detail(error: ValidationException) -> str:
    extra = error.extra
    if isinstance(extra, list) and extra:
        first = extra[0]
        if isinstance(first, dict):
            key = first.get("key")
            message = first.get("message", "invalid value")
            return f"{key}: {message}" if key else str(message)
    return str(error.detail or "invalid request")


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.exception("unhandled error", exc_info=error)
    return problem_response(request, 500, "internal_error", "internal server error")
