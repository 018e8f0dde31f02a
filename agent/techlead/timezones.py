"""Time-zone words → IANA ids (which Java, hence Databricks, accepts), with a note when a guess was made.

Abbreviations are ambiguous (IST, CST, BST); each maps to the zone most users of a data team mean, and
the parser states the guess as an assumption.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

from agent.techlead.scan import Scan

# abbreviation → (zone, note when the reading is a guess)
ABBREVIATIONS: dict[str, tuple[str, str | None]] = {
    "utc": ("UTC", None),
    "gmt": ("GMT", None),
    "zulu": ("UTC", None),
    "cet": ("Europe/Berlin", "CET/CEST read as Central European time (Europe/Berlin)."),
    "cest": ("Europe/Berlin", "CET/CEST read as Central European time (Europe/Berlin)."),
    "met": ("Europe/Berlin", None),
    "eet": ("Europe/Helsinki", None),
    "eest": ("Europe/Helsinki", None),
    "wet": ("Europe/Lisbon", None),
    "west": ("Europe/Lisbon", None),
    "bst": ("Europe/London", "BST read as British Summer Time (Europe/London)."),
    "est": (
        "America/New_York",
        "EST/EDT read as US Eastern time (America/New_York, daylight saving applies).",
    ),
    "edt": (
        "America/New_York",
        "EST/EDT read as US Eastern time (America/New_York, daylight saving applies).",
    ),
    "et": ("America/New_York", None),
    "cst": ("America/Chicago", "CST read as US Central time (America/Chicago), not China Standard Time."),
    "cdt": ("America/Chicago", None),
    "ct": ("America/Chicago", None),
    "mst": ("America/Denver", "MST read as US Mountain time (America/Denver)."),
    "mdt": ("America/Denver", None),
    "mt": ("America/Denver", None),
    "pst": (
        "America/Los_Angeles",
        "PST/PDT read as US Pacific time (America/Los_Angeles, daylight saving applies).",
    ),
    "pdt": (
        "America/Los_Angeles",
        "PST/PDT read as US Pacific time (America/Los_Angeles, daylight saving applies).",
    ),
    "pt": ("America/Los_Angeles", None),
    "akst": ("America/Anchorage", None),
    "hst": ("Pacific/Honolulu", None),
    "ist": ("Asia/Kolkata", "IST read as India Standard Time (Asia/Kolkata), not Irish or Israel time."),
    "jst": ("Asia/Tokyo", None),
    "kst": ("Asia/Seoul", None),
    "sgt": ("Asia/Singapore", None),
    "hkt": ("Asia/Hong_Kong", None),
    "pht": ("Asia/Manila", None),
    "wib": ("Asia/Jakarta", None),
    "aest": ("Australia/Sydney", None),
    "aedt": ("Australia/Sydney", None),
    "acst": ("Australia/Adelaide", None),
    "awst": ("Australia/Perth", None),
    "nzst": ("Pacific/Auckland", None),
    "nzdt": ("Pacific/Auckland", None),
    "msk": ("Europe/Moscow", None),
    "brt": ("America/Sao_Paulo", None),
    "art": ("America/Argentina/Buenos_Aires", None),
    "sast": ("Africa/Johannesburg", None),
    "gst": ("Asia/Dubai", "GST read as Gulf Standard Time (Asia/Dubai)."),
}

# city / region words → zone. Multi-word keys first so "new york" wins over "york".
PLACES: dict[str, str] = {
    "new york": "America/New_York",
    "nyc": "America/New_York",
    "eastern": "America/New_York",
    "east coast": "America/New_York",
    "boston": "America/New_York",
    "toronto": "America/Toronto",
    "montreal": "America/Toronto",
    "miami": "America/New_York",
    "atlanta": "America/New_York",
    "washington dc": "America/New_York",
    "chicago": "America/Chicago",
    "dallas": "America/Chicago",
    "houston": "America/Chicago",
    "austin": "America/Chicago",
    "mexico city": "America/Mexico_City",
    "denver": "America/Denver",
    "phoenix": "America/Phoenix",
    "pacific": "America/Los_Angeles",
    "west coast": "America/Los_Angeles",
    "los angeles": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
    "bay area": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "vancouver": "America/Vancouver",
    "anchorage": "America/Anchorage",
    "honolulu": "Pacific/Honolulu",
    "hawaii": "Pacific/Honolulu",
    "sao paulo": "America/Sao_Paulo",
    "são paulo": "America/Sao_Paulo",
    "brazil": "America/Sao_Paulo",
    "rio": "America/Sao_Paulo",
    "buenos aires": "America/Argentina/Buenos_Aires",
    "bogota": "America/Bogota",
    "lima": "America/Lima",
    "santiago": "America/Santiago",
    "london": "Europe/London",
    "uk": "Europe/London",
    "dublin": "Europe/Dublin",
    "lisbon": "Europe/Lisbon",
    "paris": "Europe/Paris",
    "berlin": "Europe/Berlin",
    "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin",
    "germany": "Europe/Berlin",
    "amsterdam": "Europe/Amsterdam",
    "brussels": "Europe/Brussels",
    "madrid": "Europe/Madrid",
    "barcelona": "Europe/Madrid",
    "rome": "Europe/Rome",
    "milan": "Europe/Rome",
    "zurich": "Europe/Zurich",
    "geneva": "Europe/Zurich",
    "vienna": "Europe/Vienna",
    "prague": "Europe/Prague",
    "warsaw": "Europe/Warsaw",
    "stockholm": "Europe/Stockholm",
    "oslo": "Europe/Oslo",
    "copenhagen": "Europe/Copenhagen",
    "helsinki": "Europe/Helsinki",
    "athens": "Europe/Athens",
    "istanbul": "Europe/Istanbul",
    "moscow": "Europe/Moscow",
    "kyiv": "Europe/Kiev",
    "kiev": "Europe/Kiev",
    "tel aviv": "Asia/Jerusalem",
    "israel": "Asia/Jerusalem",
    "cairo": "Africa/Cairo",
    "johannesburg": "Africa/Johannesburg",
    "nairobi": "Africa/Nairobi",
    "lagos": "Africa/Lagos",
    "dubai": "Asia/Dubai",
    "india": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "bombay": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "bengaluru": "Asia/Kolkata",
    "chennai": "Asia/Kolkata",
    "hyderabad": "Asia/Kolkata",
    "pune": "Asia/Kolkata",
    "kolkata": "Asia/Kolkata",
    "singapore": "Asia/Singapore",
    "bangkok": "Asia/Bangkok",
    "jakarta": "Asia/Jakarta",
    "manila": "Asia/Manila",
    "hong kong": "Asia/Hong_Kong",
    "shanghai": "Asia/Shanghai",
    "beijing": "Asia/Shanghai",
    "china": "Asia/Shanghai",
    "taipei": "Asia/Taipei",
    "seoul": "Asia/Seoul",
    "korea": "Asia/Seoul",
    "tokyo": "Asia/Tokyo",
    "japan": "Asia/Tokyo",
    "osaka": "Asia/Tokyo",
    "sydney": "Australia/Sydney",
    "melbourne": "Australia/Melbourne",
    "brisbane": "Australia/Brisbane",
    "perth": "Australia/Perth",
    "adelaide": "Australia/Adelaide",
    "auckland": "Pacific/Auckland",
    "new zealand": "Pacific/Auckland",
}
# Words that are also ordinary English: only a zone when "time"/"timezone" follows or a clock time precedes.
_WEAK = {
    "central": "America/Chicago",
    "mountain": "America/Denver",
    "india": "Asia/Kolkata",
    "rio": "America/Sao_Paulo",
    "uk": "Europe/London",
    "brazil": "America/Sao_Paulo",
    "china": "Asia/Shanghai",
    "israel": "Asia/Jerusalem",
    "germany": "Europe/Berlin",
    "japan": "Asia/Tokyo",
    "korea": "Asia/Seoul",
    "hawaii": "Pacific/Honolulu",
}

_ZONE_SUFFIX = r"(?:\s+(?:standard\s+|daylight\s+|local\s+)?(?:time(?:\s*zone)?|tz|timezone|hours))"
_CLOCK_BEFORE = r"(?:\d\s*(?:am|pm|a\.m\.|p\.m\.)|\d:\d\d|noon|midnight|\d\s*h)\s+(?:in\s+)?"
_IANA = re.compile(
    r"(?<![\w/])(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)"
    r"/[A-Za-z_+\-]+(?:/[A-Za-z_]+)?",
    re.I,
)
_OFFSET = re.compile(r"\b(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(00))?\b", re.I)


def _place_rules() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(pattern, zone) per place word, longest word first so "new york" is tried before "york"."""
    places = {**PLACES, **_WEAK}
    rules = []
    for word in sorted(places, key=len, reverse=True):
        w = re.escape(word)
        if word in _WEAK:
            rx = rf"(?:{_CLOCK_BEFORE})({w}){_ZONE_SUFFIX}?\b|\b({w}){_ZONE_SUFFIX}\b"
        else:
            rx = rf"\b({w})(?:{_ZONE_SUFFIX})?\b"
        rules.append((re.compile(rx, re.I), places[word]))
    return tuple(rules)


