"""kopf handlers: Leaderboard custom resources → the api's admin endpoints.

Level-based and idempotent: every handler and timer computes the desired board from the spec,
compares it with what the api reports, and writes the observed state into ``status``.

- create/resume/spec-update → :func:`reconcile` (PUT the policy, refresh stats, conditions);
- timer every ``DRIFT_CHECK_SECONDS`` → :func:`check_drift` (re-PUT when the api lost the
  board or holds an older generation; refresh stats; recover Ready by itself);
- timer every ``SEASON_CHECK_SECONDS`` on boards with a season → :func:`season_tick`;
- annotation ``scoreboard.dev/reset-requested`` → :func:`reset_on_request`;
- deletion (finalizer ``scoreboard.dev/finalizer``) → :func:`retire`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from . import metrics
from .api_client import AdminApi, ApiError, ApiNotFound, BoardStats
from .domain import conditions as cond
from .domain.naming import Claim, conflict_message
from .domain.seasons import (
    Schedule,
    ScheduleError,
    due_season,
    on_demand_season,
    parse_schedule,
)
from .domain.spec import (
    board_payload,
    deletion_policy,
    drift,
    generation_conflict,
    signing_keys_drift,
    webhook_drift,
    webhook_ref,
    with_webhook_target,
)
from .secrets import SecretError, read_secret
from .settings import (
    FINALIZER,
    GROUP,
    KOPF_STORAGE_PREFIX,
    PLURAL,
    RESET_ANNOTATION,
    SKIP_CLEANUP_ANNOTATION,
    VERSION,
    get_settings,
)

RESOURCE = (GROUP, VERSION, PLURAL)
CONFIG = get_settings()
log = logging.getLogger("scoreboard.operator")


def _now() -> datetime:
    return datetime.now(UTC)


#: How long a deleted Leaderboard's timers are waited for at once, and then how often.
TIMER_EXIT_WAIT_SECONDS = 2.0
TIMER_EXIT_POLL_SECONDS = 2.0

#: The clock the season logic uses (tests may replace it).
clock: Callable[[], datetime] = _now


# --------------------------------------------------------------------------- lifecycle


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """kopf settings (storage under our own domain from day one), api client, metrics."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=KOPF_STORAGE_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_STORAGE_PREFIX, key="last-handled-configuration"
    )
    settings.posting.enabled = True
    settings.posting.level = logging.INFO
    settings.posting.reporting_component = "scoreboard-operator"
    # Watches: server-side timeout below the client-side one; silently frozen watches are
    # recovered by kopf's inactivity timeout (kept at its default).
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    # A deleted Leaderboard keeps its finalizer until its timers (drift check, season tick)
    # have stopped. kopf gives them ten loop cycles to exit, then looks again only after
    # `cancellation_polling` (60 s by default): a timer in the middle of an api call, or a busy
    # operator, made `kubectl delete` wait a minute. Wait for the exit itself a little, and look
    # again soon.
    settings.background.instant_exit_timeout = TIMER_EXIT_WAIT_SECONDS
    settings.background.cancellation_polling = TIMER_EXIT_POLL_SECONDS
    memo.api = AdminApi(
        CONFIG.scoreboard_api_url,
        CONFIG.scoreboard_api_token,
        timeout=CONFIG.scoreboard_api_timeout_seconds,
        on_reachable=lambda up: metrics.API_UP.set(1 if up else 0),
    )
    metrics.API_UP.set(0)
    metrics.serve(CONFIG.metrics_port)
    log.info(
        "operator configured",
        extra={"api_url": CONFIG.scoreboard_api_url, "namespaces": CONFIG.namespaces or "all"},
    )


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    api: AdminApi | None = getattr(memo, "api", None)
    if api is not None:
        await api.aclose()


@kopf.on.probe(id="api")
async def api_probe(memo: kopf.Memo, **_: Any) -> bool:
    """Reported in /healthz's body; never fails liveness (the api is not the operator)."""
    api: AdminApi | None = getattr(memo, "api", None)
    return bool(api is not None and await api.healthy())


