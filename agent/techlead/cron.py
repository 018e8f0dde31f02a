"""Quartz cron fields: the spec a request fills in, pasted expressions, and composing the final cron.

`compose` takes the fields a request did not name from the job's current cron (so "make it 3am
instead" keeps the weekdays) or from sensible defaults, and says which defaults it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead import clock
from agent.techlead.leftover import FILLER
from agent.techlead.scan import Scan

try:  # the project's validator, when present, vets pasted expressions
    from agent.quartz import quartz_error
except ImportError:  # pragma: no cover - the validator is optional here
    quartz_error = None


@dataclass
class ScheduleSpec:
    """What the request said about when to run; None means "not said"."""

    remove: bool = False
    cron: str | None = None  # a complete expression (pasted or converted)
    minute: str | None = None
    hour: str | None = None
    dom: str | None = None
    month: str | None = None
    dow: str | None = None
    sub_daily: bool = False
    every_day: bool = False  # "daily", "nightly": all days, even when the current cron had fewer
    default_time: tuple[int, int, str] | None = None  # (h, m, why) when a word implies a time
    pause: str | None = None
    days_change: str | None = None  # "add" | "drop": the days named join or leave the days it runs on
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    @property
    def said(self) -> bool:
        return (
            any(v is not None for v in (self.cron, self.minute, self.hour, self.dom, self.month, self.dow))
            or self.remove
            or self.sub_daily
            or self.default_time is not None
        )


_FIELD = r"[\d*?/,LW#A-Za-z-]+"
_PASTED = re.compile(r"(?P<q>[`'\"])\s*(?P<c>" + _FIELD + r"(?:[ \t]+" + _FIELD + r"){4,6})\s*(?P=q)")
_BARE = re.compile(
    r"\b(?:(?:quartz\s+)?cron(?:tab)?(?:\s+expression)?|schedule)\s*(?:of|is|=|:)?\s*(?P<c>(?:[\d*?/,LW#-]+"
    r"|[A-Z]{3}(?:[-,][A-Z]{3})*)"
    r"(?:[ \t]+(?:[\d*?/,LW#-]+|[A-Z]{3}(?:[-,][A-Z]{3})*|\?)){4,6})"
)
# Typed inline, unquoted and perhaps unannounced ("at 0 15 10 ? * 6L"): only with a cron's own symbols.
_NAMES = r"(?:MON|TUE|WED|THU|FRI|SAT|SUN|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
_TOKEN = rf"(?:[\d*?][\d*?/,LW#-]*|LW?(?:-\d+)?|{_NAMES}(?:[-,#/]\w+)*)"
_INLINE = re.compile(
    rf"(?:\b(?:at|on|with|using|cron(?:tab)?|quartz|expression)\s*[:=]?\s*)?(?<![\w:./-])"
    rf"(?P<c>{_TOKEN}(?:[ \t]+{_TOKEN}){{4,6}})(?![\w:./-])",
    re.I,
)
_ZONES = {"UTC", "GMT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "CET", "BST", "IST", "JST"}
_CRON_WORD = re.compile(r"\b(?:quartz\s+)?cron(?:tab)?(?:\s+expression)?\s*(?:of|is|=|:)?[ \t]*", re.I)
_MACROS = {
    "@hourly": "0 0 * * * ?",
    "@daily": "0 0 0 * * ?",
    "@midnight": "0 0 0 * * ?",
    "@weekly": "0 0 0 ? * SUN",
    "@monthly": "0 0 0 1 * ?",
    "@yearly": "0 0 0 1 1 ?",
    "@annually": "0 0 0 1 1 ?",
}


def pasted(scan: Scan, spec: ScheduleSpec) -> bool:
    for name, expr in _MACROS.items():
        if scan.take(re.escape(name)):
            spec.cron = expr
            return True
    m = next((x for x in scan.find(_PASTED, 0) if _looks_like_cron(x.group("c"))), None)
    for rx in (_INLINE, _BARE):
        m = m or next((x for x in scan.find(rx) if _whole(x, scan.masked, symbols=rx is _INLINE)), None)
    if not m:
        return _unreadable(scan, spec)
    scan.consume(*m.span())
    fields = (m.group("c").upper() if m.re is _INLINE else m.group("c")).split()
    if len(fields) == 5:
        spec.cron, note = unix_to_quartz(fields)
        spec.assumptions.append(note)
    else:
        spec.cron = " ".join(fields)
        days = fields[3:6]
        if days[0] != "?" and days[2] != "?":
            if days[0] == "*":
                fields[3] = "?"
            elif days[2] == "*":
                fields[5] = "?"
            spec.cron = " ".join(fields)
            if spec.cron != m.group("c"):
                spec.assumptions.append(f"Quartz needs “?” in one day field: used `{spec.cron}`.")
    error = quartz_error(spec.cron) if quartz_error else None
    if error:
        spec.questions.append(
            f"`{spec.cron}` is not a valid Quartz cron ({error}). What schedule did you mean?"
        )
        spec.cron = None
    return True


def _whole(m: re.Match[str], masked: str, symbols: bool) -> bool:
    """A whole cron typed unquoted (with a cron's own symbols when unannounced), not one cut short before
    a field it could not read ("cron 0 0 8 ? * foo" is not the unix cron `0 0 8 ? *`)."""
    expr = m.group("c")
    if not _looks_like_cron(expr) or symbols and not re.search(r"[*?/#]|\dL|\bLW?\b|\dW", expr, re.I):
        return False
    nxt = re.match(r"[ \t]+([^\s,;]+)", masked[m.end() :])
    word = nxt.group(1).rstrip(".") if nxt else ""
    if not word or len(expr.split()) == 7 or word.lower() in FILLER or word.upper() in _ZONES:
        return True
    return not (re.match(r"[\d*?/#]", word) or len(word) <= 3)


def _unreadable(scan: Scan, spec: ScheduleSpec) -> bool:
    """ "cron 0 0 8 ? * FOO": a cron was meant but none can be read: asked, never replaced by a default."""
    for m in scan.find(_CRON_WORD):
        end, tokens = m.end(), []
        for t in re.finditer(r"[^\s,;]+", scan.masked[m.end() : m.end() + 80]):
            word = t.group(0)
            if scan.masked[end : m.end() + t.start()].strip(" \t") or len(tokens) == 7:
                break
            if not re.search(r"[\d*?]", word) and (len(word) > 3 or word.lower() in FILLER):
                break
            tokens.append(word)
            end = m.end() + t.end()
        if len(tokens) >= 3 and sum(bool(re.search(r"[\d*?]", t)) for t in tokens) >= 2:
            scan.consume(m.start(), end)
            expr = " ".join(tokens)
            why = (quartz_error(expr) if quartz_error else None) or "a Quartz cron has 6 or 7 fields"
            spec.questions.append(f"`{expr}` is not a valid Quartz cron ({why}). What schedule did you mean?")
            return True
    return False


def _looks_like_cron(expr: str) -> bool:
    fields = expr.split()
    return 5 <= len(fields) <= 7 and sum(bool(re.search(r"[\d*?]", f)) for f in fields) >= 4


def unix_to_quartz(fields: list[str]) -> tuple[str, str]:
    """A 5-field unix cron → Quartz: seconds 0 first, weekdays renumbered, "?" in the unused day field."""
    minute, hour, dom, month, dow = fields
    if dow not in ("*", "?"):
        dow = re.sub(r"\d+", lambda d: clock.DAYS[int(d.group(0)) % 7], dow)
    note = f"Converted the 5-field unix cron `{' '.join(fields)}` to Quartz"
    if dow in ("*", "?"):
        dow = "?"
    elif dom in ("*", "?"):
        dom = "?"
    else:
        note += f" (unix runs when either day field matches; Quartz cannot, so kept only the weekdays {dow})"
        dom = "?"
    cron = f"0 {minute} {hour} {dom} {month} {dow}"
    return cron, f"{note}: `{cron}`."


def _change_days(named: str, how: str, base: list[str] | None) -> tuple[str | None, str]:
    """ "on saturdays too" adds to the days it runs on now; "not on fridays any more" takes away."""
    if base and base[5] not in ("?", "*"):
        current = clock.day_list(base[5])
    else:
        every_day = not base or base[3] in ("*", "?")
        current = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"] if every_day else []
    days = clock.day_list(named)
    if how == "add":
        result = [d for d in clock.DAYS if d in current or d in days]
    else:
        result = [d for d in clock.DAYS if d in current and d not in days]
    if len(result) == 7:
        return None, "Now runs every day."
    if not result:
        return named, f"Removing {named} would leave no day to run on: kept {named}."
    field_ = clock.dow_field(result)
    verb = "Added" if how == "add" else "Removed"
    return field_, f"{verb} {', '.join(days)}: runs on {field_}."


def compose(spec: ScheduleSpec, base_cron: str | None = None) -> tuple[str | None, list[str]]:
    """Fill the unsaid fields from the current cron (a change) or from defaults (a new schedule)."""
    notes: list[str] = []
    if spec.cron:
        return spec.cron, notes
    base = base_cron.split() if base_cron and len(base_cron.split()) >= 6 else None
    minute, hour = spec.minute, spec.hour
    if hour is None and spec.default_time:
        h, mm, why = spec.default_time
        if h < 0:  # "n times a day" with no times given: spread evenly from midnight
            hour, minute = clock.hours_field([i * (24 // -h) for i in range(-h)]), "0"
            notes.append(
                f"{why.capitalize()} with no times given: {', '.join(f'{x}:00' for x in hour.split(','))}."
            )
        elif base and h == 0 and not base[2].startswith(("*", "0/")) and "/" not in base[2]:
            minute, hour = base[1], base[2]  # "make it weekly": keep the time it runs at now
        else:
            hour, minute = str(h), str(mm)
            notes.append(f"{why[0].upper()}{why[1:]} with no time given: {h:02d}:{mm:02d}.")
    if hour is None and minute is None:
        if base:
            minute, hour = base[1], base[2]
        else:
            minute, hour = "0", "0"
            notes.append("No time of day given: 00:00.")
    hour = hour if hour is not None else (base[2] if base else "*")
    minute = minute if minute is not None else (base[1] if base else "0")
    dom, month, dow = spec.dom, spec.month, spec.dow
    if spec.days_change and dow:
        dow, note = _change_days(dow, spec.days_change, base)
        notes.append(note)
        if dow is None:  # every day of the week
            dom = dom or "*"
    if dow == "*weekly":
        dow = "MON"
        notes.append("“Weekly” with no day given: Mondays.")
    if dom == "*monthly":
        dom = "1"
        if month == "*yearly":
            month = "1"
            notes.append("“Yearly” with no date given: 1 January.")
        elif month is None:
            notes.append("“Monthly” with no day given: the 1st.")
    if dom is not None and dow is not None:
        notes.append(f"Quartz cannot combine a day of the month with weekdays: kept the weekdays {dow}.")
        dom = None
    if dom is None and dow is None and month is None:
        if base and not spec.every_day:
            dom, month, dow = base[3], base[4], base[5]
        else:
            dom, month, dow = "*", "*", "?"
            if not base and not spec.sub_daily and not spec.every_day:
                notes.append("No days given: runs every day.")
    else:
        month = month or "*"
        dom, dow = ("?", dow) if dow is not None else (dom or "*", "?")
    return f"0 {minute} {hour} {dom} {month} {dow}", notes
