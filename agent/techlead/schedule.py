"""Plain-English schedules → the Quartz cron fields they name ("every weekday at 2:30am" → minute,
hour and day-of-week); `cron.compose` fills in the rest.
"""

from __future__ import annotations

import re

from agent.techlead import clock
from agent.techlead.cron import ScheduleSpec, compose, pasted
from agent.techlead.numbers import NUM, integer
from agent.techlead.scan import Scan

__all__ = ["ScheduleSpec", "compose", "parse_schedule"]

_NONE = (
    r"\b(?:no|without(?:\s+a)?|remove(?:\s+the)?|drop(?:\s+the)?|delete(?:\s+the)?|clear(?:\s+the)?|"
    r"get rid of(?:\s+the)?|kill(?:\s+the)?)\s+(?:schedule|scheduling|cron|trigger|timer)s?\b"
    r"|\bunschedul\w*|\bmanual(?:ly)?(?:\s+(?:only|runs?|trigger(?:ing)?))?\b"
    r"|(?<!\bto\s)(?<!\bor\s)\bon[- ]demand\b(?![\s-]+(?:instances?|nodes?|workers?|vms?|machines|compute"
    r"|capacity|pricing|drivers?|fall[\s-]?back))"  # not "fall back to on-demand", "on-demand nodes"
    r"|\bstop\s+scheduling\b|\bno\s+(?:automatic|recurring)\s+runs?\b|\bad[- ]hoc\b"
)
_PAUSE = (
    r"\b(?:pause|suspend)\b(?:\s+(?:it|the\s+(?:job|schedule|trigger)|this|that|scheduling|the\s+runs?"
    r"|for\s+now))*"
    r"|\b(?:disable|turn\s+off|switch\s+off|halt|stop)\s+(?:it|the\s+(?:job|schedule|trigger)|this\s+job"
    r"|scheduling)\b"
    r"|\b(?:create|start|leave|keep|set)\s+(?:it\s+)?"
    r"(?:as\s+)?paused\b|\bbut\s+paused\b|\bpaused\b"
)
_RESUME = (
    r"\b(?:un-?pause|resume|re-?enable|reactivate|turn\s+(?:it\s+|the\s+schedule\s+)?(?:back\s+)?on|"
    r"switch\s+(?:it\s+)?(?:back\s+)?on|enable\s+(?:it|the\s+(?:schedule|trigger|job))|activate\s+(?:it"
    r"|the\s+schedule))\b"
)
_EVERY = r"\b(?:every|each|once\s+(?:every|each))\s+"
_UNIT_MIN = r"(?:minutes?|mins?|m)(?![a-z])"
_UNIT_HOUR = r"(?:hours?|hrs?|h)(?![a-z])"


def parse_schedule(scan: Scan) -> ScheduleSpec:
    """Read the schedule words out of the request (consuming them)."""
    spec = ScheduleSpec()
    if scan.take(_RESUME):
        spec.pause = "UNPAUSED"
    elif scan.take(_PAUSE):
        spec.pause = "PAUSED"
    if scan.take(_NONE):
        spec.remove = True
        return spec
    if pasted(scan, spec):
        return spec
    _frequency(scan, spec)
    _month_days(scan, spec)
    _week_days(scan, spec)
    _times(scan, spec)
    return spec


