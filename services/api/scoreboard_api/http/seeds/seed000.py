"""Seed 000: ``POST /api/scores/update`` with ``{action_id, score_increment, timestamp}`` and
``GET /api/scores/leaderboard`` (which seed 003 shares). A duplicate ``action_id`` answers with
the original result (the v1 replay) instead of the seed's 403."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get

from scoreboard_api.http.deps import (
    AnyRequest,
    check_read_access,
    container_of,
    decode_body,
    json_bytes,
)
from scoreboard_api.http.seeds.common import DEFAULT_BOARD, TAGS, submit_default
from scoreboard_api.schemas import (
    Seed000UpdateRequest,
    Seed000UpdateResponse,
    SeedLeaderboardResponse,
    TopResponse,
)
from scoreboard_api.services import reads
from scoreboard_api.services.auth import Caller
from scoreboard_api.services.scores import active_board

_encoder = msgspec.json.Encoder()
_top = msgspec.json.Decoder(TopResponse)


async def update(request: AnyRequest, caller: Caller) -> Response[Any]:
    body = await decode_body(request, Seed000UpdateRequest)
    outcome = await submit_default(
        request,
        caller,
        user_id=caller.user_id,
        action_id=body.action_id,
        score_increment=body.score_increment,
        timestamp=body.timestamp,
    )
    answer = Seed000UpdateResponse(
        success=True,
        user_id=outcome.user_id,
        new_total_score=outcome.new_total,
        leaderboard_position=outcome.rank,
    )
    return json_bytes(_encoder.encode(answer), outcome.headers)


@get("/api/scores/leaderboard", tags=TAGS, operation_id="seedGetLeaderboard")
async def leaderboard(request: AnyRequest) -> SeedLeaderboardResponse:
    """Seeds 000 and 003: the top N of the `default` board."""
    container = container_of(request)
    await check_read_access(request, active_board(container, DEFAULT_BOARD))
    top = _top.decode(await reads.top_bytes(container, DEFAULT_BOARD, None))
    return SeedLeaderboardResponse(
        leaderboard=top.entries, total_players=top.total_players, last_refresh=top.generated_at
    )


ROUTES = [leaderboard]
