"""Admin routes (scope `scoreboard:admin`): the operator's interface."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import delete, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from scoreboard_common.auth import SCOPE_ADMIN
from scoreboard_common.policy import BOARD_NAME_RULE, is_board_name

from scoreboard_api.domain.errors import ProblemError, validation_error
from scoreboard_api.domain.policy import BoardPut
from scoreboard_api.http.deps import (
    AnyRequest,
    check_board_name,
    container_of,
    decode_body,
    request_id,
    require_scope,
)
from scoreboard_api.schemas import (
    BoardState,
    ResetRequest,
    ResetResponse,
    StatsResponse,
    UserStateRequest,
    UserStateResponse,
    VoidRequest,
    VoidResponse,
)
from scoreboard_api.services import admin

TAGS = ["admin"]
BOARD = "/api/v1/admin/leaderboards/{board:str}"


@put(
    BOARD,
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="putLeaderboard",
    opt={"body": BoardPut, "auth": True},
)
async def put_board(request: AnyRequest, board: str) -> BoardState:
    """Create or update a board from the Leaderboard CR's spec plus its `generation`. A PUT
    with a lower generation than stored changes nothing and returns the stored state."""
    await require_scope(request, SCOPE_ADMIN)
    if not is_board_name(board):
        raise validation_error(BOARD_NAME_RULE)
    body = await decode_body(request, BoardPut)
    return await admin.put_board(container_of(request), board, body)


@delete(
    BOARD,
    status_code=HTTP_204_NO_CONTENT,
    tags=TAGS,
    operation_id="deleteLeaderboard",
    opt={"auth": True},
)
async def delete_board(
    request: AnyRequest,
    board: str,
    archive: Annotated[bool, Parameter(required=False)] = False,
) -> None:
    """Retire a board (`?archive=true` archives the current standings first)."""
    await require_scope(request, SCOPE_ADMIN)
    check_board_name(board)
    if request.query_params.get("archive", "false") not in ("true", "false"):
        raise validation_error("archive must be true or false")
    await admin.delete_board(container_of(request), board, archive=archive)


@post(
    f"{BOARD}/reset",
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="resetLeaderboard",
    opt={"body": ResetRequest, "auth": True},
)
async def reset_board(request: AnyRequest, board: str) -> ResetResponse:
    """Archive the season and start `season`; a season not after the current one is a no-op."""
    await require_scope(request, SCOPE_ADMIN)
    check_board_name(board)
    body = await decode_body(request, ResetRequest)
    return await admin.reset_board(container_of(request), board, body.season)


@get(f"{BOARD}/stats", tags=TAGS, operation_id="getLeaderboardStats", opt={"auth": True})
async def board_stats(request: AnyRequest, board: str) -> StatsResponse:
    """Players, top score, updates per minute, fraud events, season, generation."""
    await require_scope(request, SCOPE_ADMIN)
    check_board_name(board)
    return await admin.stats(container_of(request), board)


@post(
    f"{BOARD}/players/{{user_id:uuid}}/void",
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="voidPlayer",
    opt={"body": VoidRequest, "auth": True},
)
async def void_player(request: AnyRequest, board: str, user_id: uuid.UUID) -> VoidResponse:
    """Remove a player's score (audited; `ban: true` also bars further writes)."""
    caller = await require_scope(request, SCOPE_ADMIN)
    check_board_name(board)
    uid = str(user_id)
    body = await decode_body(request, VoidRequest)
    return await admin.void_player(
        container_of(request),
        board,
        uid,
        reason=body.reason,
        ban=body.ban,
        actor=caller.principal.subject,
        request_id=request_id(request),
    )


@put(
    "/api/v1/admin/users/{user_id:uuid}",
    status_code=HTTP_200_OK,
    tags=TAGS,
    operation_id="putUser",
    opt={"body": UserStateRequest, "auth": True},
)
async def put_user(request: AnyRequest, user_id: uuid.UUID) -> UserStateResponse:
    """Disable (or re-enable) an account: its tokens are refused at once on every replica."""
    await require_scope(request, SCOPE_ADMIN)
    uid = str(user_id)
    body = await decode_body(request, UserStateRequest)
    if not await admin.set_user_disabled(container_of(request), uid, body.disabled):
        raise ProblemError(404, "user_not_found", f"no user {uid}")
    return UserStateResponse(user_id=uid, disabled=body.disabled)


ROUTES = [put_board, delete_board, reset_board, board_stats, void_player, put_user]