# --------------------------------------------------------------------------- index


@kopf.index(*RESOURCE)
def leaderboard_claims(
    name: str, namespace: str | None, meta: kopf.Meta, **_: Any
) -> dict[str, Claim]:
    """Board name → the Leaderboards (in any watched namespace) that claim it."""
    return {
        name: Claim(
            created=str(meta.get("creationTimestamp") or ""),
            namespace=namespace or "",
            uid=str(meta.get("uid") or ""),
        )
    }


# --------------------------------------------------------------------------- helpers


def _api(memo: kopf.Memo) -> AdminApi:
    api: AdminApi = memo.api
    return api


def _backoff(retry: int, error: ApiError | None = None) -> float:
    """1, 2, 4, ... seconds, capped; at least the api's Retry-After."""
    delay = min(CONFIG.retry_max_delay_seconds, float(2 ** min(max(retry, 0), 16)))
    if error is not None and error.retry_after:
        delay = max(delay, min(error.retry_after, CONFIG.retry_max_delay_seconds))
    return delay


def _claims(index: kopf.Index[str, Claim] | None, name: str) -> list[Claim]:
    """The claims on ``name`` (kopf passes the index to every handler by its name)."""
    if index is None:
        return []
    store: Iterable[Claim] = index.get(name, [])
    return list(store)


def _mine(name: str, namespace: str | None, meta: kopf.Meta) -> Claim:
    return Claim(
        created=str(meta.get("creationTimestamp") or ""),
        namespace=namespace or "",
        uid=str(meta.get("uid") or ""),
    )


def _name_conflict(
    name: str, namespace: str | None, meta: kopf.Meta, claims: kopf.Index[str, Claim] | None
) -> str | None:
    """``None`` when this Leaderboard owns the board name, else the ``NameConflict`` message
    (another namespace's older Leaderboard of the same name owns it)."""
    return conflict_message(name, _mine(name, namespace, meta), _claims(claims, name))


def _set_conditions(patch: kopf.Patch, updates: list[cond.Condition], generation: int) -> None:
    fn = cond.conditions_patch_fn(updates, generation=generation, now=clock())
    patch.fns.append(cast(Callable[[kopf.RawBody], None], fn))


def _announce(
    body: kopf.Body,
    status: Mapping[str, Any],
    ready: cond.Condition,
    *,
    success_message: str | None = None,
) -> None:
    """Post an Event when Ready changes (status or reason), not on every retry."""
    previous = cond.find(status.get("conditions"), cond.READY)
    changed = previous is None or (
        previous.get("status") != ready.status or previous.get("reason") != ready.reason
    )
    if ready.status == "True":
        if success_message is not None:
            kopf.info(body, reason="Synced", message=success_message)
        elif changed and previous is not None:
            kopf.info(body, reason="Recovered", message=ready.message)
    elif changed:
        kopf.warn(body, reason=ready.reason, message=ready.message)


def _schedule_condition(spec: Mapping[str, Any]) -> tuple[cond.Condition, Schedule | None]:
    season = spec.get("season")
    if not isinstance(season, Mapping) or not season.get("schedule"):
        return cond.Condition(
            cond.SEASON_SCHEDULE_VALID, "True", "NoSchedule", "no season schedule"
        ), None
    try:
        schedule = parse_schedule(str(season["schedule"]), str(season.get("timeZone", "UTC")))
    except ScheduleError as error:
        return cond.Condition(
            cond.SEASON_SCHEDULE_VALID, "False", error.reason, error.message
        ), None
    return (
        cond.Condition(
            cond.SEASON_SCHEDULE_VALID,
            "True",
            "ValidSchedule",
            f"resets on {schedule.expression!r} in {schedule.zone.key}",
        ),
        schedule,
    )