def _frequency(scan: Scan, spec: ScheduleSpec) -> None:
    """Sub-daily intervals, hour windows and the daily/weekly/monthly words."""
    rng = scan.take_one(
        rf"\b(?:between|from)\s+(?P<a>{clock.TIME})\s*(?:and|to|till|until|through|-)\s*"
        rf"(?P<b>{clock.TIME.replace('?P<', '?P<b_')})"
    )
    if not rng and scan.has(rf"{_EVERY}(?:{NUM}\s*)?(?:{_UNIT_MIN}|{_UNIT_HOUR})|\bhourly\b"):
        rng = scan.take_one(
            rf"(?<![\d:])(?P<a>{clock.TIME})\s*(?:-|to|till|until)\s*"
            rf"(?P<b>{clock.TIME.replace('?P<', '?P<b_')})"
        )
    window = None
    if rng:
        a = clock.to_24h(clock.TIME_RX.search(rng.group("a")))
        b = clock.to_24h(clock.TIME_RX.search(rng.group("b")))
        lo, hi = a[0], b[0]
        if b[2] and hi < lo:  # "from 9 to 5"
            hi += 12
        window = (lo, hi)
    elif scan.take(r"\b(?:during\s+)?(?:business|office|working|work)\s+hours\b"):
        window = (9, 17)
        spec.assumptions.append("“Business hours” = 09:00–17:00.")
    start = scan.take_one(rf"\b(?:starting|beginning|from)\s+(?:at\s+)?(?P<t>{clock.TIME})")
    start_hm = clock.to_24h(clock.TIME_RX.search(start.group("t")))[:2] if start else None
    minute_of_hour = _minute_of_hour(scan)
    unit = (
        r"(?P<frac>half\s+(?:an?\s+)?|quarter\s+(?:of\s+an?\s+)?)?"
        rf"(?:(?P<min>{_UNIT_MIN})|(?P<hr>{_UNIT_HOUR}))"
    )
    m = scan.take_one(rf"{_EVERY}(?:(?P<n>{NUM})\s*)?{unit}") or scan.take_one(
        rf"\b(?:at\s+|in\s+)?(?P<n>{NUM})[\s-]*{unit}\s*(?:intervals?|cadence)\b"
    )
    minutes = hours = None
    if m:
        n = integer(m.group("n")) or 1
        frac = (m.group("frac") or "").lower()
        if frac:
            minutes = 30 if frac.startswith("half") else 15
        elif m.group("hr"):
            hours = n
        else:
            minutes = n
        if minutes is not None and minutes >= 60:
            if minutes % 60:
                spec.questions.append(
                    f"Quartz cron cannot repeat every {minutes} minutes across hours. "
                    "Every hour, every 2 hours, or a list of times?"
                )
                return
            minutes, hours = None, minutes // 60
    elif (
        scan.take(r"\b(?:hourly|every\s+hour|each\s+hour|once\s+(?:an|per|every)\s+hour|on\s+the\s+hour)\b")
        or minute_of_hour is not None
    ):
        hours = 1
    if hours is not None and hours >= 24:
        if hours > 24:
            spec.questions.append(f"Every {hours} hours does not fit a Quartz cron. Daily, or every N days?")
            return
        hours = None
        spec.every_day = True
        spec.default_time = (0, 0, "“every 24 hours”")
    if hours is not None:
        spec.sub_daily = True
        spec.minute = str(minute_of_hour if minute_of_hour is not None else (start_hm[1] if start_hm else 0))
        first = window[0] if window else (start_hm[0] if start_hm else 0)
        if window:
            spec.hour = f"{window[0]}-{window[1]}" + (f"/{hours}" if hours > 1 else "")
        else:
            spec.hour = f"{first}/{hours}" if hours > 1 else "*"
        if hours > 1 and 24 % hours and not window:
            spec.assumptions.append(
                f"Every {hours} hours restarts at {first}:00 each day (24 is not a multiple of {hours})."
            )
        return
    if minutes is not None:
        spec.sub_daily = True
        spec.minute = "*" if minutes == 1 else f"0/{minutes}"
        if minutes > 1 and 60 % minutes:
            spec.assumptions.append(
                f"Every {minutes} minutes restarts at :00 each hour (60 is not a multiple of {minutes})."
            )
        spec.hour = f"{window[0]}-{window[1] - 1}" if window else "*"
        return
    if start_hm:
        spec.hour, spec.minute = str(start_hm[0]), str(start_hm[1])
    _day_words(scan, spec)


def _minute_of_hour(scan: Scan) -> int | None:
    m = scan.take_one(
        r"\bat\s+:(\d\d)\b|\b(\d{1,2}|quarter|half)\s+(?:minutes?\s+)?past\s+(?:the\s+|each\s+"
        r"|every\s+)?hour\b"
        r"|\bat\s+minute\s+(\d{1,2})\b|\b(?:on|at)\s+the\s+(half)[- ]hour\b"
    )
    if not m:
        return None
    token = next(g for g in m.groups() if g)
    return {"quarter": 15, "half": 30}.get(token) if not token.isdigit() else int(token)


