"""Season schedule maths: cron expressions in a time zone, and deterministic season ids.

A season id is the instant the season started, as whole seconds since the season epoch
2020-01-01T00:00:00Z (e.g. ``157852800`` for 2025-01-01T00:00:00Z). For a scheduled reset that
instant is the cron fire time, which any replica computes identically from the spec and the
clock, before or after a restart; ids only grow with time (no DST fold in absolute time), and
fit the api's 32-bit season ids until 2088. The api makes ``reset`` idempotent per season id, so
computing the same id twice never archives twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

#: Season ids count seconds from here (fits a signed 32-bit integer until 2088).
SEASON_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
MAX_SEASON = 2**31 - 1

MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)


class ScheduleError(ValueError):
    """An invalid schedule or time zone; ``reason`` is the condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Schedule:
    expression: str
    zone: ZoneInfo

    def last_fire(self, now: datetime) -> datetime:
        """The most recent fire time at or before ``now`` (in the schedule's zone)."""
        base = now.astimezone(self.zone).replace(microsecond=0) + timedelta(seconds=1)
        fire: datetime = croniter(self.expression, base).get_prev(datetime)
        return fire

    def next_fire(self, now: datetime) -> datetime:
        """The first fire time strictly after ``now``."""
        base = now.astimezone(self.zone).replace(microsecond=0)
        fire: datetime = croniter(self.expression, base).get_next(datetime)
        return fire


def parse_schedule(expression: str, time_zone: str = "UTC") -> Schedule:
    """Validate a 5-field cron expression (or a macro such as ``@weekly``) and a IANA zone."""
    expression = " ".join(expression.split())
    if not expression:
        raise ScheduleError("InvalidSchedule", "season.schedule is empty")
    if expression.startswith("@"):
        if expression not in MACROS:
            raise ScheduleError(
                "InvalidSchedule",
                f"unknown schedule macro {expression!r}; use one of {sorted(MACROS)}",
            )
    elif len(expression.split(" ")) != 5:
        raise ScheduleError(
            "InvalidSchedule",
            f"season.schedule {expression!r} must have 5 fields: minute hour day month weekday",
        )
    if not croniter.is_valid(expression):
        raise ScheduleError(
            "InvalidSchedule", f"season.schedule {expression!r} is not a valid cron expression"
        )
    if not time_zone:
        raise ScheduleError("InvalidTimeZone", "season.timeZone is empty")
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            "InvalidTimeZone", f"season.timeZone {time_zone!r} is not a known IANA time zone"
        ) from None
    schedule = Schedule(expression, zone)
    try:  # e.g. "0 0 31 2 *" parses but never fires
        schedule.next_fire(datetime.now(UTC))
    except Exception as error:  # croniter raises several types for impossible dates
        raise ScheduleError(
            "InvalidSchedule", f"season.schedule {expression!r} never fires: {error}"
        ) from None
    return schedule


def season_id(moment: datetime) -> int:
    """Whole seconds from :data:`SEASON_EPOCH` to ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("season_id needs an aware datetime")
    seconds = int((moment - SEASON_EPOCH).total_seconds())
    if not 1 <= seconds <= MAX_SEASON:
        raise ValueError(f"{moment.isoformat()} is outside the season id range")
    return seconds


def season_start(season: int) -> datetime:
    """The instant a season id stands for (meaningless for the api's first season, ``1``)."""
    return SEASON_EPOCH + timedelta(seconds=season)


def due_season(schedule: Schedule, *, now: datetime, since: datetime, current: int) -> int | None:
    """The season id to reset to now, or ``None`` when no reset is due.

    A reset is due when the most recent fire time is after ``since`` (the CR's creation: a new
    board does not reset for fire times before it existed) and its id is greater than the
    ``current`` season (so each fire time resets at most once, and a missed fire time while the
    operator was down is caught up once: only the latest one counts).
    """
    fire = schedule.last_fire(now)
    if fire <= since:
        return None
    season = season_id(fire)
    return season if season > current else None


def on_demand_season(now: datetime, current: int) -> int:
    """The season id of an on-demand reset requested at ``now``: the current instant's id,
    bumped past ``current`` when a reset already happened within the same second."""
    return max(season_id(now), current + 1)
