"""Seed-compatible routes (the original design notes), served on the board ``default``."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Response, get, post
from litestar.params import Parameter

from scoreboard_api.domain.errors import validation_error
from scoreboard_api.domain.scoring import ACTION_ID_PATTERN, Submission
from scoreboard_api.http.deps import (
    AnyRequest,
    authenticate,
    check_read_access,
    client_ip,
    container_of,
    decode_body,
    json_bytes,
    request_id,
)
from scoreboard_api.schemas import (
    PlayerResponse,
    SeedLeaderboardResponse,
    SeedUpdateRequest,
    SeedUpdateResponse,
    TopResponse,
)
from scoreboard_api.services import reads, scores
from scoreboard_api.services.scores import active_board

DEFAULT_BOARD = "default"
TAGS = ["seed compatibility"]
_ACTION_ID_RE = re.compile(ACTION_ID_PATTERN)
_encoder = msgspec.json.Encoder()


@post(
    "/api/scores/update",
    status_code=200,
    tags=TAGS,
    operation_id="seedUpdateScore",
    opt={"body": SeedUpdateRequest, "auth": True},
)
async def seed_update(request: AnyRequest) -> Response[SeedUpdateResponse]:
    """Add `scoreIncrement` to `userId` on the `default` board. Send an `Idempotency-Key`
    header to make retries safe (it becomes the action_id)."""
    container = container_of(request)
    caller = await authenticate(request)
    active_board(container, DEFAULT_BOARD)
    body = await decode_body(request, SeedUpdateRequest)
    key = request.headers.get("idempotency-key")
    if key is not None and not _ACTION_ID_RE.fullmatch(key):
        raise validation_error("Idempotency-Key must be 1-100 chars of [A-Za-z0-9._:-]")
    outcome = await scores.submit(
        container,
        board=DEFAULT_BOARD,
        caller=caller,
        submission=Submission(
            action_id=key or f"seed:{uuid.uuid4().hex}",
            timestamp=datetime.now(UTC),
            action=None,
            score_increment=body.score_increment,
            user_id=str(body.user_id),
            server_timestamp=True,
        ),
        client_ip=client_ip(request),
        request_id=request_id(request),
    )
    return json_bytes(
        _encoder.encode(
            SeedUpdateResponse(
                success=True,
                status="success",
                user_id=outcome.user_id,
                new_total_score=outcome.new_total,
                newScore=outcome.new_total,
                leaderboard_position=outcome.rank,
                replayed=outcome.replayed,
            )
        ),
        outcome.headers,
    )


@get("/api/scores/leaderboard", tags=TAGS, operation_id="seedGetLeaderboard")
async def seed_leaderboard(request: AnyRequest) -> SeedLeaderboardResponse:
    """Top N of the `default` board in the seed's shape."""
    container = container_of(request)
    await check_read_access(request, active_board(container, DEFAULT_BOARD))
    top = msgspec.json.decode(
        await reads.top_bytes(container, DEFAULT_BOARD, None), type=TopResponse
    )
    return SeedLeaderboardResponse(
        leaderboard=top.entries, total_players=top.total_players, last_refresh=top.generated_at
    )


@get("/api/scores/top", tags=TAGS, operation_id="seedGetTop")
async def seed_top(
    request: AnyRequest,
    limit: Annotated[int | None, Parameter(ge=1, le=100, required=False)] = None,
) -> Response[TopResponse]:
    """Top N of the `default` board (same body as the v1 `/top`)."""
    container = container_of(request)
    await check_read_access(request, active_board(container, DEFAULT_BOARD))
    return json_bytes(await reads.top_bytes(container, DEFAULT_BOARD, limit))


@get("/api/scores/user/{user_id:uuid}", tags=TAGS, operation_id="seedGetUser")
async def seed_user(request: AnyRequest, user_id: uuid.UUID) -> PlayerResponse:
    """A player's rank and score on the `default` board."""
    container = container_of(request)
    await check_read_access(request, active_board(container, DEFAULT_BOARD))
    return await reads.player(container, DEFAULT_BOARD, str(user_id))


ROUTES = [seed_update, seed_leaderboard, seed_top, seed_user]
