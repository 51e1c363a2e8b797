"""Admin operations (the operator's interface): boards, seasons, voids, stats, users."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import msgspec
from scoreboard_common.events import BoardChanged, BoardChangeKind
from scoreboard_common.policy import (
    BoardSpec,
    decode_spec,
    encode_spec,
    public_policy,
    webhook_fingerprint,
)
from scoreboard_common.revocation import set_user_disabled as set_user_disabled_in_redis
from scoreboard_common.telemetry import current_traceparent

from scoreboard_api.adapters import pg_boards, pg_identity, pg_scores, pg_webhooks
from scoreboard_api.adapters.pg_boards import BoardRow
from scoreboard_api.domain.errors import ProblemError, board_not_found, validation_error
from scoreboard_api.domain.policy import BoardPut, spec_of
from scoreboard_api.schemas import (
    BoardState,
    ResetResponse,
    StatsResponse,
    VoidResponse,
    WebhookDelivery,
    WebhookStats,
)
from scoreboard_api.services.container import Container
from scoreboard_api.services.reads import board_numbers
from scoreboard_api.services.scores import REDIS_ERRORS, active_board

log = logging.getLogger("scoreboard.admin")


async def _announce(
    container: Container, row: BoardRow, kind: BoardChangeKind, version: int = 0
) -> None:
    """Write the public policy and season to Redis and tell every replica (best effort: when
    Redis is down the board is marked for rebuild, which rewrites both)."""
    try:
        spec = decode_spec(row.spec_json)
        if kind != "deleted":
            await container.side.write_policy(
                public_policy(row.name, spec, row.generation, row.season)
            )
        await container.side.publish_board(
            BoardChanged(
                board=row.name,
                kind=kind,
                generation=row.generation,
                version=version,
                traceparent=current_traceparent(),
            )
        )
    except REDIS_ERRORS as error:
        log.warning("could not announce board change: %s", error)
        container.monitor.redis_failed(None if kind == "deleted" else row.name)


async def _state(
    container: Container, row: BoardRow, *, applied: bool, created: bool
) -> BoardState:
    policy = container.policies.get(row.name)
    players, top = (None, None)
    if policy is not None:
        players, top = await board_numbers(container, policy)
    return BoardState(
        name=row.name,
        generation=row.generation,
        season=row.season,
        players=players,
        top_score=top,
        applied=applied,
        created=created,
        season_started_at=row.season_started_at,
        last_reset=row.last_reset,
        spec=msgspec.to_builtins(decode_spec(row.spec_json)),
    )


async def put_board(container: Container, name: str, put: BoardPut) -> BoardState:
    spec: BoardSpec = spec_of(put)
    target = None
    if put.webhook_target is not None:
        if spec.webhook is not None and spec.webhook.url != put.webhook_target.url:
            raise validation_error("webhookTarget.url must equal webhook.url")
        target = pg_webhooks.Target(put.webhook_target.url, put.webhook_target.secret)
    keys = json.dumps(put.signing_keys) if put.signing_keys else None
    result = await pg_boards.upsert_board(
        container.db, name, encode_spec(spec), put.generation, put.owner_uid, keys, webhook=target
    )
    if result.applied:
        container.policies.put(result.board)
        version = 0
        if result.created:
            # Keys first, then the announcement: a replica that learns of the board must find
            # its keys, or its monitor would rebuild it a second time.
            try:
                version = (
                    await container.monitor.rebuild(name, reason="created", announce=False) or 0
                )
            except REDIS_ERRORS:
                container.monitor.redis_failed(name)
        await _announce(container, result.board, "policy", version)
    return await _state(container, result.board, applied=result.applied, created=result.created)


async def delete_board(container: Container, name: str, *, archive: bool) -> None:
    row = await pg_boards.delete_board(container.db, name, archive=archive)
    if row is None:
        raise board_not_found(name)
    container.policies.drop(name)
    for key in [k for k in container.top_cache if k[0] == name]:
        container.top_cache.pop(key, None)
    try:
        await container.side.delete_board(name)
    except REDIS_ERRORS:
        container.monitor.redis_failed()
    await _announce(container, row, "deleted")


async def reset_board(container: Container, name: str, season: int) -> ResetResponse:
    policy = active_board(container, name)
    keep = policy.spec.season.keep if policy.spec.season else 12
    outcome = await pg_boards.reset_board(container.db, name, season, keep, policy.spec.size)
    if outcome is None:
        raise board_not_found(name)
    row, reset = outcome
    if reset:
        container.webhooks_due.set()  # this replica's delivery worker looks at once
        container.policies.put(row)
        # Through the monitor's rebuild (the new season's standings from PostgreSQL, under the
        # board's rebuild lock): a rebuild already running for the old season finishes first,
        # and a write that lands in the new season before Redis is switched is kept.
        version = 0
        try:
            version = (
                await container.monitor.rebuild(name, reason="reset", wait=15.0, announce=False)
                or 0
            )
        except REDIS_ERRORS:
            container.monitor.redis_failed(name)
        container.forget_top(name)
        await _announce(container, row, "reset", version)
    return ResetResponse(
        name=name,
        season=row.season,
        reset=reset,
        season_started_at=row.season_started_at,
        last_reset=row.last_reset,
        generation=row.generation,
    )


async def stats(container: Container, name: str) -> StatsResponse:
    policy = active_board(container, name)
    row = container.policies.rows.get(name)
    players, top = await board_numbers(container, policy)
    if players is None or top is None:
        players, top = await pg_scores.board_totals(
            container.db, name, policy.season, policy.spec.order
        )
    upm: int | None = None
    if container.monitor.redis_up:
        try:
            now = time.time()
            minute = int(now // 60)
            current, previous = await container.side.updates_by_minute(name, minute)
            upm = int(current + previous * (1 - (now % 60) / 60))
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    if upm is None:
        upm = await pg_boards.updates_last_minute(container.db, name)
    fraud_total, fraud_recent = await pg_boards.fraud_event_counts(container.db, name)
    target, last = await pg_webhooks.last_delivery(container.db, name)
    webhook = None
    if target is not None or last is not None:
        webhook = WebhookStats(
            configured=target is not None,
            fingerprint=None if target is None else webhook_fingerprint(target.url, target.secret),
            last_delivery=None
            if last is None
            else WebhookDelivery(
                id=last.id,
                season=last.season,
                status=last.status,
                attempts=last.attempts,
                last_error=last.last_error,
                last_status_code=last.last_status,
                created_at=last.created_at,
                next_attempt_at=last.next_attempt_at,
                delivered_at=last.delivered_at,
            ),
        )
    return StatsResponse(
        name=name,
        players=players,
        top_score=top,
        updates_per_minute=upm,
        fraud_events=fraud_total,
        fraud_events_last_hour=fraud_recent,
        season=policy.season,
        generation=policy.generation,
        season_started_at=row.season_started_at if row else datetime.now(UTC),
        last_reset=row.last_reset if row else None,
        webhook=webhook,
        signing_keys_fingerprint=policy.signing_keys.fingerprint(),
    )


async def void_player(
    container: Container,
    name: str,
    user_id: str,
    *,
    reason: str,
    ban: bool,
    actor: str,
    request_id: str | None,
) -> VoidResponse:
    policy = active_board(container, name)
    previous = await pg_boards.void_player(
        container.db,
        board=name,
        season=policy.season,
        user_id=user_id,
        reason=reason,
        ban=ban,
        actor=actor,
        request_id=request_id,
    )
    if previous is None:
        raise ProblemError(404, "player_not_found", f"player {user_id} has no score on this board")
    if ban:
        container.policies.ban(name, user_id)
    version = 0
    try:
        version = await container.store.remove_player(name, user_id)
    except REDIS_ERRORS:
        container.monitor.redis_failed(name)
    row = container.policies.rows.get(name)
    if row is not None:
        await _announce(container, row, "void", version)
    return VoidResponse(leaderboard=name, user_id=user_id, voided_total=previous, banned=ban)


async def set_user_disabled(container: Container, user_id: str, disabled: bool) -> bool:
    found = await pg_identity.set_user_disabled(container.db, user_id, disabled)
    if found:
        container.policies.disable(user_id, disabled)
        try:
            await set_user_disabled_in_redis(container.redis, user_id, disabled)  # realtime
            await container.side.publish_control(b"users")
        except REDIS_ERRORS:
            container.monitor.redis_failed()
    return found
