"""Read paths: top N (encoded bytes cached per board version), player standing, around-player,
boards, seasons. Redis first; PostgreSQL when Redis is unreachable."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import msgspec
from scoreboard_common.board_store import Entry, Page, PageKind
from scoreboard_common.keys import BoardKeys
from scoreboard_common.ranking import decode_score, to_micros

from scoreboard_api.adapters import pg_boards, pg_scores
from scoreboard_api.domain.cursors import (
    COMPLEMENT,
    CursorKey,
    CursorKind,
    decode_cursor,
    encode_cursor,
)
from scoreboard_api.domain.errors import ProblemError, Unavailable
from scoreboard_api.domain.policy import BoardPolicy
from scoreboard_api.metrics import BOARD_PLAYERS, BOARD_TOP_SCORE, CACHE_REQUESTS
from scoreboard_api.schemas import (
    AroundResponse,
    BoardDetail,
    BoardsResponse,
    BoardSummary,
    EntriesResponse,
    LookupResponse,
    PlayerResponse,
    SeasonOut,
    SeasonsResponse,
    SeasonTopResponse,
    TopResponse,
)
from scoreboard_api.services.container import Container
from scoreboard_api.services.scores import REDIS_ERRORS, active_board

_encoder = msgspec.json.Encoder()
# The labelled children of the hottest counter, once (``labels()`` takes a lock per call).
_TOP_HIT = CACHE_REQUESTS.labels("top", "hit")
_TOP_MISS = CACHE_REQUESTS.labels("top", "miss")


def player_not_found(user_id: str) -> ProblemError:
    return ProblemError(404, "player_not_found", f"player {user_id} has no score on this board")


async def top_bytes(container: Container, board: str, limit: int | None) -> bytes:
    policy = active_board(container, board)
    size = limit or policy.spec.size
    if container.monitor.redis_up:
        try:
            return await _top_from_redis(container, policy, size)
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    return await _top_from_postgres(container, policy, size)


async def _top_from_redis(container: Container, policy: BoardPolicy, limit: int) -> bytes:
    board = policy.name
    key = (board, limit)
    cached = container.top_cache.get(key)
    now = time.monotonic()
    # Within the freshness window the cached bytes are served without asking Redis: the same
    # staleness the live feed has by design (it coalesces per broadcast interval).
    fresh = container.settings.top_cache_fresh_ms / 1000
    checked = container.top_checked.get(key)
    # Past the window, one request asks Redis; the others keep serving the cached bytes
    # meanwhile (stale by one round trip more): every request asking at once was the /top p99
    # (docs/benchmarks.md). A write through this replica drops `checked`: then every request asks.
    if (
        cached is not None
        and checked is not None
        and (now - checked < fresh or key in container.top_revalidating)
    ):
        _TOP_HIT.inc()
        return cached[1]
    container.top_revalidating.add(key)
    try:
        return await _top_revalidated(container, policy, limit, key, cached, now)
    finally:
        container.top_revalidating.discard(key)


async def _top_revalidated(
    container: Container,
    policy: BoardPolicy,
    limit: int,
    key: tuple[str, int],
    cached: tuple[int, bytes] | None,
    now: float,
) -> bytes:
    board = policy.name
    epoch = container.top_epoch
    version = await container.store.version(board)
    if cached is not None and cached[0] == version and version != 0:
        _TOP_HIT.inc()
        _mark_fresh(container, key, now, epoch)
        return cached[1]
    _, shared = await container.side.version_and_cached_top(board, limit)
    if shared is not None and version != 0:
        _TOP_HIT.inc()
        container.top_cache[key] = (version, shared)
        _mark_fresh(container, key, now, epoch)
        return shared
    _TOP_MISS.inc()
    snapshot = await container.store.top(board, limit)
    body = _encoder.encode(
        TopResponse(
            leaderboard=board,
            season=snapshot.season if snapshot.version else policy.season,
            version=snapshot.version,
            generated_at=datetime.now(UTC),
            total_players=snapshot.total_players,
            entries=snapshot.entries,
        )
    )
    if snapshot.version:
        container.top_cache[key] = (snapshot.version, body)
        _mark_fresh(container, key, now, epoch)
        await container.side.store_top(board, limit, snapshot.version, body)
    BOARD_PLAYERS.labels(board).set(snapshot.total_players)
    BOARD_TOP_SCORE.labels(board).set(snapshot.entries[0].score if snapshot.entries else 0)
    return body


def _mark_fresh(container: Container, key: tuple[str, int], now: float, epoch: int) -> None:
    if container.top_epoch == epoch:
        container.top_checked[key] = now


async def _top_from_postgres(container: Container, policy: BoardPolicy, limit: int) -> bytes:
    _TOP_MISS.inc()
    rows = await pg_scores.top(
        container.db, policy.name, policy.season, limit, 0, policy.spec.order
    )
    players = await pg_scores.count_players(container.db, policy.name, policy.season)
    return _encoder.encode(
        TopResponse(
            leaderboard=policy.name,
            season=policy.season,
            version=_known_version(container, policy.name),
            generated_at=datetime.now(UTC),
            total_players=players,
            entries=[s.entry(i) for i, s in enumerate(rows, 1)],
        )
    )


def _known_version(container: Container, board: str) -> int:
    """The newest version this replica saw of a board (PostgreSQL reads have none of their own)."""
    return max((v[0] for k, v in container.top_cache.items() if k[0] == board), default=0)


async def player(container: Container, board: str, user_id: str) -> PlayerResponse:
    policy = active_board(container, board)
    entry: Entry | None = None
    if container.monitor.redis_up:
        try:
            _, _, found = await container.store.lookup(board, [user_id])
            if not found:
                raise player_not_found(user_id)
            entry = found[0]
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    if entry is None:
        row = await pg_scores.standing_entry(
            container.db, board, policy.season, user_id, policy.spec.order
        )
        if row is None:
            raise player_not_found(user_id)
        entry = row[1].entry(row[0])
    return PlayerResponse(
        leaderboard=board,
        season=policy.season,
        user_id=user_id,
        username=entry.username,
        rank=entry.rank,
        score=entry.score,
        metadata=entry.metadata,
        last_updated=entry.last_updated,
    )


async def around(container: Container, board: str, user_id: str, radius: int) -> AroundResponse:
    policy = active_board(container, board)
    if container.monitor.redis_up:
        try:
            page = await container.store.around(board, user_id, radius)
            if page is None or page.rank is None:
                raise player_not_found(user_id)
            return AroundResponse(
                leaderboard=board,
                season=policy.season,
                user_id=user_id,
                rank=page.rank,
                entries=page.entries,
            )
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    order = policy.spec.order
    row = await pg_scores.standing(container.db, board, policy.season, user_id, order)
    if row is None:
        raise player_not_found(user_id)
    rank = row[0]
    start = max(rank - 1 - radius, 0)
    rows = await pg_scores.top(
        container.db, board, policy.season, rank - start + radius, start, order
    )
    return AroundResponse(
        leaderboard=board,
        season=policy.season,
        user_id=user_id,
        rank=rank,
        entries=[s.entry(start + i) for i, s in enumerate(rows, 1)],
    )


def _key(entry: Entry) -> CursorKey:
    return entry.score, to_micros(entry.last_updated), entry.user_id


def _cursors(page: Page, kind: PageKind, key: CursorKey | None) -> tuple[str | None, str | None]:
    """``(next, prev)`` cursors of a page: keyset positions after its last and before its first
    entry, null at the ends. An empty page (a cursor past an end) points back the other way."""
    entries = page.entries
    if entries:
        after_last = page.start + len(entries) < page.total_players
        return (
            encode_cursor("a", _key(entries[-1])) if after_last else None,
            encode_cursor("b", _key(entries[0])) if page.start > 0 else None,
        )
    if kind == "first" or key is None:
        return None, None
    other = COMPLEMENT[kind]
    if kind in ("a", "A"):
        return None, encode_cursor(other, key) if page.start > 0 else None
    return (encode_cursor(other, key) if page.total_players > 0 else None), None


async def entries(
    container: Container, board: str, limit: int, cursor: str | None
) -> EntriesResponse:
    """One page of the whole board, by keyset cursor; Redis first, else PostgreSQL (both
    compute the same page: the same key order and the same cursor positions)."""
    policy = active_board(container, board)
    order = policy.spec.order
    kind: PageKind = "first"
    key: CursorKey | None = None
    if cursor:
        found: tuple[CursorKind, CursorKey] = decode_cursor(cursor)
        kind, key = found
    page: Page | None = None
    if container.monitor.redis_up:
        try:
            page = await container.store.page(board, kind, key, limit, order)
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    if page is None:
        rows = await pg_scores.page(container.db, board, policy.season, kind, key, limit, order)
        page = Page(
            start=rows.start,
            entries=[s.entry(rows.start + i) for i, s in enumerate(rows.rows, 1)],
            total_players=rows.total_players,
            version=_known_version(container, board),
            season=policy.season,
        )
    next_cursor, prev_cursor = _cursors(page, kind, key)
    return EntriesResponse(
        leaderboard=board,
        season=policy.season,
        version=page.version,
        total_players=page.total_players,
        entries=page.entries,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
    )


async def lookup(container: Container, board: str, user_ids: list[str]) -> LookupResponse:
    """The standings of those of ``user_ids`` who have one, by rank, with global ranks."""
    policy = active_board(container, board)
    wanted = sorted(set(user_ids))
    if container.monitor.redis_up:
        try:
            version, _, found = await container.store.lookup(board, wanted)
            return LookupResponse(
                leaderboard=board, season=policy.season, version=version, entries=found
            )
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    rows = await pg_scores.lookup(container.db, board, policy.season, wanted, policy.spec.order)
    return LookupResponse(
        leaderboard=board,
        season=policy.season,
        version=_known_version(container, board),
        entries=[standing.entry(rank) for rank, standing in rows],
    )


async def board_numbers(container: Container, policy: BoardPolicy) -> tuple[int | None, int | None]:
    """``(players, top score)``: Redis, else PostgreSQL, else unknown."""
    if container.monitor.redis_up:
        try:
            keys = BoardKeys(policy.name)
            async with container.redis.pipeline(transaction=False) as pipe:
                pipe.zcard(keys.rank)
                pipe.zrange(keys.rank, 0, 0, withscores=True)
                players, first = await pipe.execute()
            top = decode_score(first[0][1]) if first else 0
            return int(players), top
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    try:
        return await pg_scores.board_totals(
            container.db, policy.name, policy.season, policy.spec.order
        )
    except Unavailable:
        return None, None


async def list_boards(container: Container, *, include_private: bool) -> BoardsResponse:
    boards = sorted(
        (
            policy
            for policy in container.policies.boards.values()
            if include_private or policy.spec.access.public_read
        ),
        key=lambda p: p.name,
    )
    out = []
    for policy in boards:
        players, _ = await board_numbers(container, policy)
        out.append(
            BoardSummary(
                name=policy.name,
                display_name=policy.spec.display_name or policy.name,
                size=policy.spec.size,
                players=players,
                season=policy.season,
            )
        )
    return BoardsResponse(leaderboards=out)


async def board_detail(container: Container, board: str) -> BoardDetail:
    policy = active_board(container, board)
    players, top = await board_numbers(container, policy)
    return BoardDetail(
        name=board,
        display_name=policy.spec.display_name or board,
        size=policy.spec.size,
        season=policy.season,
        generation=policy.generation,
        players=players,
        top_score=top,
        policy=msgspec.to_builtins(policy.public()),
    )


async def seasons(container: Container, board: str) -> SeasonsResponse:
    policy = active_board(container, board)
    archived = await pg_boards.list_seasons(container.db, board)
    row = container.policies.rows.get(board)
    current = SeasonOut(
        season=policy.season,
        started_at=row.season_started_at if row else datetime.now(UTC),
        ended_at=None,
        players=None,
        top_score=None,
        current=True,
    )
    return SeasonsResponse(
        leaderboard=board,
        current_season=policy.season,
        seasons=[current]
        + [
            SeasonOut(
                season=s.season,
                started_at=s.started_at,
                ended_at=s.ended_at,
                players=s.players,
                top_score=s.top_score,
                current=False,
            )
            for s in archived
        ],
    )


async def season_top(
    container: Container, board: str, season: int, limit: int | None
) -> SeasonTopResponse:
    policy = active_board(container, board)
    if season == policy.season:
        body = await top_bytes(container, board, limit)
        top = msgspec.json.decode(body, type=TopResponse)
        return SeasonTopResponse(leaderboard=board, season=season, entries=top.entries)
    rows = await pg_boards.season_top(container.db, board, season, limit or policy.spec.size)
    if rows is None:
        raise ProblemError(404, "season_not_found", f"season {season} is not archived")
    return SeasonTopResponse(leaderboard=board, season=season, entries=rows)
