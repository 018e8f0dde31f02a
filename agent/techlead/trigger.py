"""Event triggers instead of a clock: file arrival, table updates, continuous runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.numbers import DURATION, seconds
from agent.techlead.scan import Scan

_ARRIVE = (
    r"(?:lands?|arrives?|(?:is|are|gets?|get)\s+(?:dropped|uploaded|added|written|placed|put|created|landed)"
    r"|shows?\s+up|appears?|comes?\s+in|(?:is|are)\s+landing|drops?|hits?)"
)
_PLACE = r"(?:the\s+)?(?:folder|volume|bucket|location|path|directory|dir|prefix|container)?\s*"
_BEFORE_URL = re.compile(
    rf"(?:\b(?:when(?:ever)?|as\s+soon\s+as|once|if|each\s+time|every\s+time|after)\s+(?:an?\s+|any\s+"
    rf"|new\s+|some\s+|more\s+)*"
    rf"(?:new\s+)?(?:files?|data|objects?|parquet|csv|json|uploads?)(?:\s+files?)?\s+{_ARRIVE}\s+(?:in|at"
    rf"|on|into|under|to)\s+"
    rf"|\b(?:file[\s-]+arrival|file[\s-]+trigger(?:ed)?|new\s+files?"
    rf"|arrival\s+of\s+(?:new\s+)?files?)(?:\s+(?:trigger|job|run))?\s*"
    rf"(?:on|at|in|for|from|under|watching|into)\s+"
    rf"|\bwatch(?:ing|es)?\s+|\btrigger(?:ed)?\s+(?:it\s+)?(?:by|on|from)\s+(?:new\s+)?(?:files?"
    rf"|uploads?)\s+(?:in|at|under|to)\s+)"
    rf"{_PLACE}$",
    re.I,
)
_TABLE = r"[A-Za-z_`][\w`-]*\.[A-Za-z_`][\w`-]*\.[A-Za-z_`][\w`-]*"


@dataclass
class TriggerSpec:
    trigger: dict | None = None  # TriggerSettings JSON
    continuous: dict | None = None
    assumptions: list[str] = field(default_factory=list)


def parse_trigger(scan: Scan) -> TriggerSpec:
    spec = TriggerSpec()
    for e in scan.of("path") + scan.of("url"):
        m = _BEFORE_URL.search(scan.masked[max(0, e.start - 120) : e.start])
        if not m:
            continue
        e.used = True
        scan.consume(e.start - len(m.group(0)), e.end)
        arrival: dict = {"url": e.value}
        wait = scan.take_one(
            rf"\bwait(?:ing)?\s+(?:for\s+)?(?P<d>{DURATION})\s+(?:after|since)\s+the\s+last\s+"
            r"(?:file|change|upload|write|activity)"
            rf"|\b(?P<d2>{DURATION})\s+(?:of\s+)?(?:quiet|no\s+(?:new\s+)?(?:files|activity|changes))"
        )
        if wait:
            arrival["wait_after_last_change_seconds"] = max(
                60, seconds(wait.group("d") or wait.group("d2")) or 60
            )
        gap = scan.take_one(
            rf"\b(?:at\s+most|no\s+more\s+than|not\s+more\s+than|max(?:imum)?)\s+once\s+(?:every|per|an?"
            rf"|each)\s+"
            rf"(?P<d>{DURATION}|hour|minute)|\b(?:at\s+least|min(?:imum)?)\s+(?P<d2>{DURATION})\s+between\s+"
            r"(?:runs|triggers)"
        )
        if gap:
            text = gap.group("d") or gap.group("d2")
            secs = {"hour": 3600, "minute": 60}.get(text.lower()) or seconds(text) or 60
            arrival["min_time_between_triggers_seconds"] = max(60, secs)
        spec.trigger = {"file_arrival": arrival, "pause_status": "UNPAUSED"}
        if not re.match(r"(?i)(/Volumes/|s3a?://|abfss?://|gs://|wasbs?://)", e.value):
            spec.assumptions.append(
                f"File-arrival triggers watch Unity Catalog volumes or external locations; "
                f"check that {e.value} is one."
            )
        return spec
    m = scan.take_one(
        rf"\b(?:when(?:ever)?|once|after|if)\s+(?:the\s+)?(?:tables?\s+)?(?P<l>{_TABLE}(?:\s*(?:,|and"
        rf"|or)\s*{_TABLE})*)"
        r"\s+(?:tables?\s+)?(?:is\s+|are\s+|gets?\s+|get\s+|has\s+been\s+)?(?:updated|changes?|changed"
        r"|modified|"
        r"refreshed|written(?:\s+to)?)\b"
        rf"|\b(?:on|after)\s+(?:every\s+)?(?:table\s+)?(?:updates?|changes?|writes?)\s+(?:to|of"
        rf"|in)\s+(?:the\s+)?"
        rf"(?:tables?\s+)?(?P<l2>{_TABLE}(?:\s*(?:,|and|or)\s*{_TABLE})*)"
    )
    if m:
        tables = re.findall(_TABLE, m.group("l") or m.group("l2"))
        spec.trigger = {
            "table_update": {"table_names": [t.replace("`", "") for t in tables]},
            "pause_status": "UNPAUSED",
        }
        if len(tables) > 1:
            spec.assumptions.append("Runs when any of the tables is updated.")
        return spec
    if scan.take(
        r"\bcontinuous(?:ly)?\b|\balways[\s-]+(?:on|running)\b|\brun\s+(?:it\s+)?(?:forever|non-?stop|24/7)\b"
    ):
        spec.continuous = {"pause_status": "UNPAUSED"}
    return spec
