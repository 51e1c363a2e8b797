"""Score writes and reads of the v1 API."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Response, get, post
from litestar.params import Parameter

from scoreboard_api.domain import signing
from scoreboard_api.domain.scoring import Submission
from scoreboard_api.http.deps import (
    AnyRequest,
    authenticate,
    check_board_name,
    check_read_access,
    client_ip,
    container_of,
    decode_body,
    header,
    json_bytes,
    read_body,
    request_id,
)
from scoreboard_api.schemas import (
    AroundResponse,
    BoardDetail,
    BoardsResponse,
    EntriesResponse,
    LookupRequest,
    LookupResponse,
    PlayerResponse,
    ScoreSubmission,
    SeasonsResponse,
    SeasonTopResponse,
    SubmitResponse,
    TopResponse,
)
from scoreboard_api.services import reads, scores
from scoreboard_api.services.scores import active_board

TAGS = ["scores"]
BOARD = "/api/v1/leaderboards/{board:str}"
LOOKUP_MAX_BODY_BYTES = 64 * 1024
_encoder = msgspec.json.Encoder()
JSON = "application/json"


@post(
    f"{BOARD}/scores",
    status_code=200,
    tags=TAGS,
    operation_id="submitScore",
    opt={"body": ScoreSubmission, "auth": True},
)
async def submit_score(request: AnyRequest, board: str) -> Response[SubmitResponse]:
    """Submit a completed action; idempotent per `action_id`. On a board that requires signed
    submissions, send `X-Signature: keyId=<id>,sig=<base64url HMAC-SHA256(key, raw body)>`."""
    return await submit_v1(request, board)


async def submit_v1(request: AnyRequest, board: str) -> Response[SubmitResponse]:
    """The v1 submission, shared by the v1 route and the seed routes that speak v1."""
    container = container_of(request)
    caller = await authenticate(request)
    check_board_name(board)
    active_board(container, board)
    body = await decode_body(request, ScoreSubmission)
    outcome = await scores.submit(
        container,
        caller=caller,
        submission=Submission(
            action_id=body.action_id,
            timestamp=body.timestamp,
            action=body.action,
            score_increment=body.score_increment,
            user_id=str(body.user_id) if body.user_id else caller.user_id,
            score=body.score,
            metadata=body.metadata,
            board=board,
            client_ip=client_ip(request),
            request_id=request_id(request),
        ),
        signature=signing.from_header(header(request, b"x-signature"), await read_body(request)),
    )
    return json_bytes(
        _encoder.encode(
            SubmitResponse(
                leaderboard=outcome.board,
                user_id=outcome.user_id,
                action_id=outcome.action_id,
                increment=outcome.increment,
                new_total_score=outcome.new_total,
                rank=outcome.rank,
                replayed=outcome.replayed,
            )
        ),
        outcome.headers,
    )


@get("/api/v1/leaderboards", tags=TAGS, operation_id="listLeaderboards")
async def list_boards(request: AnyRequest) -> BoardsResponse:
    """All leaderboards with display name, size and players; anonymous callers see only the
    publicly readable ones."""
    container = container_of(request)
    caller = await container.auth.optional(request.headers.get("authorization"))
    return await reads.list_boards(container, include_private=caller is not None)


@get(BOARD, tags=TAGS, operation_id="getLeaderboard")
async def board_detail(request: AnyRequest, board: str) -> BoardDetail:
    """A leaderboard with its public policy."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    return await reads.board_detail(container, board)


@get(f"{BOARD}/top", tags=TAGS, operation_id="getTop")
async def top(
    request: AnyRequest,
    board: str,
    limit: Annotated[int | None, Parameter(ge=1, le=1000, required=False)] = None,
) -> Response[TopResponse]:
    """The top N (default: the board's size, at most 1000), served from a per-version cache."""
    return await top_v1(request, board, limit)


async def top_v1(request: AnyRequest, board: str, limit: int | None) -> Response[TopResponse]:
    """The v1 `top` body, shared by the v1 route and the seed routes that serve it."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    return json_bytes(await reads.top_bytes(container, board, limit))


@get(f"{BOARD}/entries", tags=TAGS, operation_id="listEntries")
async def entries(
    request: AnyRequest,
    board: str,
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Parameter(min_length=1, max_length=200, required=False)] = None,
) -> EntriesResponse:
    """The whole board, page by page, with opaque keyset cursors (`next_cursor`,
    `prev_cursor`; null at the ends): paging never repeats or skips a player whose standing did
    not change meanwhile."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    return await reads.entries(container, board, limit, cursor)


@post(
    f"{BOARD}/players/lookup",
    status_code=200,
    tags=TAGS,
    operation_id="lookupPlayers",
    opt={"body": LookupRequest},
    # 1000 canonical UUIDs are ~40 KB of JSON: above MAX_BODY_BYTES' default, so this route
    # has its own cap (still a 413 above it).
    request_max_body_size=LOOKUP_MAX_BODY_BYTES,
)
async def lookup(request: AnyRequest, board: str) -> LookupResponse:
    """The standings of up to 1000 players (e.g. a friends list), by rank with global ranks;
    players without a standing are left out."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    body = await decode_body(request, LookupRequest)
    return await reads.lookup(container, board, [str(u) for u in body.user_ids])


@get(f"{BOARD}/players/{{user_id:uuid}}", tags=TAGS, operation_id="getPlayer")
async def player(request: AnyRequest, board: str, user_id: uuid.UUID) -> PlayerResponse:
    """A player's rank and score."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    return await reads.player(container, board, str(user_id))


@get(f"{BOARD}/players/{{user_id:uuid}}/around", tags=TAGS, operation_id="getPlayersAround")
async def around(
    request: AnyRequest,
    board: str,
    user_id: uuid.UUID,
    radius: Annotated[int, Parameter(ge=0, le=50)] = 5,
) -> AroundResponse:
    """The entries around a player."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    return await reads.around(container, board, str(user_id), radius)


@get(f"{BOARD}/me", tags=TAGS, operation_id="getMyStanding", opt={"auth": True})
async def me(request: AnyRequest, board: str) -> PlayerResponse:
    """The caller's own rank and score."""
    caller = await authenticate(request)
    check_board_name(board)
    return await reads.player(container_of(request), board, caller.user_id)


@get(f"{BOARD}/seasons", tags=TAGS, operation_id="listSeasons")
async def seasons(request: AnyRequest, board: str) -> SeasonsResponse:
    """The current season and the archived ones."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    return await reads.seasons(container, board)


@get(f"{BOARD}/seasons/{{season:int}}/top", tags=TAGS, operation_id="getSeasonTop")
async def season_top(
    request: AnyRequest,
    board: str,
    season: Annotated[int, Parameter(ge=1, le=2**31 - 1)],
    limit: Annotated[int | None, Parameter(ge=1, le=1000, required=False)] = None,
) -> SeasonTopResponse:
    """Final standings of an archived season (or the live top of the current one)."""
    check_board_name(board)
    container = container_of(request)
    await check_read_access(request, active_board(container, board))
    return await reads.season_top(container, board, season, limit)


ROUTES = [
    submit_score,
    list_boards,
    board_detail,
    top,
    entries,
    lookup,
    player,
    around,
    me,
    seasons,
    season_top,
]
