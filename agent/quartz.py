"""Quartz cron expressions, as the Databricks Jobs scheduler reads them: validate and preview.

Pure functions, no I/O. Quartz differs from Unix cron in ways people trip over: seconds come first,
day-of-week counts 1 = SUN .. 7 = SAT, and `?` must stand in exactly one of day-of-month /
day-of-week. `quartz_error` explains what is wrong in words a user can act on; `next_fire_times`
shows when a schedule would really fire, in the schedule's own time zone (DST included).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
FIELD_NAMES = ("seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year")
BOUNDS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2099))
LAST_YEAR = 2099
_CUSTOM_OFFSET = re.compile(r"^(?:GMT|UTC)([+-])(\d{1,2})(?::?(\d{2}))?$")


class QuartzError(ValueError):
    """An expression Quartz would refuse; the message says which field and why."""


@dataclass
class _Spec:
    """One parsed expression: plain value sets plus the day-of-month / day-of-week specials."""

    fields: list[set[int]]
    dom_any: bool = False  # `?` in day-of-month: the day-of-week field decides
    dow_any: bool = False  # `?` in day-of-week: the day-of-month field decides
    dom_last_offsets: set[int] = field(default_factory=set)  # L (0) and L-n (n)
    dom_last_weekday: bool = False  # LW
    dom_last_offset_weekday: set[int] = field(default_factory=set)  # L-nW
    dom_nearest_weekday: set[int] = field(default_factory=set)  # nW
    dow_last: set[int] = field(default_factory=set)  # nL: last such weekday of the month
    dow_nth: set[tuple[int, int]] = field(default_factory=set)  # n#m: m-th such weekday


# -- validation --------------------------------------------------------------------------------------


def quartz_error(expr: str) -> str | None:
    """None when `expr` is valid Quartz cron, else a short explanation of the first problem."""
    try:
        _parse(expr)
    except QuartzError as exc:
        return str(exc)
    return None


def timezone_error(tz_id: str) -> str | None:
    """None when `tz_id` names a time zone the scheduler knows (IANA/Java ids, UTC, GMT, GMT+hh:mm)."""
    if not tz_id or not tz_id.strip():
        return "a time zone id is required, e.g. 'UTC' or 'Europe/Berlin'"
    try:
        _zone(tz_id)
    except ValueError:
        return f"{tz_id!r} is not a known time zone id; use e.g. 'UTC', 'Europe/Berlin' or 'America/New_York'"
    return None


def _zone(tz_id: str) -> tzinfo:
    tz_id = tz_id.strip()
    if tz_id in ("UTC", "GMT", "Z", "UCT", "Etc/UTC", "Etc/GMT"):
        return UTC
    custom = _CUSTOM_OFFSET.match(tz_id)
    if custom:
        sign, hours, minutes = custom.group(1), int(custom.group(2)), int(custom.group(3) or 0)
        if hours > 18 or minutes > 59:
            raise ValueError(tz_id)
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if sign == "-" else delta, tz_id)
    if tz_id.startswith(("posix/", "right/", "/")) or tz_id in ("localtime", "Factory") or ".." in tz_id:
        raise ValueError(tz_id)
    try:
        return ZoneInfo(tz_id)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError, IsADirectoryError, ...
        raise ValueError(tz_id) from exc


def _parse(expr: str) -> _Spec:
    if not isinstance(expr, str) or not expr.strip():
        raise QuartzError("the expression is empty; Quartz needs 6 or 7 fields, e.g. '0 0 2 * * ?'")
    parts = expr.split()
    if len(parts) not in (6, 7):
        raise QuartzError(
            f"Quartz needs 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), "
            f"got {len(parts)}"
            + ("; Unix cron has no seconds field, put a 0 in front" if len(parts) == 5 else "")
        )
    if len(parts) == 6:
        parts.append("*")
    spec = _Spec(fields=[set() for _ in range(7)])
    for index, text in enumerate(parts):
        text = text.upper()
        _check_lists(index, text)
        if text == "?":
            if index == 3:
                spec.dom_any = True
            elif index == 5:
                spec.dow_any = True
            else:
                raise QuartzError(
                    f"'?' is only allowed in day-of-month or day-of-week, not in {FIELD_NAMES[index]}"
                )
            continue
        for item in text.split(","):
            _parse_item(spec, index, item)
    if spec.dom_any == spec.dow_any:
        raise QuartzError(
            "use '?' in exactly one of day-of-month and day-of-week"
            + (" (not both)" if spec.dom_any else ", e.g. '0 0 2 * * ?' or '0 30 6 ? * MON-FRI'")
        )
    return spec


def _check_lists(index: int, text: str) -> None:
    """Combinations Quartz's CronExpression refuses before it reads the values of a field.

    Source: Quartz 2.x `CronExpression.buildExpression` (the checks added for QUARTZ-640): an `L` in
    day-of-month or day-of-week may not share the field with other values, and day-of-week may hold
    only one `n#m`. The class documentation says the same ("3#1,6#3" is not valid).
    """
    if index == 3 and "L" in text and "," in text:
        raise QuartzError(
            f"'L' (last day: L, LW, L-n) cannot be combined with other days in day-of-month {text!r}; "
            "Quartz does not support it"
        )
    if index == 5 and "L" in text and "," in text:
        raise QuartzError(
            f"'L' (last weekday of the month, e.g. 6L) cannot be combined with other days in "
            f"day-of-week {text!r}; Quartz does not support it"
        )
    if index == 5 and text.count("#") > 1:
        raise QuartzError(
            f"only one 'n#m' (m-th weekday of the month) is allowed in day-of-week {text!r}; "
            "Quartz does not support several"
        )


def _parse_item(spec: _Spec, index: int, item: str) -> None:
    name = FIELD_NAMES[index]
    low, high = BOUNDS[index]
    if not item:
        raise QuartzError(f"empty value in {name} (check the commas)")
    if index == 3 and _parse_dom_special(spec, item):
        return
    if index == 5 and _parse_dow_special(spec, item):
        return
    step = 1
    if "/" in item:
        base, _, step_text = item.partition("/")
        if not step_text.isdigit() or int(step_text) < 1:
            raise QuartzError(f"bad step {step_text!r} in {name} field {item!r}; use a positive number")
        step = int(step_text)
        if step > high:
            raise QuartzError(f"step {step} in {name} is larger than {high}")
    else:
        base = item
    if base == "*" or (base == "" and "/" in item):
        start, end = low, high
    elif "-" in base:
        a, _, b = base.partition("-")
        start, end = _value(index, a, item), _value(index, b, item)
    else:
        start = _value(index, base, item)
        end = high if "/" in item else start
    spec.fields[index].update(_expand(index, start, end, step))


def _expand(index: int, start: int, end: int, step: int) -> list[int]:
    low, high = BOUNDS[index]
    if end >= start:
        return list(range(start, end + 1, step))
    if index == 6:
        raise QuartzError(f"year range {start}-{end} runs backwards")
    # Quartz lets ranges wrap around, e.g. FRI-MON or 22-2 hours.
    span = high - low + 1
    return [low + (v - low) % span for v in range(start, end + span + 1, step)]


def _value(index: int, text: str, item: str) -> int:
    name = FIELD_NAMES[index]
    low, high = BOUNDS[index]
    names = MONTHS if index == 4 else DAYS if index == 5 else {}
    if text in names:
        return names[text]
    if not text.isdigit():
        hint = " (use JAN-DEC or 1-12)" if index == 4 else " (use SUN-SAT or 1-7)" if index == 5 else ""
        raise QuartzError(f"{text!r} is not a valid {name} value in {item!r}{hint}")
    value = int(text)
    if not low <= value <= high:
        extra = "; Quartz counts 1 = SUN .. 7 = SAT" if index == 5 else ""
        raise QuartzError(f"{name} value {value} is out of range {low}-{high}{extra}")
    return value


def _parse_dom_special(spec: _Spec, item: str) -> bool:
    if item == "L":
        spec.dom_last_offsets.add(0)
    elif item == "LW":
        spec.dom_last_weekday = True
    elif m := re.fullmatch(r"L-(\d+)(W?)", item):
        offset = int(m.group(1))
        if offset > 30:  # Quartz: "Offset from last day must be <= 30"
            raise QuartzError(f"offset in {item!r} must be 0-30 days before the last day")
        if m.group(2):  # L-nW: the weekday nearest to the n-th day before the last (Quartz 2.x)
            spec.dom_last_offset_weekday.add(offset)
        else:
            spec.dom_last_offsets.add(offset)
    elif m := re.fullmatch(r"(\d+)W", item):
        day = int(m.group(1))
        if not 1 <= day <= 31:
            raise QuartzError(f"day-of-month value {day} in {item!r} is out of range 1-31")
        spec.dom_nearest_weekday.add(day)
    else:
        return False
    return True


def _parse_dow_special(spec: _Spec, item: str) -> bool:
    if item == "L":
        spec.fields[5].add(7)  # a lone L in day-of-week means Saturday
    elif m := re.fullmatch(r"([A-Z]{3}|\d+)L", item):
        spec.dow_last.add(_value(5, m.group(1), item))
    elif m := re.fullmatch(r"([A-Z]{3}|\d+)#(\d+)", item):
        nth = int(m.group(2))
        if not 1 <= nth <= 5:
            raise QuartzError(f"the week number in {item!r} must be 1-5")
        spec.dow_nth.add((_value(5, m.group(1), item), nth))
    else:
        return False
    return True


# -- fire times --------------------------------------------------------------------------------------


def next_fire_times(expr: str, timezone_id: str, count: int, after: datetime) -> list[datetime]:
    """The next `count` fire times strictly after `after`, as aware datetimes in `timezone_id`.

    A naive `after` is read as UTC. Local times that do not exist (the spring-forward gap) fire at the
    same instant shifted past the gap, as Quartz's lenient calendar does; repeated local times (fall
    back) fire once, at the first occurrence. Fewer than `count` come back if the year field runs out.
    Raises ValueError for an invalid expression or time zone.
    """
    spec = _parse(expr)
    err = timezone_error(timezone_id)
    if err:
        raise ValueError(err)
    zone = _zone(timezone_id)
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    start_local = after.astimezone(zone)
    out: list[datetime] = []
    seen: set[datetime] = set()
    for day in _matching_days(spec, start_local.date() - timedelta(days=1)):
        for local in _times_of_day(spec, day):
            instant = local.replace(tzinfo=zone).astimezone(UTC)
            if instant <= after or instant in seen:
                continue
            seen.add(instant)
            out.append(instant.astimezone(zone))
        if len(out) >= count:
            break
    out.sort()
    return out[:count]


def _matching_days(spec: _Spec, first: date) -> Iterator[date]:
    years = sorted(y for y in spec.fields[6] if y >= first.year)
    for year in years:
        for month in sorted(spec.fields[4]):
            if date(year, month, calendar.monthrange(year, month)[1]) < first:
                continue
            for day in range(1, calendar.monthrange(year, month)[1] + 1):
                d = date(year, month, day)
                if d >= first and _day_matches(spec, d):
                    yield d


def _day_matches(spec: _Spec, d: date) -> bool:
    last = calendar.monthrange(d.year, d.month)[1]
    if spec.dow_any:
        if d.day in spec.fields[3] or (last - d.day) in spec.dom_last_offsets:
            return True
        if spec.dom_last_weekday and d == _nearest_weekday(d.year, d.month, last):
            return True
        if any(
            last - n >= 1 and d == _nearest_weekday(d.year, d.month, last - n)
            for n in spec.dom_last_offset_weekday
        ):
            return True
        return any(n <= last and d == _nearest_weekday(d.year, d.month, n) for n in spec.dom_nearest_weekday)
    dow = (d.weekday() + 1) % 7 + 1  # Python Monday=0 -> Quartz MON=2, SUN=1
    if dow in spec.fields[5]:
        return True
    if dow in spec.dow_last and d.day + 7 > last:
        return True
    return (dow, (d.day - 1) // 7 + 1) in spec.dow_nth


def _nearest_weekday(year: int, month: int, day: int) -> date:
    """Quartz `nW`: the weekday nearest to `day`, never leaving the month."""
    d = date(year, month, day)
    last = calendar.monthrange(year, month)[1]
    if d.weekday() == 5:  # Saturday -> Friday, or Monday when Friday is in the previous month
        return d - timedelta(days=1) if day > 1 else d + timedelta(days=2)
    if d.weekday() == 6:  # Sunday -> Monday, or Friday when Monday is in the next month
        return d + timedelta(days=1) if day < last else d - timedelta(days=2)
    return d


def _times_of_day(spec: _Spec, d: date) -> Iterator[datetime]:
    for hour in sorted(spec.fields[2]):
        for minute in sorted(spec.fields[1]):
            for second in sorted(spec.fields[0]):
                yield datetime(d.year, d.month, d.day, hour, minute, second)


# -- in words ----------------------------------------------------------------------------------------

_DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def describe(expr: str) -> str:
    """A valid expression in short English ("weekdays 02:30", "every 15 min", "monthly on day 1 06:00");
    anything it cannot say plainly comes back as the expression itself, quoted — never a guess."""
    try:
        spec = _parse(expr)
    except QuartzError:
        return f"cron `{expr}`"
    secs, mins, hours, _, months, _, years = spec.fields
    when = _times(secs, mins, hours)
    days = _days(spec)
    if when is None or days is None or years != set(range(1970, LAST_YEAR + 1)):
        return f"cron `{expr}`"
    interval = when.startswith(("every", "hourly"))
    text = when if interval and days == "daily" else f"{days} {when}"
    if months != set(range(1, 13)):
        text += " in " + ", ".join(_MONTH_NAMES[m - 1] for m in sorted(months))
    return text


def _step(values: set[int], low: int, high: int) -> int | None:
    """n when `values` is every n-th value from `low` (`*/n`), else None."""
    ordered = sorted(values)
    if len(ordered) < 2 or ordered[0] != low:
        return None
    n = ordered[1] - ordered[0]
    return n if ordered == list(range(low, high + 1, n)) else None


def _times(secs: set[int], mins: set[int], hours: set[int]) -> str | None:
    if secs != {0}:
        return None
    every_hour = hours == set(range(24))
    if len(mins) == 1 and len(hours) <= 4:
        (m,) = mins
        return ", ".join(f"{h:02d}:{m:02d}" for h in sorted(hours))
    if len(mins) == 1:
        (m,) = mins
        n = _step(hours, 0, 23)
        if every_hour:
            return f"hourly at :{m:02d}"
        return f"every {n} h at :{m:02d}" if n else None
    n = _step(mins, 0, 59)
    if n and every_hour:
        return "every minute" if n == 1 else f"every {n} min"
    return None


def _days(spec: _Spec) -> str | None:
    """ "" for every day, else "weekdays", "Mon, Thu", "monthly on day 1", …; None if not plainly."""
    dom, dow = spec.fields[3], spec.fields[5]
    if spec.dom_any:  # day-of-week decides
        if spec.dow_last or spec.dow_nth:
            if dow or (spec.dow_last and spec.dow_nth):
                return None
            if spec.dow_last:
                names = " and ".join(_DAY_NAMES[d - 1] for d in sorted(spec.dow_last))
                return f"the last {names} of the month"
            ords = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}
            return (
                ", ".join(f"the {ords[n]} {_DAY_NAMES[d - 1]}" for d, n in sorted(spec.dow_nth))
                + " of the month"
            )
        if dow == set(range(1, 8)):
            return "daily"
        if dow == {2, 3, 4, 5, 6}:
            return "weekdays"
        if dow == {1, 7}:
            return "weekends"
        return ", ".join(_DAY_NAMES[d - 1] for d in sorted(dow))
    if spec.dom_last_weekday or spec.dom_last_offset_weekday or spec.dom_nearest_weekday:
        return None
    if spec.dom_last_offsets:
        return "monthly on the last day" if spec.dom_last_offsets == {0} and not dom else None
    if dom == set(range(1, 32)):
        return "daily"
    return "monthly on day " + ", ".join(str(d) for d in sorted(dom))
