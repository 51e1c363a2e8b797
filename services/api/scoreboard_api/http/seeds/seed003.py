"""Seed 003: ``/api/auth/login|refresh|logout`` (the v1 auth routes under the seed's paths),
``POST /api/scores/update`` with ``{userId, actionId, timestamp, idempotencyKey, signature}``
(the board's points for ``actionId``, 1 when the board has no per-action points;
``idempotencyKey`` is the action id) and ``GET /api/scores/user/{userId}``. The live feed
``/ws/scoreboard`` is realtime's.

Signatures: ``signature`` is base64url HMAC-SHA256(key, the body without ``signature`` as
canonical JSON), the key id comes in ``X-Signature-Key``; the board decides whether it is
required (``signing.required``)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from scoreboard_api.domain import signing
from scoreboard_api.domain.errors import ProblemError
from scoreboard_api.http.deps import (
    AnyRequest,
    check_read_access,
    container_of,
    decode_body,
    json_bytes,
)
from scoreboard_api.http.routes_identity import end_session, login_tokens, refresh_tokens
from scoreboard_api.http.seeds.common import DEFAULT_BOARD, TAGS, submit_default
from scoreboard_api.schemas import (
    LoginRequest,
    RefreshRequest,
    Seed003Player,
    Seed003UpdateRequest,
    Seed003UpdateResponse,
    TokenResponse,
)
from scoreboard_api.services import reads
from scoreboard_api.services.auth import Caller
from scoreboard_api.services.scores import active_board

_encoder = msgspec.json.Encoder()


@post(
    "/api/auth/login",
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="seedLogin",
    opt={"body": LoginRequest},
)
async def login(request: AnyRequest) -> TokenResponse:
    """Seed 003: the v1 login."""
    return await login_tokens(request)


@post(
    "/api/auth/refresh",
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="seedRefresh",
    opt={"body": RefreshRequest},
)
async def refresh(request: AnyRequest) -> TokenResponse:
    """Seed 003: the v1 refresh."""
    return await refresh_tokens(request)


@post(
    "/api/auth/logout",
    status_code=HTTP_204_NO_CONTENT,
    tags=TAGS,
    operation_id="seedLogout",
    opt={"body": RefreshRequest},
)
async def logout(request: AnyRequest) -> None:
    """Seed 003: the v1 logout."""
    await end_session(request)


async def update(request: AnyRequest, caller: Caller, document: dict[str, Any]) -> Response[Any]:
    body = await decode_body(request, Seed003UpdateRequest)
    policy = active_board(container_of(request), DEFAULT_BOARD)
    per_action = bool(policy.spec.scoring.actions)
    outcome = await submit_default(
        request,
        caller,
        user_id=str(body.user_id),
        action_id=body.idempotency_key,
        action=body.action_id if per_action else None,
        score_increment=None if per_action else 1,
        timestamp=body.timestamp,
        signature=signing.from_body_member(
            document, "signature", request.headers.get("x-signature-key")
        ),
    )
    answer = Seed003UpdateResponse(
        user_id=outcome.user_id,
        action_id=body.action_id,
        idempotency_key=outcome.action_id,
        increment=outcome.increment,
        score=outcome.new_total,
        rank=outcome.rank,
        replayed=outcome.replayed,
    )
    return json_bytes(_encoder.encode(answer), outcome.headers)


@get("/api/scores/user/{user_id:uuid}", tags=TAGS, operation_id="seedGetUser")
async def player(request: AnyRequest, user_id: uuid.UUID) -> Seed003Player:
    """Seed 003: a player's "Leaderboard Entry" (rank and score) on the `default` board."""
    container = container_of(request)
    await check_read_access(request, active_board(container, DEFAULT_BOARD))
    around = await reads.around(container, DEFAULT_BOARD, str(user_id), 0)
    for entry in around.entries:
        if entry.user_id == str(user_id):
            return Seed003Player(
                user_id=entry.user_id,
                username=entry.username,
                score=entry.score,
                rank=entry.rank,
                last_updated=entry.last_updated,
            )
    raise ProblemError(404, "player_not_found", "this player has no score on this leaderboard")


ROUTES = [login, refresh, logout, player]
