"""The score write path (DESIGN §2/§3): authorise, apply the board's rules, rate-limit and
check fraud in Redis, commit in PostgreSQL, then place the absolute total in Redis and publish.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError
from scoreboard_common.auth import SCOPE_ADMIN, SCOPE_WRITE_ANY
from scoreboard_common.board_store import Standing, decode_metadata
from scoreboard_common.events import SCORE_CHANNEL, ScoreChanged, score_changed_template
from scoreboard_common.netaddr import client_group
from scoreboard_common.ranking import guard_mode, to_micros
from scoreboard_common.telemetry import current_traceparent

from scoreboard_api.adapters import pg_scores
from scoreboard_api.adapters.pg_scores import SubmitResult
from scoreboard_api.adapters.redis_side import GuardResult, upm_key
from scoreboard_api.domain import signing
from scoreboard_api.domain.errors import ProblemError, Unavailable, board_not_found, forbidden
from scoreboard_api.domain.fraud import FraudCounters, FraudHit, evaluate, rejects
from scoreboard_api.domain.policy import BoardPolicy
from scoreboard_api.domain.ratelimit import (
    Decision,
    Limit,
    most_restrictive,
    policy_header,
    ratelimit_header,
)
from scoreboard_api.domain.scoring import (
    Submission,
    check_clock_skew,
    encode_metadata,
    resolve_value,
    same_payload,
)
from scoreboard_api.domain.signing import Signature
from scoreboard_api.metrics import (
    FRAUD_HITS,
    RATE_LIMITED,
    SCORE_POINTS,
    SCORE_REPLAYS,
    SCORE_WRITES,
)
from scoreboard_api.services.auth import Caller
from scoreboard_api.services.container import Container

log = logging.getLogger("scoreboard.scores")
REDIS_ERRORS = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    board: str
    user_id: str
    action_id: str
    increment: int
    new_total: int
    rank: int | None
    replayed: bool
    headers: dict[str, str]


def active_board(container: Container, board: str) -> BoardPolicy:
    policy = container.policies.get(board)
    if policy is None:
        raise board_not_found(board)
    return policy


async def submit(
    container: Container,
    *,
    board: str,
    caller: Caller,
    submission: Submission,
    client_ip: str | None,
    request_id: str | None,
    signature: Signature,
) -> WriteOutcome:
    """``signature``: what the request presented (every caller says; the board decides)."""
    policy = active_board(container, board)
    spec = policy.spec
    signing.check(policy.signing_keys, spec.signing.required, signature)
    if spec.suspended:
        raise forbidden(f"leaderboard {board!r} is suspended", code="board_suspended")
    is_service = caller.has(SCOPE_WRITE_ANY)
    if caller.has(SCOPE_ADMIN) and not is_service:
        # An admin token is not a player: it would score as the admin pseudo-user.
        raise forbidden("an admin token cannot submit scores", code="admin_cannot_play")
    target = submission.user_id
    if target != caller.user_id and not is_service:
        raise forbidden("a user token may only write its own score")
    writer = "services" if is_service else "users"
    if writer not in spec.writers:
        raise forbidden(
            f"this leaderboard does not accept writes from {writer}", "writer_not_allowed"
        )
    if target in policy.banned:
        raise forbidden("this player is banned from the leaderboard", code="player_banned")
    if target in container.policies.disabled_users:
        raise forbidden("this player's account is disabled", code="player_banned")
    # increment boards: the points granted; best/latest: the absolute score submitted.
    value = resolve_value(spec, submission.action, submission.score_increment, submission.score)
    metadata = encode_metadata(submission.metadata)
    check_clock_skew(spec, submission.timestamp, datetime.now(UTC))
    # Points count towards the points-per-minute fraud rule on increment boards only.
    increment = value if spec.operator == "increment" else 0

    guard = await _guard(container, policy, target, client_ip, is_service, increment, submission)
    headers = _rate_headers(guard.decisions)
    if not guard.allowed:
        refused = most_restrictive(guard.decisions)
        RATE_LIMITED.labels(board, refused.limit.scope).inc()
        raise ProblemError(
            429,
            "rate_limited",
            f"rate limit of {refused.limit.limit} per {refused.limit.window_seconds} s "
            f"({refused.limit.scope}) exceeded",
            headers={**headers, "Retry-After": str(refused.retry_after_seconds)},
        )
    hits = evaluate(spec.fraud, guard.counters, increment, replay=False)
    if rejects(hits):
        await _record_fraud(
            container, board, target, hits, submission.action_id, client_ip, request_id
        )
        await _adjust(container, board, target, refund=increment, replay=False)
        raise forbidden("submission refused by the leaderboard's fraud rules", "fraud_rejected")

    try:
        result = await pg_scores.submit_score(
            container.db,
            board=board,
            action_id=submission.action_id,
            season=policy.season,
            user_id=target,
            action=submission.action,
            increment=value,
            client_ts=submission.timestamp,
            client_ip=client_ip,
            request_id=request_id,
            username=None if is_service else caller.principal.username,
            operator=spec.operator,
            order=spec.order,
            metadata=metadata,
        )
    except Unavailable:
        await _adjust(container, board, target, refund=increment, replay=False)
        raise

    if result.replayed:
        return await _replay(
            container,
            policy,
            target,
            submission,
            (value, increment),
            result,
            headers,
            client_ip,
            request_id,
        )

    SCORE_WRITES.labels(board).inc()
    SCORE_POINTS.labels(board).inc(increment)
    if hits:
        await _record_fraud(
            container, board, target, hits, submission.action_id, client_ip, request_id
        )
    if result.changed:
        rank = await _place(container, policy, result, result.increment)
    else:
        # A best score that did not improve: accepted and audited, but the standing, the board
        # and the live feed are unchanged (nothing is published).
        rank = await _current_rank(container, policy, target)
    return WriteOutcome(
        board, target, submission.action_id, result.increment, result.total, rank, False, headers
    )


async def _guard(
    container: Container,
    policy: BoardPolicy,
    target: str,
    client_ip: str | None,
    is_service: bool,
    increment: int,
    submission: Submission,
) -> GuardResult:
    spec = policy.spec
    user_limit = Limit(
        "user", spec.rate_limit.per_user.limit, spec.rate_limit.per_user.window_seconds
    )
    ip_limit = (
        None
        if is_service
        else Limit("ip", spec.rate_limit.per_ip.limit, spec.rate_limit.per_ip.window_seconds)
    )
    if container.monitor.redis_up:
        try:
            return await container.side.guard(
                board=policy.name,
                user_id=target,
                client_ip=client_group(client_ip) if client_ip else None,  # IPv6: its /64
                user_limit=user_limit,
                ip_limit=ip_limit,
                increment=increment,
                client_ts_ms=to_micros(submission.timestamp) // 1000,
                burst_window_ms=spec.fraud.burst_window_ms,
            )
        except REDIS_ERRORS as error:
            log.warning("rate limiter unavailable, using the per-replica fallback: %s", error)
            container.monitor.redis_failed()
    fallback = Limit("fallback", container.settings.fallback_rate_limit_per_minute, 60)
    decision = container.fallback_limiter.hit(
        f"{policy.name}\0{target}", fallback, time.time() * 1000
    )
    return GuardResult([decision], FraudCounters(0, 0, 0))


def _rate_headers(decisions: list[Decision]) -> dict[str, str]:
    return {
        "RateLimit-Policy": policy_header([d.limit for d in decisions]),
        "RateLimit": ratelimit_header(most_restrictive(decisions)),
    }


async def _adjust(
    container: Container, board: str, user_id: str, *, refund: int, replay: bool
) -> int:
    if not container.monitor.redis_up:
        return 0
    try:
        return await container.side.adjust(board, user_id, refund=refund, replay=replay)
    except REDIS_ERRORS:
        container.monitor.redis_failed()
        return 0


async def _record_fraud(
    container: Container,
    board: str,
    user_id: str,
    hits: list[FraudHit],
    action_id: str | None,
    client_ip: str | None,
    request_id: str | None,
) -> None:
    for hit in hits:
        FRAUD_HITS.labels(board, hit.rule, hit.action).inc()
    log.warning(
        "fraud rule hit",
        extra={
            "board": board,
            "rules": [h.rule for h in hits],
            "action": hits[0].action,
            "request_id": request_id,
        },
    )
    try:
        await pg_scores.record_fraud(
            container.db,
            board=board,
            user_id=user_id,
            hits=[(h.rule, h.action, h.detail) for h in hits],
            action_id=action_id,
            client_ip=client_ip,
            request_id=request_id,
        )
    except Unavailable:
        log.warning("could not store fraud events (postgres down)")


async def _replay(
    container: Container,
    policy: BoardPolicy,
    target: str,
    submission: Submission,
    value_and_points: tuple[int, int],
    result: SubmitResult,
    headers: dict[str, str],
    client_ip: str | None,
    request_id: str | None,
) -> WriteOutcome:
    board = policy.name
    value, increment = value_and_points
    stored = (
        result.user_id,
        result.action,
        result.increment if result.score is None else result.score,
        result.client_ts,
        decode_metadata(result.metadata),
    )
    same = same_payload(stored, submission, value)
    replays = await _adjust(container, board, target, refund=increment, replay=True)
    if not same:
        raise ProblemError(
            409,
            "action_conflict",
            "this action_id was already used with a different payload",
        )
    SCORE_REPLAYS.labels(board).inc()
    hits = evaluate(policy.spec.fraud, FraudCounters(0, 0, replays), increment, replay=True)
    if hits:
        await _record_fraud(
            container, board, target, hits, submission.action_id, client_ip, request_id
        )
        if rejects(hits):
            raise forbidden("too many replays", "fraud_rejected")
    rank = await _current_rank(container, policy, target)
    return WriteOutcome(
        board,
        target,
        submission.action_id,
        result.increment,
        result.total,
        rank,
        True,
        {**headers, "Idempotent-Replayed": "true"},
    )


async def _current_rank(container: Container, policy: BoardPolicy, user_id: str) -> int | None:
    if container.monitor.redis_up:
        try:
            standing = await container.store.standing_of(policy.name, user_id)
            return standing[0] if standing else None
        except REDIS_ERRORS:
            container.monitor.redis_failed(policy.name)
    try:
        row = await pg_scores.standing(
            container.db, policy.name, policy.season, user_id, policy.spec.order
        )
    except Unavailable:
        return None
    return row[0] if row else None


async def _place(
    container: Container, policy: BoardPolicy, result: SubmitResult, increment: int
) -> int | None:
    """Write the absolute total to Redis and publish; on failure mark the board for rebuild."""
    board = policy.name
    assert result.reached_at is not None
    if container.monitor.redis_up:
        try:
            username = result.username or result.user_id
            template = score_changed_template(
                ScoreChanged(
                    board=board,
                    season=result.season,
                    version=0,
                    user_id=result.user_id,
                    username=username,
                    total=result.total,
                    rank=None,
                    increment=increment,
                    traceparent=current_traceparent(),
                )
            )
            applied = await container.store.apply_total_and_publish(
                board,
                Standing(
                    user_id=result.user_id,
                    username=username,
                    total=result.total,
                    reached_at=result.reached_at,
                    metadata=result.metadata,
                    revision=result.revision,
                ),
                channel=SCORE_CHANNEL,
                template=template,
                counter=(upm_key(board), str(int(time.time() // 60)), 180),
                order=policy.spec.order,
                guard=guard_mode(policy.spec.order, policy.spec.operator),
            )
            container.forget_top(board)
            return applied.rank
        except REDIS_ERRORS as error:
            log.warning("redis update after commit failed; board will be rebuilt: %s", error)
            container.monitor.redis_failed(board)
    else:
        container.monitor.dirty.add(board)
    try:
        row = await pg_scores.standing(
            container.db, board, policy.season, result.user_id, policy.spec.order
        )
    except Unavailable:
        return None
    return row[0] if row else None
