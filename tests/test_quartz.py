"""Quartz cron validation and fire-time previews (agent/quartz.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.quartz import next_fire_times, quartz_error, timezone_error

VALID = [
    "0 0 2 * * ?",
    "0 30 6 ? * MON-FRI",
    "0 0/15 * * * ?",
    "0 */5 9-17 ? * 2-6",
    "0 0 12 L * ?",
    "0 0 12 L-3 * ?",
    "0 0 12 LW * ?",
    "0 0 12 15W * ?",
    "0 0 12 L-2W * ?",
    "0 0 2 ? * L",
    "0 0 2 ? * 2#1",
    "0 0 2 ? * FRIL",
    "0 0 9 ? * 6L",
    "0 0 9 ? * MON#2",
    "0 0 9 ? JAN,JUL 1",
    "0 0 22-2 * * ?",
    "0 15 10 ? * FRI-MON",
    "0 0 0 1 1 ? 2030",
    "0 0 0 1 1 ? 2026-2030/2",
    "30 45 23 31 DEC ?",
    "0 0 2 * * ? *",
]
INVALID = [
    ("", "empty"),
    ("0 2 * * *", "got 5"),
    ("0 0 2 * * ? 2030 x", "got 8"),
    ("0 0 2 * * *", "exactly one"),
    ("0 0 2 ? * ?", "not both"),
    ("60 0 2 * * ?", "seconds value 60"),
    ("0 60 2 * * ?", "minutes value 60"),
    ("0 0 24 * * ?", "hours value 24"),
    ("0 0 2 32 * ?", "day-of-month value 32"),
    ("0 0 2 ? 13 *", "month value 13"),
    ("0 0 2 ? * 8", "day-of-week value 8"),
    ("0 0 2 ? * 0", "1 = SUN"),
    ("0 0 2 ? FOO *", "not a valid month"),
    ("0 0 2 ? * MON#6", "week number"),
    ("0 0/0 * * * ?", "bad step"),
    ("0 0/61 * * * ?", "larger than 59"),
    ("0 0 2 * * ? 1969", "year value 1969"),
    ("0 0 2 * * ? 2031-2029", "backwards"),
    ("0 ? 2 * * *", "only allowed in day-of-month or day-of-week"),
    ("0 0 2 1,,2 * ?", "empty value"),
    # Quartz's own parser refuses these (CronExpression.buildExpression, QUARTZ-640)
    ("0 0 2 ? * 2L,3", "'L' (last weekday of the month, e.g. 6L) cannot be combined"),
    ("0 0 2 ? * SAT,SUN,L", "cannot be combined with other days in day-of-week"),
    ("0 0 2 ? * 2#1,4#3", "only one 'n#m'"),
    ("0 0 2 L,15 * ?", "cannot be combined with other days in day-of-month"),
    ("0 0 2 1,LW * ?", "cannot be combined with other days in day-of-month"),
    ("0 0 2 L-31 * ?", "offset"),
    ("0 0 2 32W * ?", "out of range 1-31"),
    ("0 0 2 ? * 0L", "out of range 1-7"),
    ("0 0 2 ? * 2#0", "week number"),
]


@pytest.mark.parametrize("expr", VALID)
def test_valid_expressions(expr):
    assert quartz_error(expr) is None


@pytest.mark.parametrize(("expr", "fragment"), INVALID)
def test_invalid_expressions_say_why(expr, fragment):
    message = quartz_error(expr)
    assert message is not None and fragment in message, message


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily():
    times = next_fire_times("0 0 2 * * ?", "UTC", 3, utc(2026, 1, 1, 2, 0))
    assert times == [utc(2026, 1, 2, 2), utc(2026, 1, 3, 2), utc(2026, 1, 4, 2)]  # strictly after


def test_weekdays_skip_the_weekend():
    times = next_fire_times("0 30 6 ? * MON-FRI", "UTC", 4, utc(2026, 1, 2, 7, 0))  # a Friday
    assert [t.strftime("%a %d %H:%M") for t in times] == [
        "Mon 05 06:30",
        "Tue 06 06:30",
        "Wed 07 06:30",
        "Thu 08 06:30",
    ]


def test_every_15_minutes():
    times = next_fire_times("0 0/15 * * * ?", "UTC", 5, utc(2026, 5, 1, 23, 37, 12))
    assert times[0] == utc(2026, 5, 1, 23, 45)
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [timedelta(minutes=15)] * 4
    assert times[1] == utc(2026, 5, 2, 0, 0)


def test_last_day_of_month_including_leap_february():
    times = next_fire_times("0 0 12 L * ?", "UTC", 4, utc(2028, 1, 15))
    assert [t.date().isoformat() for t in times] == ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"]
    assert next_fire_times("0 0 12 L 2 ?", "UTC", 1, utc(2026, 1, 1))[0].day == 28


def test_special_day_forms():
    assert (
        next_fire_times("0 0 9 ? * MON#1", "UTC", 1, utc(2026, 6, 1, 10))[0].date().isoformat()
        == "2026-07-06"
    )
    assert next_fire_times("0 0 9 ? * 6L", "UTC", 1, utc(2026, 7, 1))[0].date().isoformat() == "2026-07-31"
    # The 15th of August 2026 is a Saturday: nearest weekday is Friday the 14th.
    assert next_fire_times("0 0 9 15W * ?", "UTC", 1, utc(2026, 8, 1))[0].date().isoformat() == "2026-08-14"
    # 31 May 2026 is a Sunday: the last weekday is Friday the 29th.
    assert next_fire_times("0 0 9 LW * ?", "UTC", 1, utc(2026, 5, 20))[0].date().isoformat() == "2026-05-29"
    assert next_fire_times("0 0 9 L-2 * ?", "UTC", 1, utc(2026, 4, 1))[0].date().isoformat() == "2026-04-28"
    # L-2W in May 2026: L-2 is the 29th, a Friday, so it fires on the 29th.
    assert next_fire_times("0 0 9 L-2W * ?", "UTC", 1, utc(2026, 5, 20))[0].date().isoformat() == "2026-05-29"
    # In August 2026 L-2 is Saturday the 29th: the nearest weekday is Friday the 28th.
    assert next_fire_times("0 0 9 L-2W * ?", "UTC", 1, utc(2026, 8, 1))[0].date().isoformat() == "2026-08-28"


def test_daylight_saving_in_berlin():
    berlin = ZoneInfo("Europe/Berlin")
    times = next_fire_times("0 0 2 * * ?", "Europe/Berlin", 4, utc(2026, 3, 26, 12))
    assert all(t.tzinfo == berlin for t in times)
    assert [t.isoformat() for t in times] == [
        "2026-03-27T02:00:00+01:00",
        "2026-03-28T02:00:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:00 does not exist that night; Quartz fires just after the gap
        "2026-03-30T02:00:00+02:00",
    ]
    autumn = next_fire_times("0 30 2 * * ?", "Europe/Berlin", 3, utc(2026, 10, 24, 12))
    # 02:30 happens twice on the 25th (CEST, then CET): it fires once, at the first.
    assert [(t.day, t.astimezone(UTC).hour) for t in autumn] == [(25, 0), (26, 1), (27, 1)]


def test_weekday_schedule_in_new_york_is_computed_in_local_time():
    times = next_fire_times("0 30 6 ? * MON-FRI", "America/New_York", 2, utc(2026, 3, 6, 12))
    assert [t.isoformat() for t in times] == ["2026-03-09T06:30:00-04:00", "2026-03-10T06:30:00-04:00"]


def test_year_field_limits_results_and_naive_after_is_utc():
    assert next_fire_times("0 0 0 1 1 ? 2027", "UTC", 5, datetime(2026, 6, 1)) == [utc(2027, 1, 1)]
    assert next_fire_times("0 0 0 1 1 ? 2020", "UTC", 5, datetime(2026, 6, 1)) == []


def test_invalid_input_raises_value_error():
    with pytest.raises(ValueError, match="6 or 7 fields"):
        next_fire_times("0 2 * * *", "UTC", 1, utc(2026, 1, 1))
    with pytest.raises(ValueError, match="time zone"):
        next_fire_times("0 0 2 * * ?", "Mars/Olympus", 1, utc(2026, 1, 1))


@pytest.mark.parametrize(
    "tz", ["UTC", "GMT", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "GMT+02:00"]
)
def test_known_time_zones(tz):
    assert timezone_error(tz) is None


@pytest.mark.parametrize("tz", ["", "Mars/Olympus", "Europe/Berlim", "posix/Europe/Berlin", "../etc/passwd"])
def test_unknown_time_zones(tz):
    assert timezone_error(tz)


def test_fixed_offset_zone():
    times = next_fire_times("0 0 9 * * ?", "GMT+05:30", 1, utc(2026, 1, 1))
    assert times[0].isoformat() == "2026-01-01T09:00:00+05:30"