def _day_words(scan: Scan, spec: ScheduleSpec) -> None:
    times_a_day = scan.take_one(
        rf"\b(?P<n>twice|thrice|{NUM})\s+(?:times\s+)?(?:a|per|each)\s+day\b|\btwice\s+daily\b"
    )
    if times_a_day:
        n = integer((times_a_day.group("n") or "twice").lower()) or 2
        spec.default_time = (-n, 0, f"{n} runs a day")
        spec.every_day = True
        return
    if scan.take(r"\bevery\s+other\s+day\b|\bevery\s+(?:2|two)\s+days\b|\balternate\s+days\b"):
        spec.dom = "1/2"
        spec.assumptions.append(
            "“Every other day” = odd days of the month (1st, 3rd, …), restarting each month."
        )
        return
    m = scan.take_one(rf"\bevery\s+(?P<n>{NUM})\s+days\b")
    if m:
        n = integer(m.group("n")) or 1
        spec.dom = f"1/{n}"
        spec.assumptions.append(f"Every {n} days counts from the 1st of each month.")
        return
    if scan.take(r"\b(?:bi-?weekly|fortnightly|every\s+(?:other|second|2|two)\s+weeks?)\b"):
        spec.questions.append(
            "Quartz cron cannot express every other week. Weekly on one day, or on two days "
            "of the month (e.g. the 1st and 15th)?"
        )
        return
    if scan.take(r"\b(?:nightly|every\s*night|each\s+night|overnight|at\s+night|every\s+evening\s+late)\b"):
        spec.default_time = (2, 0, "“nightly”")
        spec.every_day = True
    elif scan.take(r"\b(?:every|each)\s+morning\b|\bmornings\b"):
        spec.default_time = (6, 0, "“every morning”")
        spec.every_day = True
    elif scan.take(
        r"\b(?:every|each)\s+(?:evening|afternoon)\b|\bend\s+of\s+(?:the\s+)?(?:business\s+)?day\b|\beod\b"
    ):
        spec.default_time = (18, 0, "“every evening / end of day”")
        spec.every_day = True
    elif scan.take(
        r"\b(?:daily|every\s*day|each\s+day|once\s+(?:a|per)\s+day|per\s+day|a\s+day|day\s+by\s+day)\b"
    ):
        spec.default_time = (0, 0, "“daily”")
        spec.every_day = True
    elif scan.take(r"\b(?:weekly|every\s+week|each\s+week|once\s+(?:a|per)\s+week)\b"):
        spec.default_time = (0, 0, "“weekly”")
        spec.dow = "*weekly"
    elif scan.take(r"\b(?:monthly|every\s+month|each\s+month|once\s+(?:a|per)\s+month)\b"):
        spec.default_time = (0, 0, "“monthly”")
        spec.dom = "*monthly"
    elif scan.take(r"\b(?:quarterly|every\s+quarter|each\s+quarter|once\s+(?:a|per)\s+quarter)\b"):
        spec.default_time = (0, 0, "“quarterly”")
        spec.dom, spec.month = "*monthly", "1/3"
        spec.assumptions.append("Quarterly = 1 January, April, July and October.")
    elif scan.take(r"\b(?:yearly|annually|every\s+year|each\s+year|once\s+(?:a|per)\s+year)\b"):
        spec.default_time = (0, 0, "“yearly”")
        spec.dom, spec.month = "*monthly", "*yearly"
    else:
        m = scan.take_one(rf"\bevery\s+(?P<n>{NUM})\s+months\b")
        if m:
            n = integer(m.group("n")) or 1
            spec.default_time = (0, 0, "a monthly cadence")
            spec.dom, spec.month = "*monthly", f"1/{n}"


