"""Seed 002: sign in with an e-mail address, read ``{scores: [{email, score}]}`` and add one
point with ``POST /scores/increment`` (the live feed ``/scores/websocket`` is realtime's).

The platform never publishes e-mail addresses: ``email`` carries the public username."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get, post

from scoreboard_api.http.deps import (
    AnyRequest,
    authenticate,
    check_read_access,
    container_of,
    decode_body,
    json_bytes,
)
from scoreboard_api.http.routes_identity import sign_in
from scoreboard_api.http.seeds.common import (
    DEFAULT_BOARD,
    TAGS,
    fresh_action_id,
    idempotency_key,
    submit_default,
)
from scoreboard_api.schemas import (
    Seed002LoginRequest,
    Seed002LoginResponse,
    Seed002Message,
    Seed002Score,
    Seed002Scores,
    TopResponse,
)
from scoreboard_api.services import reads
from scoreboard_api.services.scores import active_board

_encoder = msgspec.json.Encoder()
_top = msgspec.json.Decoder(TopResponse)


@post(
    "/users/auth/login",
    status_code=200,
    tags=TAGS,
    operation_id="seedLoginEmail",
    opt={"body": Seed002LoginRequest},
)
async def login(request: AnyRequest) -> Seed002LoginResponse:
    """Seed 002: sign in with the e-mail address registered with the account."""
    body = await decode_body(request, Seed002LoginRequest)
    tokens = await sign_in(request, body.email, body.password)
    return Seed002LoginResponse(
        access_token=tokens.access_token, refresh_token=tokens.refresh_token
    )


@get("/scores", tags=TAGS, operation_id="seedGetScores")
async def scores_top(request: AnyRequest) -> Seed002Scores:
    """Seed 002: the top N of the `default` board; `email` is the public username."""
    container = container_of(request)
    await check_read_access(request, active_board(container, DEFAULT_BOARD))
    top = _top.decode(await reads.top_bytes(container, DEFAULT_BOARD, None))
    return Seed002Scores(
        scores=[Seed002Score(email=e.username, score=e.score) for e in top.entries]
    )


@post(
    "/scores/increment",
    status_code=200,
    tags=TAGS,
    operation_id="seedIncrementScore",
    opt={"auth": True},
)
async def increment(request: AnyRequest) -> Response[Any]:
    """Seed 002: one point for the caller on the `default` board (no body). Send an
    `Idempotency-Key` header to make retries safe."""
    caller = await authenticate(request)
    active_board(container_of(request), DEFAULT_BOARD)
    outcome = await submit_default(
        request,
        caller,
        user_id=caller.user_id,
        action_id=idempotency_key(request) or fresh_action_id(),
        score_increment=1,
    )
    return json_bytes(_encoder.encode(Seed002Message(message="Score incremented")), outcome.headers)


ROUTES = [login, scores_top, increment]
