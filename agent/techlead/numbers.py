"""Numbers and durations as people type them ("twice", "two", "1.5h", "an hour and a half")."""

from __future__ import annotations

import re

WORDS = {
    "zero": 0,
    "no": 0,
    "none": 0,
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "once": 1,
    "two": 2,
    "twice": 2,
    "couple": 2,
    "a couple of": 2,
    "three": 3,
    "thrice": 3,
    "few": 3,
    "a few": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
    "hundred": 100,
}
# A number as a regex fragment: digits or one of the words above.
_LOOSE = {"no", "none", "a", "an", "single", "couple", "a couple of", "few", "a few"}
NUM = (
    r"(?:\d+(?:\.\d+)?|(?:"
    + "|".join(sorted((re.escape(w) for w in WORDS if w not in _LOOSE), key=len, reverse=True))
    + r")\b)"
)

UNIT_SECONDS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
UNIT = r"(?:seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)(?![a-z])"
# "2 hours", "90 min", "1.5h", "an hour", "half an hour", "1h30", "1 hour 30 minutes", "an hour and a half"
DURATION = (
    rf"(?:half\s+an?\s+hour|(?:{NUM}|\ban?\b)\s*{UNIT}"
    rf"(?:\s*(?:and\s+)?(?:a\s+half|\d+\s*(?:minutes?|mins?|m\b)?))?)"
)


def number(token: str | None) -> float | None:
    """ "3" → 3, "twice" → 2, "1.5" → 1.5; None when it is not a number."""
    if token is None:
        return None
    token = token.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token) if "." in token else int(token)
    return WORDS.get(token)


def integer(token: str | None) -> int | None:
    value = number(token)
    return int(value) if value is not None else None


def seconds(text: str) -> int | None:
    """A DURATION match → seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"half\s+an?\s+hour", text):
        return 1800
    m = re.match(rf"({NUM}|an?\b)\s*({UNIT})", text)
    if not m:
        return None
    value = number(m.group(1))
    unit = re.sub(r"s$", "", m.group(2)) if len(m.group(2)) > 1 else m.group(2)
    unit = {"secs": "sec", "mins": "min", "hrs": "hr"}.get(unit, unit)
    if value is None or unit not in UNIT_SECONDS:
        return None
    total = value * UNIT_SECONDS[unit]
    rest = text[m.end() :]
    if re.search(r"a\s+half", rest):
        total += UNIT_SECONDS[unit] / 2
    else:
        extra = re.search(r"(\d+)", rest)
        if extra and unit in ("h", "hr", "hour"):
            total += int(extra.group(1)) * 60
    return int(total)


def human(secs: int) -> str:
    if secs % 3600 == 0:
        h = secs // 3600
        return f"{h} hour{'s' if h != 1 else ''}"
    if secs % 60 == 0:
        m = secs // 60
        return f"{m} minute{'s' if m != 1 else ''}"
    return f"{secs} seconds"