def _stats_to_status(patch: kopf.Patch, status: Mapping[str, Any], stats: BoardStats) -> None:
    if stats.players is not None and status.get("players") != stats.players:
        patch.status["players"] = stats.players
    if stats.top_score is not None and status.get("topScore") != stats.top_score:
        patch.status["topScore"] = stats.top_score
    last_reset = _rfc3339_text(stats.last_reset) if stats.last_reset else None
    if last_reset is not None and status.get("lastReset") != last_reset:
        patch.status["lastReset"] = last_reset
    if stats.season is not None:
        # Never move the recorded season backwards (a reset this operator did may be newer
        # than a stale stats answer).
        current = status.get("season")
        if not isinstance(current, int) or stats.season > current:
            patch.status["season"] = stats.season
    webhook = _webhook_status(stats)
    if webhook != status.get("webhook") and (webhook is not None or status.get("webhook")):
        patch.status["webhook"] = webhook


def _webhook_status(stats: BoardStats) -> dict[str, Any] | None:
    """``status.webhook`` from the api's ``stats.webhook`` (never the URL or the secret)."""
    webhook = stats.raw.get("webhook")
    if not isinstance(webhook, Mapping):
        return None
    last = webhook.get("last_delivery")
    out: dict[str, Any] = {"configured": bool(webhook.get("configured"))}
    if isinstance(last, Mapping):
        out.update(
            lastDeliveryId=last.get("id"),
            lastDeliveryStatus=last.get("status"),
            attempts=last.get("attempts"),
            lastError=last.get("last_error"),
            deliveredAt=_rfc3339_text(last["delivered_at"]) if last.get("delivered_at") else None,
            nextAttemptAt=_rfc3339_text(last["next_attempt_at"])
            if last.get("next_attempt_at")
            else None,
        )
    return out