def _month_days(scan: Scan, spec: ScheduleSpec) -> None:
    """Day-of-month forms: last day, last weekday, the nth weekday, ordinals, month names."""
    of_month = r"(?:\s+of\s+(?:the|each|every|a)\s+month|\s+(?:each|every)\s+month|\s+monthly)?"
    if scan.take(
        r"\b(?:(?:on\s+)?the\s+)?last\s+(?:week|business|working|work)\s*day"
        + of_month
        + r"|\blast\s+business\s+day\b"
    ):
        spec.dom = "LW"
        return
    if scan.take(
        r"\b(?:(?:on\s+)?the\s+)?last\s+day"
        + of_month
        + r"|\b(?:at\s+)?(?:the\s+)?end\s+of\s+(?:the|each|every)"
        r"\s+month\b|\bmonth[- ]end\b|\beom\b"
    ):
        spec.dom = "L"
        return
    if scan.take(r"\b(?:(?:on\s+)?the\s+)?first\s+(?:business|working|work|week)\s*day" + of_month):
        spec.dom = "1W"
        return
    m = scan.take_one(
        rf"\b(?:(?:on\s+)?(?:the|every|each)\s+)?(?P<n>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th"
        rf"|5th)"
        rf"\s+(?P<d>{clock.DAY})(?P<of>\s+(?:of|in)\s+(?:the|each|every|a)\s+month\b|\s+of\b)?"
    )
    if m and not m.group("of") and spec.dom != "*monthly":  # "the first Monday": only monthly fits Quartz
        spec.assumptions.append(f"“{m.group(0).strip()}” read as that weekday of every month.")
    if m:
        if spec.dom == "*monthly":  # "… of every month" was read as the monthly cadence: the day is this
            spec.dom = None
        token = m.group("n").lower()
        n = clock.ORDINAL_WORDS.get(token) or int(token[0])
        day = clock.quartz_day_number(clock.day_list(m.group("d"))[0])
        spec.dow = f"{day}L" if n == -1 else f"{day}#{n}"
        return
    first = scan.take_one(
        r"\b(?:on\s+)?(?:the\s+)?first(?:\s+day)?\s+of\s+(?:the|each|every|a)\s+month\b"
        r"|\bbeginning\s+of\s+(?:the|each|every)\s+month\b|\bstart\s+of\s+(?:the|each|every)\s+month\b"
    )
    if first:
        spec.dom = "1"
        return
    ordinal = r"(?:[12]?\d|3[01])(?:st|nd|rd|th)"
    month_name = scan.take_one(
        rf"\b(?P<mo>{clock.MONTH})\.?\s+(?P<d>[12]?\d|3[01])(?:st|nd|rd|th)?\b"
        rf"|\b(?P<d2>[12]?\d|3[01])(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mo2>{clock.MONTH})\b"
    )
    if month_name and not _is_may_verb(month_name):
        mo = (month_name.group("mo") or month_name.group("mo2")).lower()
        spec.month = str(clock.MONTH_WORDS[mo])
        spec.dom = month_name.group("d") or month_name.group("d2")
        return
    m = scan.take_one(
        rf"\b(?:(?:on|every)\s+)?(?:the\s+)?(?P<list>{ordinal}(?:\s*(?:,|and|&|\+)\s*(?:the\s+)?{ordinal})*)"
        rf"(?:\s+day)?{of_month}" + r"|\bday\s+(?P<d>[12]?\d|3[01])\s+of\s+(?:the|each|every)\s+month\b"
    )
    if m:
        days = re.findall(r"\d+", m.group("list") or m.group("d"))
        spec.dom = ",".join(str(d) for d in sorted({int(x) for x in days}))
    months = scan.take_one(
        rf"\b(?:in|every|each|only\s+in)\s+(?P<l>{clock.MONTH}(?:\s*(?:,|and|&|or)\s*{clock.MONTH})*)\b"
    )
    if months and not re.fullmatch(r"may", months.group("l").strip(), re.I):
        nums = sorted(
            {clock.MONTH_WORDS[w.lower()] for w in re.findall(clock.MONTH, months.group("l"), re.I)}
        )
        spec.month = ",".join(str(n) for n in nums)


def _is_may_verb(m: re.Match[str]) -> bool:
    mo = m.group("mo") or m.group("mo2") or ""
    return mo == "may"  # lower-case "may 5" is more likely the verb than the month


# (how, words just before the days, words just after them): "also on saturdays", "fridays too"
_DAYS_CHANGE = (
    (
        "add",
        r"\b(?P<w>also|add|adding|plus|include|including)\b(?:\s+\w+){0,3}\s*$",
        r"\s*(?P<w>too|as\s+well|also)\b",
    ),
    (
        "drop",
        r"\b(?P<w>not|no\s+longer|never|skip|drop|remove|exclude|stop\s+running|don'?t|do\s+not)\b"
        r"(?:\s+\w+){0,3}\s*$",
        r"\s*(?P<w>any\s*more|no\s+more)\b",
    ),
)


def _week_days(scan: Scan, spec: ScheduleSpec) -> None:
    days: list[str] = []
    except_m = scan.take_one(
        rf"\b(?:except|but\s+not|excluding|other\s+than|apart\s+from)\s+(?:on\s+)?(?:the\s+)?"
        rf"(?P<l>(?:{clock.DAY}|week-?ends?)(?:\s*(?:,|and|&|or|/)\s*(?:{clock.DAY}))*)"
    )
    for m in scan.take(
        r"\b(?:every\s+|on\s+)?(?:week\s*days?|business\s+days?|working\s+days?|work\s*days?)\b"
        r"|\bmon(?:day)?\s*(?:-|to|through|thru)\s*fri(?:day)?\b"
    ):
        days += ["MON", "TUE", "WED", "THU", "FRI"]
        _days_change(scan, spec, m)
    for m in scan.take(r"\b(?:every\s+|on\s+|at\s+)?(?:the\s+)?week-?ends?\b"):
        days += ["SAT", "SUN"]
        _days_change(scan, spec, m)
    listed = scan.take(
        rf"\b{clock.DAY}(?:\s*(?:-|to|through|thru|until|till)\s*{clock.DAY})?"
        rf"(?:\s*(?:,|and|&|/|or|\+)\s*{clock.DAY}(?:\s*-\s*{clock.DAY})?)*\b"
    )
    for m in listed:
        days += clock.day_list(m.group(0))
        _days_change(scan, spec, m)
    if except_m:
        drop = set(clock.day_list(except_m.group("l")))
        if re.search(r"week-?end", except_m.group("l"), re.I):
            drop |= {"SAT", "SUN"}
        days = [d for d in (days or clock.DAYS) if d not in drop]
    if days:
        spec.dow = clock.dow_field(list(dict.fromkeys(days)))


