"""Seed 004: ``POST /api/scores/update`` with ``{userId, scoreIncrement}`` (optional
``Idempotency-Key`` header) answers ``{status, message, newScore}`` with
``X-RateLimit-Remaining``; ``GET /api/scores/top`` is the v1 ``top`` body. The live feed
``/scores/live`` is realtime's (``{event: "scoresUpdate", topScores}``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Response, get
from litestar.params import Parameter

from scoreboard_api.http.deps import AnyRequest, decode_body, json_bytes
from scoreboard_api.http.routes_scores import top_v1
from scoreboard_api.http.seeds.common import (
    DEFAULT_BOARD,
    TAGS,
    fresh_action_id,
    idempotency_key,
    submit_default,
)
from scoreboard_api.schemas import Seed004UpdateRequest, Seed004UpdateResponse, TopResponse
from scoreboard_api.services.auth import Caller

_encoder = msgspec.json.Encoder()


async def update(request: AnyRequest, caller: Caller) -> Response[Any]:
    body = await decode_body(request, Seed004UpdateRequest)
    outcome = await submit_default(
        request,
        caller,
        user_id=str(body.user_id),
        action_id=idempotency_key(request) or fresh_action_id(),
        score_increment=body.score_increment,
    )
    answer = Seed004UpdateResponse(
        status="success", message="Score updated", newScore=outcome.new_total
    )
    return json_bytes(_encoder.encode(answer), outcome.headers)


@get("/api/scores/top", tags=TAGS, operation_id="seedGetTop")
async def top(
    request: AnyRequest,
    limit: Annotated[int | None, Parameter(ge=1, le=100, required=False)] = None,
) -> Response[TopResponse]:
    """Seed 004: the v1 `top` body of the `default` board."""
    return await top_v1(request, DEFAULT_BOARD, limit)


ROUTES = [top]
