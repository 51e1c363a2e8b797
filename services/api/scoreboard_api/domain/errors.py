"""The one exception type the service raises for an expected failure.

It carries everything an RFC 9457 problem document needs: HTTP status, a stable
machine-readable ``code``, a human ``detail`` and optional extra headers/members.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def title(self) -> str:
        return TITLES.get(self.status, "Error")


def validation_error(detail: str, **extra: Any) -> ProblemError:
    return ProblemError(400, "validation_error", detail, extra=extra)


def unauthorized(detail: str = "a valid bearer token is required") -> ProblemError:
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str, code: str = "forbidden") -> ProblemError:
    return ProblemError(403, code, detail)


def board_not_found(board: str) -> ProblemError:
    return ProblemError(404, "board_not_found", f"leaderboard {board!r} does not exist")


def dependency_unavailable(dependency: str, retry_after: int = 2) -> ProblemError:
    return ProblemError(
        503,
        "dependency_unavailable",
        f"{dependency} is unavailable, try again shortly",
        headers={"Retry-After": str(retry_after)},
        extra={"dependency": dependency},
    )


def bad_signature(detail: str) -> ProblemError:
    return ProblemError(401, "bad_signature", detail)


class DomainError(Exception):
    """An expected failure named by a stable ``code``, with no HTTP in it: adapters and services
    raise these and the HTTP layer alone maps each kind to a status (``http/problems.py``).
    ``headers`` carries what the failure tells the client beyond its detail (Retry-After, the
    rate-limit state); ``extra`` more members of the problem document."""

    default_code = "error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code or self.default_code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class Invalid(DomainError):
    """The submission or value breaks a rule of its own (e.g. ``total_overflow``)."""

    default_code = "validation_error"


class Refused(DomainError):
    """Not allowed for this caller or this board (banned, fraud, suspended...)."""

    default_code = "forbidden"


class Conflict(DomainError):
    """Contradicts what is stored (``action_conflict``, ``scoring_change_requires_reset``)."""

    default_code = "conflict"


class Limited(DomainError):
    """Over a rate limit; ``headers`` holds Retry-After and the RateLimit state."""

    default_code = "rate_limited"


class Unavailable(DomainError):
    """A dependency (``extra['dependency']``) is down or too slow: try again shortly."""

    default_code = "dependency_unavailable"

    def __init__(self, dependency: str, retry_after: int = 2) -> None:
        super().__init__(
            f"{dependency} is unavailable, try again shortly",
            headers={"Retry-After": str(retry_after)},
            extra={"dependency": dependency},
        )
        self.dependency = dependency