_PLACE_RULES = _place_rules()
# Each place rule matches only where its word follows a non-word character (every place word starts with
# a letter), so when this finds nothing no rule can match: one search instead of one per place.
_ANY_PLACE = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, {**PLACES, **_WEAK})) + ")", re.I)
_ABBREVIATION = re.compile(
    rf"(?<![\w/.-])({'|'.join(sorted(ABBREVIATIONS, key=len, reverse=True))})(?:{_ZONE_SUFFIX})?"
    r"(?![\w/-]|\.\w)",
    re.I,
)


@cache
def _zones() -> dict[str, str]:
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def valid(zone: str) -> bool:
    return zone.lower() in _zones()


def find_timezone(scan: Scan) -> tuple[str | None, str | None]:
    """(IANA id, assumption) for the first zone named in the request, or (None, None); consumes it."""
    m = scan.take_one(_IANA)
    if m:
        zone = _zones().get(m.group(0).lower())
        if zone:
            return zone, None
    m = scan.take_one(_OFFSET)
    if m:
        hours = int(m.group(2))
        if hours == 0:
            return "UTC", None
        # Etc/GMT signs are inverted by POSIX convention: UTC+2 is Etc/GMT-2.
        zone = f"Etc/GMT{'-' if m.group(1) == '+' else '+'}{hours}"
        if valid(zone):
            return zone, f"UTC{m.group(1)}{hours} is a fixed offset ({zone}): no daylight saving."
    if _ANY_PLACE.search(scan.masked):
        for rx, zone in _PLACE_RULES:
            m = rx.search(scan.masked)
            if m:
                g = 1 if m.group(1) else 2
                scan.consume(m.start(g), m.end())
                return zone, f"“{m.group(g)}” read as {zone}."
    for m in scan.find(_ABBREVIATION):
        token = m.group(1).lower()
        if token in _CAPS_ONLY and not m.group(1).isupper():
            continue  # ordinary words ("art", "met") unless typed in capitals
        scan.consume(*m.span())
        return ABBREVIATIONS[token]
    return None, None


_CAPS_ONLY = {"et", "ct", "mt", "pt", "art", "west", "met", "wib"}