def _days_change(scan: Scan, spec: ScheduleSpec, m: re.Match[str]) -> None:
    """Words around the days that make them an addition ("too") or a removal ("not … any more")."""
    lo = max(0, m.start() - 40)
    before, after = scan.masked[lo : m.start()], scan.masked[m.end() : m.end() + 25]
    for how, rx_before, rx_after in _DAYS_CHANGE:
        b, a = re.search(rx_before, before, re.I), re.match(rx_after, after, re.I)
        if b or a:
            spec.days_change = how
            if b:
                scan.consume(lo + b.start("w"), lo + b.end("w"))
            if a:
                scan.consume(m.end() + a.start("w"), m.end() + a.end("w"))
            return


def _times(scan: Scan, spec: ScheduleSpec) -> None:
    """Times of day: "at 2:30am", "at 9am and 5pm", "twice a day at 8 and 20", "noon", "half past 7"."""
    found: list[tuple[int, int, bool]] = []
    at_list = (
        rf"(?:\bat|@|\baround|\bby)\s+(?:about\s+|around\s+)?{clock.TIME}"
        rf"(?:\s*(?:,|and|&|or|\+)\s*(?:at\s+)?{_TIME2})*"
    )
    for m in scan.take(at_list):
        found += [clock.to_24h(t) for t in clock.TIME_RX.finditer(m.group(0))]
    for m in scan.find(r"\b(?:at\s+)?([01]\d|2[0-3])([0-5]\d)\s*(?:h(?:ours|rs)?\b|(?=[\s,;.]|$))"):
        hhmm = m.group(1) + m.group(2)
        plain = hhmm.startswith("0") or not hhmm.startswith(("19", "20"))  # 19xx / 20xx read as years
        if m.group(0).lower().startswith("at") or re.search(r"h", m.group(0)[4:], re.I) or plain:
            scan.consume(*m.span())
            found.append((int(m.group(1)), int(m.group(2)), False))
    for m in scan.take(r"\b(half|quarter)\s+(past|to)\s+(\d{1,2})\s*(a\.?m\.?|p\.?m\.?)?"):
        h = int(m.group(3)) + (
            12 if (m.group(4) or "").lower().startswith("p") and int(m.group(3)) < 12 else 0
        )
        mins = 30 if m.group(1).lower() == "half" else 15
        found.append(((h - 1) % 24, 60 - mins, False) if m.group(2).lower() == "to" else (h, mins, False))
    clock_rx = (
        r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?:\s*[ap]\.?m\.?)?|\b(?:1[0-2]"
        r"|0?[1-9])(?:\.[0-5]\d)?\s*[ap]\.?m\.?(?![a-z])"
        r"|\b(?:noon|midday|midnight)\b"
    )
    for m in scan.take(clock_rx):
        t = clock.TIME_RX.search(m.group(0))
        if t:
            found.append(clock.to_24h(t))
    found = list(dict.fromkeys(found))
    if not found:
        part = scan.take_one(r"\b(?:in\s+the\s+)?(?P<p>morning|afternoon|evening|night)s?\b")
        if part and not spec.sub_daily:
            h = {"morning": 6, "afternoon": 14, "evening": 18, "night": 22}[part.group("p").lower()]
            spec.default_time = (h, 0, f"“{part.group('p').lower()}”")
        return
    if len({mm for _, mm, _ in found}) > 1:
        shown = ", ".join(f"{h:02d}:{mm:02d}" for h, mm, _ in found)
        spec.questions.append(
            f"One Quartz cron cannot run at {shown} (the minutes differ). Which single time, "
            "or times sharing the same minutes?"
        )
        found = found[:1]
    if all(amb for *_, amb in found):
        shown = " and ".join(f"{h:02d}:{mm:02d}" for h, mm, _ in found)
        spec.assumptions.append(
            f"Read the time as {shown} on the 24-hour clock (say “pm” if you meant the afternoon)."
        )
    spec.hour = clock.hours_field([h for h, _, _ in found])
    spec.minute = str(found[0][1])
    if spec.default_time and spec.default_time[0] < 0:
        spec.default_time = None


_TIME2 = clock.TIME.replace("?P<", "?P<x_")
