"""Times of day, weekdays and months in English → Quartz field values.

Kept apart from the schedule grammar so the vocabulary can grow without touching how fields combine.
"""

from __future__ import annotations

import re

DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
DAY_WORDS = {
    "sunday": "SUN",
    "sun": "SUN",
    "monday": "MON",
    "mon": "MON",
    "tuesday": "TUE",
    "tues": "TUE",
    "tue": "TUE",
    "wednesday": "WED",
    "weds": "WED",
    "wed": "WED",
    "thursday": "THU",
    "thurs": "THU",
    "thur": "THU",
    "thu": "THU",
    "friday": "FRI",
    "fri": "FRI",
    "saturday": "SAT",
    "sat": "SAT",
}
DAY = r"(?:" + "|".join(sorted(DAY_WORDS, key=len, reverse=True)) + r")(?:s|'s)?"
MONTH_WORDS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
MONTH = r"(?:" + "|".join(sorted(MONTH_WORDS, key=len, reverse=True)) + r")"
ORDINAL_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}

# One time of day. Groups: h, m, ap (am/pm), word (noon/midnight), part (morning/evening...).
TIME = (
    r"(?:(?P<word>noon|midday|midnight)"
    r"|(?P<h>[01]?\d|2[0-3])(?:(?::|\.(?=\d\d\s*[ap]\.?m))(?P<m>[0-5]\d))?"
    r"(?:\s*(?P<ap>a\.?m\.?|p\.?m\.?)(?![a-z])|\s*o'?clock|(?![\d:%a-z]))"
    r"(?:\s+(?:in\s+the\s+|at\s+)?(?P<part>morning|afternoon|evening|night|tonight))?)"
)
TIME_RX = re.compile(TIME, re.I)


def to_24h(m: re.Match[str]) -> tuple[int, int, bool]:
    """(hour, minute, ambiguous): ambiguous when a bare 1–12 was read on the 24-hour clock."""
    word = (m.group("word") or "").lower()
    if word in ("noon", "midday"):
        return 12, 0, False
    if word == "midnight":
        return 0, 0, False
    hour, minute = int(m.group("h")), int(m.group("m") or 0)
    ap = (m.group("ap") or "").lower().replace(".", "")
    part = (m.group("part") or "").lower()
    if ap == "pm" and hour < 12:
        hour += 12
    elif ap == "am" and hour == 12:
        hour = 0
    elif not ap and part in ("afternoon", "evening", "night", "tonight") and hour < 12:
        hour += 12
    elif not ap and part == "night" and hour == 12:
        hour = 0
    ambiguous = not ap and not part and m.group("m") is None and 1 <= hour <= 12
    return hour, minute, ambiguous


def day_list(text: str) -> list[str]:
    """Weekday names, "Mon-Fri" style ranges included, in week order without repeats."""
    found: list[str] = []
    rng = re.compile(rf"\b({DAY})\s*(?:-|to|through|thru|until|till)\s*({DAY})\b", re.I)
    for m in rng.finditer(text):
        a, b = DAYS.index(_day(m.group(1))), DAYS.index(_day(m.group(2)))
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        found.extend(DAYS[i] for i in span)
    text = rng.sub(" ", text)
    found.extend(_day(m.group(0)) for m in re.finditer(rf"\b{DAY}\b", text, re.I))
    order = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    return sorted(set(found), key=order.index)


def _day(word: str) -> str:
    return DAY_WORDS[
        re.sub(r"(?:'s|s)$", "", word.lower()) if word.lower() not in DAY_WORDS else word.lower()
    ]


def dow_field(days: list[str]) -> str:
    """["MON".."FRI"] → "MON-FRI"; ["SAT","SUN"] → "SAT,SUN"; a contiguous run of 3+ becomes a range."""
    order = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    idx = sorted(order.index(d) for d in days)
    parts: list[str] = []
    run = [idx[0]]
    for i in idx[1:]:
        if i == run[-1] + 1:
            run.append(i)
            continue
        parts.append(_run(run, order))
        run = [i]
    parts.append(_run(run, order))
    return ",".join(parts)


def _run(run: list[int], order: list[str]) -> str:
    if len(run) >= 3:
        return f"{order[run[0]]}-{order[run[-1]]}"
    return ",".join(order[i] for i in run)


def quartz_day_number(day: str) -> int:
    """Quartz numbers weekdays 1 (SUN) … 7 (SAT); used for "#" and "L" forms."""
    return DAYS.index(day) + 1


def hours_field(hours: list[int]) -> str:
    return ",".join(str(h) for h in sorted(set(hours)))