def _rfc3339_text(value: str) -> str:
    """The api's ISO time (``...+00:00``, fractions) as Kubernetes writes times."""
    try:
        return cond.rfc3339(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value


def _next_reset(patch: kopf.Patch, status: Mapping[str, Any], schedule: Schedule | None) -> None:
    value = cond.rfc3339(schedule.next_fire(clock())) if schedule is not None else None
    if status.get("nextReset") != value:
        patch.status["nextReset"] = value


# --------------------------------------------------------------------------- reconcile


async def _sync(
    *,
    name: str,
    namespace: str | None,
    spec: Mapping[str, Any],
    meta: kopf.Meta,
    status: Mapping[str, Any],
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    claims: kopf.Index[str, Claim] | None,
    logger: kopf.Logger,
    retry: int,
    only_on_drift: bool,
) -> None:
    """Bring the api's board in line with the spec and write the status.

    Raises ``kopf.TemporaryError`` (growing delay) when the api fails and ``only_on_drift`` is
    false; the drift timer passes ``only_on_drift=True`` and never raises.
    """
    generation = int(meta.get("generation") or 1)
    conflict = _name_conflict(name, namespace, meta, claims)
    schedule_cond, schedule = _schedule_condition(spec)
    if conflict is not None:
        blocked = cond.Condition(cond.NAME_AVAILABLE, "False", "NameConflict", conflict)
        synced = cond.Condition(cond.SYNCED, "False", "NameConflict", conflict)
        ready = cond.ready_from([synced])
        _set_conditions(patch, [ready, synced, schedule_cond, blocked], generation)
        _announce(body, status, ready)
        if status.get("observedGeneration") != generation:
            patch.status["observedGeneration"] = generation
        metrics.RECONCILES.labels("error").inc()
        return

    api = _api(memo)
    payload = board_payload(name, spec, generation, body.get("metadata", {}).get("uid"))
    success_message: str | None = None
    conflict_note: str | None = None
    reason: str | None = None
    try:
        signing_secret = (spec.get("signing") or {}).get("secretRef") or {}
        if signing_secret.get("name"):
            # Private member of the PUT: stored by the api, never returned or published,
            # never logged here (an unreadable Secret is a SecretError: condition + retry).
            payload["signingKeys"] = await read_secret(
                namespace or "default", str(signing_secret["name"])
            )
        target = await _webhook_target(namespace, spec)
        if target is not None:
            payload = with_webhook_target(payload, *target)
        with metrics.RECONCILE_DURATION.time():
            put = True
            if only_on_drift:
                stats: BoardStats | None
                try:
                    stats = await api.stats(name)
                except ApiNotFound:
                    stats = None
                stored = None if stats is None else await api.get_board(name)
                reason = drift(stored, payload)
                if reason is None and stats is not None:
                    reason = webhook_drift(stats.raw.get("webhook"), target)
                if reason is None and stats is not None:
                    reason = signing_keys_drift(
                        stats.raw.get("signing_keys_fingerprint"), payload.get("signingKeys")
                    )
                # A newer generation in the api: PUT anyway (the api ignores it and answers
                # with its stored spec) to tell a harmless race from a GenerationConflict.
                ahead = stats is not None and (stats.generation or 0) > generation
                put = reason is not None or ahead
            if put:
                state = await api.put_board(name, payload)
                conflict_note = generation_conflict(state, payload)
                if only_on_drift and conflict_note is None and reason is not None:
                    logger.info(f"drift on board {name!r}: {reason}; re-applied")
                    kopf.info(
                        body,
                        reason="DriftCorrected",
                        message=f"{reason}; re-applied generation {generation}",
                    )
                elif conflict_note is None and status.get("observedGeneration") != generation:
                    success_message = (
                        f"board {name!r} applied to the api at generation {generation}"
                    )
                stats = await api.stats(name)
    except (ApiError, SecretError) as error:
        metrics.RECONCILES.labels("error").inc()
        synced = cond.Condition(cond.SYNCED, "False", error.reason, error.message)
        ready = cond.ready_from([synced, schedule_cond])
        owned = cond.Condition(cond.NAME_AVAILABLE, "True", "NameOwned", _owned_message(name))
        _set_conditions(patch, [ready, synced, schedule_cond, owned], generation)
        _announce(body, status, ready)
        if only_on_drift:
            logger.warning(f"drift check of board {name!r} failed: {error}")
            return
        api_error = error if isinstance(error, ApiError) else None
        raise kopf.TemporaryError(str(error), delay=_backoff(retry, api_error)) from error

    if stats is not None:
        _stats_to_status(patch, status, stats)
    _next_reset(patch, status, schedule)
    if status.get("observedGeneration") != generation:
        patch.status["observedGeneration"] = generation
    if conflict_note is not None:
        metrics.RECONCILES.labels("error").inc()
        synced = cond.Condition(cond.SYNCED, "False", "GenerationConflict", conflict_note)
    else:
        metrics.RECONCILES.labels("success").inc()
        synced = cond.Condition(
            cond.SYNCED, "True", "Applied", f"api holds generation {generation} of board {name!r}"
        )
    owned = cond.Condition(cond.NAME_AVAILABLE, "True", "NameOwned", _owned_message(name))
    ready = cond.ready_from([synced, schedule_cond])
    _set_conditions(patch, [ready, synced, schedule_cond, owned], generation)
    _announce(body, status, ready, success_message=success_message)


async def _webhook_target(namespace: str | None, spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(url, secret)`` of the spec's webhook, the secret read from its Secret (in the
    Leaderboard's namespace); None without a webhook. Raises :class:`SecretError`."""
    ref = webhook_ref(spec)
    if ref is None:
        return None
    url, secret_name, key = ref
    data = await read_secret(namespace or "default", secret_name)
    if key not in data or not data[key]:
        raise SecretError(
            "SecretKeyMissing",
            f"Secret {secret_name} has no key {key!r} (spec.webhook.secretRef)",
            temporary=True,
        )
    return url, data[key]


def _owned_message(name: str) -> str:
    return f"board {name!r} in the api belongs to this Leaderboard"


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
async def reconcile(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    meta: kopf.Meta,
    status: kopf.Status,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    retry: int,
    logger: kopf.Logger,
    leaderboard_claims: kopf.Index[str, Claim] | None = None,
    **_: Any,
) -> None:
    """Create or update the board in the api from the spec (create, resume, spec change)."""
    await _sync(
        name=name,
        namespace=namespace,
        spec=spec,
        meta=meta,
        status=status,
        body=body,
        patch=patch,
        memo=memo,
        claims=leaderboard_claims,
        logger=logger,
        retry=retry,
        only_on_drift=False,
    )


@kopf.timer(
    *RESOURCE, interval=CONFIG.drift_check_seconds, initial_delay=CONFIG.drift_check_seconds
)
async def check_drift(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    meta: kopf.Meta,
    status: kopf.Status,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    leaderboard_claims: kopf.Index[str, Claim] | None = None,
    **_: Any,
) -> None:
    """Re-apply the policy if the api lost it or holds an older generation; refresh stats."""
    if meta.get("deletionTimestamp"):
        return
    await _sync(
        name=name,
        namespace=namespace,
        spec=spec,
        meta=meta,
        status=status,
        body=body,
        patch=patch,
        memo=memo,
        claims=leaderboard_claims,
        logger=logger,
        retry=0,
        only_on_drift=True,
    )


# --------------------------------------------------------------------------- seasons


def _has_season(spec: kopf.Spec, **_: Any) -> bool:
    season = spec.get("season")
    return isinstance(season, Mapping) and bool(season.get("schedule"))


def _current_season(status: Mapping[str, Any]) -> int:
    value = status.get("season")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _created(meta: kopf.Meta) -> datetime:
    raw = meta.get("creationTimestamp")
    if isinstance(raw, str) and raw:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return clock()


@kopf.timer(*RESOURCE, interval=CONFIG.season_check_seconds, when=_has_season)
async def season_tick(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    meta: kopf.Meta,
    status: kopf.Status,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    logger: kopf.Logger,
    leaderboard_claims: kopf.Index[str, Claim] | None = None,
    **_: Any,
) -> None:
    """Reset the board when its schedule fired since the current season began.

    The season id is the fire time (see ``domain.seasons``), so every replica and every
    restart computes the same id for the same fire time, and the api's per-season idempotency
    makes a repeated call harmless.
    """
    if meta.get("deletionTimestamp"):
        return
    generation = int(meta.get("generation") or 1)
    schedule_cond, schedule = _schedule_condition(spec)
    if schedule is None:
        previous = cond.find(status.get("conditions"), cond.SEASON_SCHEDULE_VALID)
        if previous is None or previous.get("reason") != schedule_cond.reason:
            _set_conditions(patch, [schedule_cond], generation)
        return
    if _name_conflict(name, namespace, meta, leaderboard_claims):
        return
    now = clock()
    season = due_season(schedule, now=now, since=_created(meta), current=_current_season(status))
    if season is None:
        _next_reset(patch, status, schedule)
        return
    fire = schedule.last_fire(now)
    try:
        await _api(memo).reset(name, season)
    except ApiError as error:
        logger.warning(f"scheduled reset of board {name!r} to season {season} failed: {error}")
        if not isinstance(error, ApiNotFound):
            kopf.warn(body, reason="SeasonResetFailed", message=f"season {season}: {error.message}")
        return  # the next tick retries with the same season id
    metrics.SEASON_RESETS.labels(name).inc()
    patch.status["season"] = season
    patch.status["lastReset"] = cond.rfc3339(fire)
    patch.status["nextReset"] = cond.rfc3339(schedule.next_fire(now))
    patch.status["players"] = 0
    patch.status["topScore"] = 0
    kopf.info(
        body,
        reason="SeasonReset",
        message=f"scheduled reset ({schedule.expression!r} in {schedule.zone.key}): "
        f"season {season} started",
    )


@kopf.on.resume(*RESOURCE, annotations={RESET_ANNOTATION: kopf.PRESENT})
@kopf.on.field(*RESOURCE, field=("metadata", "annotations", RESET_ANNOTATION))
async def reset_on_request(
    name: str,
    namespace: str | None,
    meta: kopf.Meta,
    status: kopf.Status,
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    retry: int,
    leaderboard_claims: kopf.Index[str, Claim] | None = None,
    **_: Any,
) -> None:
    """On-demand reset, once per distinct value of the ``reset-requested`` annotation.

    Two steps, so that a crash between the api call and the status write cannot reset twice:
    first the season id is chosen and stored in ``status.resetRequest``; then (on the retry
    that this store triggers) the reset is sent with that stored id.
    """
    token = (meta.get("annotations") or {}).get(RESET_ANNOTATION)
    request: Mapping[str, Any] = status.get("resetRequest") or {}
    if not token or token == request.get("handled"):
        return
    if _name_conflict(name, namespace, meta, leaderboard_claims):
        kopf.warn(
            body,
            reason="NameConflict",
            message="reset ignored: this Leaderboard does not own the board",
        )
        patch.status["resetRequest"] = {"handled": token, "pending": None, "season": None}
        return
    season = request.get("season")
    if request.get("pending") != token or not isinstance(season, int):
        season = on_demand_season(clock(), _current_season(status))
        patch.status["resetRequest"] = {
            "handled": request.get("handled"),
            "pending": token,
            "season": season,
        }
        raise kopf.TemporaryError(f"reset to season {season} recorded; sending it", delay=0.5)
    try:
        await _api(memo).reset(name, season)
    except ApiError as error:
        if retry == 0:
            kopf.warn(body, reason="SeasonResetFailed", message=f"season {season}: {error.message}")
        raise kopf.TemporaryError(str(error), delay=_backoff(retry, error)) from error
    metrics.SEASON_RESETS.labels(name).inc()
    patch.status["resetRequest"] = {"handled": token, "pending": None, "season": season}
    if season > _current_season(status):
        patch.status["season"] = season
    patch.status["lastReset"] = cond.rfc3339(clock())
    patch.status["players"] = 0
    patch.status["topScore"] = 0
    kopf.info(
        body, reason="SeasonReset", message=f"on-demand reset ({token!r}): season {season} started"
    )


# --------------------------------------------------------------------------- deletion


@kopf.on.delete(*RESOURCE)
async def retire(
    name: str,
    namespace: str | None,
    spec: kopf.Spec,
    meta: kopf.Meta,
    body: kopf.Body,
    memo: kopf.Memo,
    retry: int,
    logger: kopf.Logger,
    leaderboard_claims: kopf.Index[str, Claim] | None = None,
    **_: Any,
) -> None:
    """Honour ``deletionPolicy`` before the finalizer is released.

    ``scoreboard.dev/skip-cleanup: "true"`` skips the api call (the escape hatch when the api
    is gone for good; see docs/operator.md).
    """
    if (meta.get("annotations") or {}).get(SKIP_CLEANUP_ANNOTATION) == "true":
        kopf.warn(
            body,
            reason="CleanupSkipped",
            message=f"{SKIP_CLEANUP_ANNOTATION}=true: board {name!r} left in the api",
        )
        return
    if _name_conflict(name, namespace, meta, leaderboard_claims):
        logger.info(f"not the owner of board {name!r}: nothing to clean up")
        return
    if deletion_policy(spec) == "Retain":
        kopf.info(
            body,
            reason="BoardRetained",
            message=f"deletionPolicy Retain: board {name!r} stays in the api",
        )
        return
    try:
        existed = await _api(memo).delete_board(name, archive=True)
    except ApiError as error:
        if retry == 0:
            kopf.warn(
                body,
                reason=error.reason,
                message=f"cannot delete board {name!r}: {error.message} (retrying; see docs/operator.md for {SKIP_CLEANUP_ANNOTATION})",
            )
        raise kopf.TemporaryError(str(error), delay=_backoff(retry, error)) from error
    kopf.info(
        body,
        reason="BoardDeleted",
        message=f"board {name!r} archived and deleted in the api"
        if existed
        else f"board {name!r} was already absent from the api",
    )
