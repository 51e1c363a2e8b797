"""Seed 001: ``POST /api/score`` and ``GET /api/score-board`` are the v1 submission and the v1
``top`` of the `default` board (the live feed ``/ws/score`` is realtime's)."""

from __future__ import annotations

from litestar import Response, get, post

from scoreboard_api.http.deps import AnyRequest
from scoreboard_api.http.routes_scores import submit_v1, top_v1
from scoreboard_api.http.seeds.common import DEFAULT_BOARD, TAGS
from scoreboard_api.schemas import ScoreSubmission, SubmitResponse, TopResponse


@post(
    "/api/score",
    status_code=200,
    tags=TAGS,
    operation_id="seedPostScore",
    opt={"body": ScoreSubmission, "auth": True},
)
async def post_score(request: AnyRequest) -> Response[SubmitResponse]:
    """Seed 001: the v1 submission on the `default` board (v1 body, v1 answer, `X-Signature`
    on signed boards)."""
    return await submit_v1(request, DEFAULT_BOARD)


@get("/api/score-board", tags=TAGS, operation_id="seedGetScoreBoard")
async def score_board(request: AnyRequest) -> Response[TopResponse]:
    """Seed 001: the v1 `top` body of the `default` board."""
    return await top_v1(request, DEFAULT_BOARD, None)


ROUTES = [post_score, score_board]
