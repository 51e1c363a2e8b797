"""``POST /api/scores/update``: seeds 000, 003 and 004 share this route; their bodies are told
apart by their members (000: ``action_id``; 003: ``idempotencyKey``/``actionId``/``signature``;
004: ``scoreIncrement``), then each seed's module decodes it strictly and answers in its shape."""

from __future__ import annotations

from typing import Any

from litestar import Response, post

from scoreboard_api.domain.errors import validation_error
from scoreboard_api.http.deps import AnyRequest, authenticate, container_of, decode_body
from scoreboard_api.http.seeds import seed000, seed003, seed004
from scoreboard_api.http.seeds.common import DEFAULT_BOARD, TAGS
from scoreboard_api.schemas import (
    Seed000UpdateRequest,
    Seed003UpdateRequest,
    Seed004UpdateRequest,
)
from scoreboard_api.services.scores import active_board

_SEED_003 = frozenset({"idempotencyKey", "actionId", "signature"})


def seed_of(document: dict[str, Any]) -> str:
    """Which seed a body was written for, by its members."""
    if "action_id" in document or "score_increment" in document:
        return "000"
    if _SEED_003 & document.keys():
        return "003"
    if "scoreIncrement" in document:
        return "004"
    raise validation_error(
        "send {action_id, score_increment, timestamp} (seed 000), "
        "{userId, actionId, timestamp, idempotencyKey, signature} (seed 003) "
        "or {userId, scoreIncrement} (seed 004)"
    )


@post(
    "/api/scores/update",
    status_code=200,
    tags=TAGS,
    operation_id="seedUpdateScore",
    opt={
        "body": (Seed000UpdateRequest, Seed003UpdateRequest, Seed004UpdateRequest),
        "auth": True,
    },
)
async def update_score(request: AnyRequest) -> Response[Any]:
    """Seeds 000, 003 and 004: a score update on the `default` board, answered in the shape of
    the seed whose body was sent. Seed 004 may send `Idempotency-Key`; seed 003 signs its body
    (`signature`, key id in `X-Signature-Key`) when the board requires it. Every answer that
    went through the rate limiter carries `X-RateLimit-Remaining`."""
    caller = await authenticate(request)
    active_board(container_of(request), DEFAULT_BOARD)
    document = await decode_body(request, dict[str, Any])
    seed = seed_of(document)
    if seed == "000":
        return await seed000.update(request, caller)
    if seed == "003":
        return await seed003.update(request, caller, document)
    return await seed004.update(request, caller)
