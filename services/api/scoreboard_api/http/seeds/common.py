"""What the seed modules share: the board they serve, their OpenAPI tag, and the one call into
the v1 write path (``services.scores.submit``)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime

from scoreboard_api.domain.errors import DomainError, ProblemError, validation_error
from scoreboard_api.domain.scoring import ACTION_ID_PATTERN, Submission
from scoreboard_api.domain.signing import Signature
from scoreboard_api.http.deps import AnyRequest, client_ip, container_of, request_id
from scoreboard_api.services import scores
from scoreboard_api.services.auth import Caller
from scoreboard_api.services.scores import WriteOutcome

DEFAULT_BOARD = "default"
TAGS = ["seed compatibility"]
_ACTION_ID_RE = re.compile(ACTION_ID_PATTERN)
_REMAINING_RE = re.compile(r";r=(\d+)")
UNSIGNED = Signature(None, None, b"")


def idempotency_key(request: AnyRequest) -> str | None:
    """The optional ``Idempotency-Key`` header, which becomes the action id."""
    key = request.headers.get("idempotency-key")
    if key is not None and (not _ACTION_ID_RE.fullmatch(key) or "\n" in key):
        raise validation_error("Idempotency-Key must be 1-100 chars of [A-Za-z0-9._:-]")
    return key


def fresh_action_id() -> str:
    return f"seed:{uuid.uuid4().hex}"


def _with_remaining(headers: dict[str, str]) -> dict[str, str]:
    """Seed 004's ``X-RateLimit-Remaining`` from the ``RateLimit`` header of the answer."""
    found = _REMAINING_RE.search(headers.get("RateLimit", ""))
    if found:
        return {**headers, "X-RateLimit-Remaining": found.group(1)}
    return headers


async def submit_default(
    request: AnyRequest,
    caller: Caller,
    *,
    user_id: str,
    action_id: str,
    score_increment: int | None,
    action: str | None = None,
    timestamp: datetime | None = None,
    signature: Signature = UNSIGNED,
) -> WriteOutcome:
    """One submission on the default board. Without ``timestamp`` the server's clock is used
    (and is not part of the replay comparison). Every answer that went through the rate limiter,
    error or not, carries ``X-RateLimit-Remaining``."""
    try:
        outcome = await scores.submit(
            container_of(request),
            caller=caller,
            submission=Submission(
                action_id=action_id,
                timestamp=timestamp or datetime.now(UTC),
                action=action,
                score_increment=score_increment,
                user_id=user_id,
                server_timestamp=timestamp is None,
                board=DEFAULT_BOARD,
                client_ip=client_ip(request),
                request_id=request_id(request),
            ),
            signature=signature,
        )
    except (ProblemError, DomainError) as error:
        error.headers = _with_remaining(error.headers)
        raise
    return dataclasses.replace(outcome, headers=_with_remaining(outcome.headers))
