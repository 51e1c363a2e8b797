"""The score write path (DESIGN §2/§3), in order:

1. check the caller and resolve the :class:`Submission` against its board into one
   :class:`Write` (plain Python, no I/O);
2. Redis, one trip: rate limits and fraud counters (the guard counts the write's points);
3. PostgreSQL: commit the write (``container.committer``: grouped with concurrent writes into
   one transaction, or one statement each);
4. Redis, one trip: place the absolute total, count it and publish it (one script) — or, for a
   write that was not added (refused, failed, replayed), give its points back (one script, the
   only place that does).

Failures are domain errors (``domain/errors.py``); the HTTP layer maps them to problems.
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
from scoreboard_common.ranking import guard_mode
from scoreboard_common.telemetry import current_traceparent

from scoreboard_api.adapters import pg_scores
from scoreboard_api.adapters.pg_scores import Committed
from scoreboard_api.adapters.redis_side import GuardResult, upm_key
from scoreboard_api.domain import signing
from scoreboard_api.domain.errors import (
    Conflict,
    Limited,
    Refused,
    Unavailable,
    board_not_found,
)
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
    Write,
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
    """What the route answers: the write's effect, the player's rank, the rate-limit headers."""

    write: Write
    increment: int
    new_total: int
    rank: int | None
    replayed: bool
    headers: dict[str, str]

    @property
    def board(self) -> str:
        return self.write.board

    @property
    def user_id(self) -> str:
        return self.write.user_id

    @property
    def action_id(self) -> str:
        return self.write.submission.action_id


def active_board(container: Container, board: str) -> BoardPolicy:
    policy = container.policies.get(board)
    if policy is None:
        raise board_not_found(board)
    return policy


def resolve(
    container: Container, policy: BoardPolicy, caller: Caller, submission: Submission
) -> Write:
    """Who may write what on this board, and what the submission means there."""
    spec = policy.spec
    if spec.suspended:
        raise Refused(f"leaderboard {policy.name!r} is suspended", code="board_suspended")
    is_service = caller.has(SCOPE_WRITE_ANY)
    if caller.has(SCOPE_ADMIN) and not is_service:
        # An admin token is not a player: it would score as the admin pseudo-user.
        raise Refused("an admin token cannot submit scores", code="admin_cannot_play")
    target = submission.user_id
    if target != caller.user_id and not is_service:
        raise Refused("a user token may only write its own score")
    writer = "services" if is_service else "users"
    if writer not in spec.writers:
        raise Refused(
            f"this leaderboard does not accept writes from {writer}", code="writer_not_allowed"
        )
    if target in policy.banned:
        raise Refused("this player is banned from the leaderboard", code="player_banned")
    if target in container.policies.disabled_users:
        raise Refused("this player's account is disabled", code="player_banned")
    # increment boards: the points granted; best/latest: the absolute score submitted.
    value = resolve_value(spec, submission.action, submission.score_increment, submission.score)
    metadata_json = encode_metadata(submission.metadata)
    check_clock_skew(spec, submission.timestamp, datetime.now(UTC))
    return Write(
        submission=submission,
        season=policy.season,
        operator=spec.operator,
        order=spec.order,
        value=value,
        # Points count towards the points-per-minute fraud rule on increment boards only.
        points=value if spec.operator == "increment" else 0,
        metadata_json=metadata_json,
        username=None if is_service else caller.principal.username,
    )


async def submit(
    container: Container, *, caller: Caller, submission: Submission, signature: Signature
) -> WriteOutcome:
    """``signature``: what the request presented (every caller says; the board decides)."""
    policy = active_board(container, submission.board)
    signing.check(policy.signing_keys, policy.spec.signing.required, signature)
    write = resolve(container, policy, caller, submission)

    guard = await _guard(container, policy, write, is_service=caller.has(SCOPE_WRITE_ANY))
    headers = _rate_headers(guard.decisions)
    if not guard.allowed:  # refused: the guard counted nothing
        refused = most_restrictive(guard.decisions)
        RATE_LIMITED.labels(write.board, refused.limit.scope).inc()
        raise Limited(
            f"rate limit of {refused.limit.limit} per {refused.limit.window_seconds} s "
            f"({refused.limit.scope}) exceeded",
            headers={**headers, "Retry-After": str(refused.retry_after_seconds)},
        )

    hits = evaluate(policy.spec.fraud, guard.counters, write.points, replay=False)
    result: Committed | None = None
    replays, rank = 0, None
    try:
        if rejects(hits):
            await _record_fraud(container, write, hits)
            raise Refused(
                "submission refused by the leaderboard's fraud rules", code="fraud_rejected"
            )
        result = await container.committer.submit(write)
    finally:
        if result is None or result.replayed:
            # Not added (refused, failed, replayed): the one place its points are given back.
            replays, rank = await _give_back(container, write, replay=result is not None)
    if result.replayed:
        return await _replay(container, policy, write, result, replays, rank, headers)

    board = write.board
    SCORE_WRITES.labels(board).inc()
    SCORE_POINTS.labels(board).inc(write.points)
    if hits:
        await _record_fraud(container, write, hits)
    if result.changed:
        rank = await _place(container, policy, result)
    else:
        # A best score that did not improve: accepted and audited, but the standing, the board
        # and the live feed are unchanged (nothing is published).
        rank = await _current_rank(container, policy, write.user_id)
    return WriteOutcome(write, result.increment, result.total, rank, False, headers)


async def _guard(
    container: Container, policy: BoardPolicy, write: Write, *, is_service: bool
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
    client_ip = write.submission.client_ip
    if container.monitor.redis_up:
        try:
            return await container.side.guard(
                write,
                client_group=client_group(client_ip) if client_ip else None,  # IPv6: its /64
                user_limit=user_limit,
                ip_limit=ip_limit,
                burst_window_ms=spec.fraud.burst_window_ms,
            )
        except REDIS_ERRORS as error:
            log.warning("rate limiter unavailable, using the per-replica fallback: %s", error)
            container.monitor.redis_failed()
    fallback = Limit("fallback", container.settings.fallback_rate_limit_per_minute, 60)
    decision = container.fallback_limiter.hit(
        f"{policy.name}\0{write.user_id}", fallback, time.time() * 1000
    )
    return GuardResult([decision], FraudCounters(0, 0, 0))


def _rate_headers(decisions: list[Decision]) -> dict[str, str]:
    return {
        "RateLimit-Policy": policy_header([d.limit for d in decisions]),
        "RateLimit": ratelimit_header(most_restrictive(decisions)),
    }


async def _give_back(container: Container, write: Write, *, replay: bool) -> tuple[int, int | None]:
    """``(replays in the sliding minute, rank)``; ``(0, None)`` while Redis is down."""
    if not container.monitor.redis_up:
        return 0, None
    try:
        return await container.side.give_back(write, replay=replay)
    except REDIS_ERRORS:
        container.monitor.redis_failed()
        return 0, None


async def _record_fraud(container: Container, write: Write, hits: list[FraudHit]) -> None:
    submission = write.submission
    for hit in hits:
        FRAUD_HITS.labels(write.board, hit.rule, hit.action).inc()
    log.warning(
        "fraud rule hit",
        extra={
            "board": write.board,
            "rules": [h.rule for h in hits],
            "action": hits[0].action,
            "request_id": submission.request_id,
        },
    )
    try:
        await pg_scores.record_fraud(
            container.db,
            board=write.board,
            user_id=write.user_id,
            hits=[(h.rule, h.action, h.detail) for h in hits],
            action_id=submission.action_id,
            client_ip=submission.client_ip,
            request_id=submission.request_id,
        )
    except Unavailable:
        log.warning("could not store fraud events (postgres down)")


async def _replay(
    container: Container,
    policy: BoardPolicy,
    write: Write,
    result: Committed,
    replays: int,
    rank: int | None,
    headers: dict[str, str],
) -> WriteOutcome:
    stored = (
        result.user_id,
        result.action,
        result.increment if result.score is None else result.score,
        result.client_ts,
        decode_metadata(result.metadata),
    )
    if not same_payload(stored, write.submission, write.value):
        raise Conflict(
            "this action_id was already used with a different payload", code="action_conflict"
        )
    SCORE_REPLAYS.labels(write.board).inc()
    hits = evaluate(policy.spec.fraud, FraudCounters(0, 0, replays), write.points, replay=True)
    if hits:
        await _record_fraud(container, write, hits)
        if rejects(hits):
            raise Refused("too many replays", code="fraud_rejected")
    if rank is None and not container.monitor.redis_up:
        rank = await _current_rank(container, policy, write.user_id)
    return WriteOutcome(
        write,
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


async def _place(container: Container, policy: BoardPolicy, result: Committed) -> int | None:
    """Write the absolute total to Redis, count it and publish it (one script); on failure
    mark the board for rebuild."""
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
                    increment=result.increment,
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
                run=container.side.batch.run,
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
