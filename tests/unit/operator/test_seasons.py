"""Season schedule maths: validation, fire times in a time zone, deterministic season ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from scoreboard_operator.domain.seasons import (
    ScheduleError,
    due_season,
    on_demand_season,
    parse_schedule,
    season_id,
    season_start,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def sid(*args: int) -> int:
    return season_id(utc(*args))


@pytest.mark.parametrize(
    "expr", ["0 0 * * 1", "*/5 * * * *", "@weekly", "0 12 1 */3 *", "0 0 * * MON"]
)
def test_valid_schedules_parse(expr: str) -> None:
    assert parse_schedule(expr, "Europe/Paris").expression == expr


@pytest.mark.parametrize(
    ("expr", "tz", "reason"),
    [
        ("61 * * * *", "UTC", "InvalidSchedule"),
        ("* * * *", "UTC", "InvalidSchedule"),
        ("* * * * * *", "UTC", "InvalidSchedule"),  # seconds field: not our contract
        ("@fortnightly", "UTC", "InvalidSchedule"),
        ("", "UTC", "InvalidSchedule"),
        ("0 0 * * 1", "Mars/Olympus", "InvalidTimeZone"),
        ("0 0 * * 1", "", "InvalidTimeZone"),
    ],
)
def test_invalid_schedules_name_the_reason(expr: str, tz: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(expr, tz)
    assert info.value.reason == reason
    assert info.value.message


def test_fire_times_follow_the_time_zone() -> None:
    schedule = parse_schedule("0 0 * * 1", "Europe/Paris")  # Monday midnight in Paris
    now = utc(2025, 1, 8, 12)  # a Wednesday
    last = schedule.last_fire(now)
    assert last == datetime(2025, 1, 6, tzinfo=ZoneInfo("Europe/Paris"))
    assert last.astimezone(UTC) == utc(2025, 1, 5, 23)
    assert schedule.next_fire(now).astimezone(UTC) == utc(2025, 1, 12, 23)


def test_last_fire_includes_the_exact_instant_and_next_fire_excludes_it() -> None:
    schedule = parse_schedule("* * * * *")
    assert schedule.last_fire(utc(2025, 1, 1, 10, 5)) == utc(2025, 1, 1, 10, 5)
    assert schedule.last_fire(utc(2025, 1, 1, 10, 5, 59)) == utc(2025, 1, 1, 10, 5)
    assert schedule.next_fire(utc(2025, 1, 1, 10, 5)) == utc(2025, 1, 1, 10, 6)


def test_season_ids_count_seconds_and_grow_across_dst() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 2025-10-26 02:30 happens twice in Paris (fold); absolute time keeps ids growing.
    first = datetime(2025, 10, 26, 2, 30, tzinfo=paris, fold=0)
    second = datetime(2025, 10, 26, 2, 30, tzinfo=paris, fold=1)
    assert season_id(second) - season_id(first) == 3600
    assert season_id(utc(2025, 1, 1)) == 157_852_800
    assert season_start(157_852_800) == utc(2025, 1, 1)
    assert season_id(utc(2088, 1, 1)) < 2**31 - 1  # the api's season ids are 32-bit
    with pytest.raises(ValueError, match="range"):
        season_id(utc(2090, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        season_id(datetime(2025, 1, 1))


def test_due_season_once_per_fire_time() -> None:
    schedule = parse_schedule("0 * * * *")  # hourly
    created = utc(2025, 1, 1, 9, 30)
    # Before the first fire time after creation: nothing due.
    assert due_season(schedule, now=utc(2025, 1, 1, 9, 59), since=created, current=1) is None
    # The 10:00 fire time: due once...
    due = due_season(schedule, now=utc(2025, 1, 1, 10, 0, 3), since=created, current=1)
    assert due == sid(2025, 1, 1, 10)
    # ...and not again once recorded, whichever replica or restart asks.
    assert due_season(schedule, now=utc(2025, 1, 1, 10, 30), since=created, current=due) is None
    # Operator down from 10:30 to 13:10: only the latest missed fire time counts.
    assert due_season(schedule, now=utc(2025, 1, 1, 13, 10), since=created, current=due) == sid(
        2025, 1, 1, 13
    )


def test_no_reset_for_fire_times_before_the_board_existed() -> None:
    schedule = parse_schedule("0 0 * * *")
    created = utc(2025, 1, 1, 12)
    assert due_season(schedule, now=utc(2025, 1, 1, 23), since=created, current=0) is None
    assert due_season(schedule, now=utc(2025, 1, 2, 0, 0, 1), since=created, current=0) == sid(
        2025, 1, 2
    )


def test_on_demand_ids_grow_even_within_one_second() -> None:
    now = utc(2025, 1, 1, 10, 0, 0)
    first = on_demand_season(now, 1)
    assert first == sid(2025, 1, 1, 10)
    assert on_demand_season(now, first) == first + 1
    assert on_demand_season(now + timedelta(seconds=5), first + 1) == sid(2025, 1, 1, 10, 0, 5)
