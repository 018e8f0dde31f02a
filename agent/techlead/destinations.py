"""Notification destinations (Slack, Teams, PagerDuty, webhooks) named by id → webhook_notifications.

A job can only notify a destination by the id a workspace admin created for it (Settings →
Notifications). A channel, app or webhook URL named without an id ("post failures to #data-alerts")
cannot be set, so it becomes a question, never a silent drop. The Jobs API takes at most 3 destinations
per event; more is a question too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.notify import (
    _CLAUSE,
    _EITHER,
    _STOP,
    _VERB,
    EVENTS,
    _after,
    _events,
    parse_notifications,
    task_scope,
)
from agent.techlead.scan import Scan

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ORDER = ("on_start", "on_success", "on_failure")
MAX_PER_EVENT = 3
_SAID = {"on_start": "on start", "on_success": "on success", "on_failure": "on failure"}
_APP = r"(?:slack|ms[\s-]*teams|microsoft\s+teams|teams|pager[\s-]*duty|opsgenie)"
DESTINATION = re.compile(
    rf"(?:\b(?:the|our|a|an|my)\s+)?(?:(?:{_APP}|webhook|e-?mail|notification|system|alert(?:ing)?)[\s_-]+)*"
    rf"\b(?:destinations?|webhooks?)(?:[\s_-]*ids?)?\s*(?:[:=#]|is)?\s*[`'\"(]?(?P<id>{UUID})[`'\")]?(?![\w-])",
    re.I,
)
_BARE = re.compile(rf"(?<![\w-])[`'\"(]?(?P<id>{UUID})[`'\")]?(?![\w-])", re.I)
_SAYS_NOTIFY = re.compile(
    r"\b(?:notify|alert|ping|page|post|send|call|hit|message|tell|inform)\w*\b[^.;\n]{0,30}$", re.I
)
_SEND = r"\b(?:send|post|push|forward|route|call|hit|page|ping|message)(?:s|ed|ing)?\b"
_SEP = re.compile(r"[\s,&/+]*(?:\b(?:and|or)\b)?[\s,&/+]*", re.I)
_CHANNEL = re.compile(
    rf"(?:\b(?:the\s+)?(?:{_APP}\s+)?(?:channel\s+)?)?(?<![\w/&#])#(?P<hash>[A-Za-z][\w.-]*)"
    rf"(?:\s+(?:{_APP}\s+)?channel\b)?"
    rf"|\b(?:the\s+)?{_APP}\s+channel\s+(?:called\s+|named\s+)?[`'\"]?(?P<named>[A-Za-z][\w.-]*)[`'\"]?"
    rf"|\b(?:the\s+)?[`'\"]?(?P<before>[A-Za-z][\w.-]*)[`'\"]?\s+{_APP}\s+channel\b"
    rf"|\b(?:in|on|to|via|through|into|using|over)\s+(?:the\s+|our\s+)?{_APP}\b(?:\s+channel\b)?"
    rf"|\b{_APP}\s+(?:channel|alerts?|notifications?|messages?)\b",
    re.I,
)
_NOT_NAMES = {"the", "a", "an", "our", "my", "your", "team", "to", "in", "on", "via", "some", "that", "this"}
_CONTEXT = re.compile(r"\b(?:slack|teams|channel|post|notify|alert|ping|send|message|pagerduty|page)\b", re.I)
_HOOK_HOSTS = re.compile(r"hooks\.slack\.com|webhook\.office\.com|outlook\.office|pagerduty\.com", re.I)


@dataclass
class DestinationSpec:
    lists: dict[str, list[str]] = field(default_factory=dict)  # "on_failure" → destination ids
    removed: dict[str, list[str]] = field(default_factory=dict)
    tasks: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # task key → event → ids
    questions: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    later: list[tuple[int, int]] = field(default_factory=list)  # verb and event words, blanked after e-mails


def parse(scan: Scan, requester_email: str | None, names: dict[str, str] | None = None):
    """Destinations first (their ids and channels), then e-mails; the verb and event words both read are
    blanked only once both are done, so "email a@b.co and notify destination … on failure" gives both."""
    dests = read_destinations(scan, names)
    notify = parse_notifications(scan, requester_email, names)
    for span in dests.later:
        scan.consume(*span)
    return notify, dests


def read_destinations(scan: Scan, names: dict[str, str] | None = None) -> DestinationSpec:
    spec = DestinationSpec()
    found = _found(scan)
    groups: list[list[tuple[int, int, str]]] = []
    for f in found:
        if groups and _SEP.fullmatch(scan.masked[groups[-1][-1][1] : f[0]]):
            groups[-1].append(f)
        else:
            groups.append([f])
    for f in found:
        scan.consume(f[0], f[1])
    for gi, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        ids = list(dict.fromkeys(f[2] for f in group))
        stop = _STOP.search(scan.masked[max(0, start - 60) : start])
        if stop:
            following = re.split(r"[,;.\n]|\band\b|\bbut\b", scan.masked[end : end + 40])[0]
            for ev in _events(stop.group(0) + following) or list(ORDER):
                spec.removed.setdefault(ev, []).extend(ids)
            scan.consume(start - len(stop.group(0)), end)
            continue
        nxt = groups[gi + 1][0][0] if gi + 1 < len(groups) else None
        prev = groups[gi - 1][-1][1] if gi else None
        events = _read_events(scan, start, end, prev, nxt, spec)
        lo, hi = _region(scan, start, end, prev, nxt)
        key, said = task_scope(scan, (end, hi), (lo, start), names or {})
        if said:
            spec.later.append(said)
        lists = spec.tasks.setdefault(key, {}) if key else spec.lists
        if not events:
            spec.assumptions.append(f"No event given for destination {ids[0]}: notified when a run fails.")
        for ev in events or ["on_failure"]:
            lists.setdefault(ev, [])
            lists[ev] += [i for i in ids if i not in lists[ev]]
    _channels(scan, spec, [(g[0][0], g[-1][1]) for g in groups])
    return spec


def _found(scan: Scan) -> list[tuple[int, int, str]]:
    """(start, end, id) of every destination id: after a destination word, after a notify verb, or listed
    right after another one."""
    found = [(m.start(), m.end(), m.group("id").lower()) for m in scan.find(DESTINATION)]
    for m in scan.find(_BARE):
        if any(s <= m.start() < e for s, e, _ in found):
            continue
        listed = any(_SEP.fullmatch(scan.masked[e : m.start()]) for _, e, _ in found if e <= m.start())
        if listed or _SAYS_NOTIFY.search(scan.masked[max(0, m.start() - 60) : m.start()]):
            found.append((m.start(), m.end(), m.group("id").lower()))
            found.sort()
    return found


def _read_events(
    scan: Scan, start: int, end: int, prev: int | None, nxt: int | None, spec: DestinationSpec
) -> list[str]:
    """The events named around a destination (as for e-mail addresses); their words are blanked later."""
    text = scan.masked
    lo, hi = _region(scan, start, end, prev, nxt)
    before = text[lo:start]
    events = _after(text[end:hi]) or _events(re.split(r",", before)[-1]) or _events(before)
    for rx in (_VERB, _SEND, *EVENTS.values(), _EITHER):
        for m in re.finditer(rx, text[lo:hi], re.I):
            spec.later.append((lo + m.start(), lo + m.end()))
    return events


def _region(scan: Scan, start: int, end: int, prev: int | None, nxt: int | None) -> tuple[int, int]:
    """The clause around a destination, up to its neighbours."""
    text = scan.masked
    lo = max([c.end() for c in _CLAUSE.finditer(text, 0, start)] or [0])
    hi = min([c.start() for c in _CLAUSE.finditer(text, end)] or [len(text)])
    return max(lo, prev or lo), min(hi, nxt or hi)


def _channels(scan: Scan, spec: DestinationSpec, groups: list[tuple[int, int]]) -> None:
    """A channel, app or webhook URL with no destination id: asked for (or, next to an id, its label)."""
    if not _CONTEXT.search(scan.text):
        return
    places: list[tuple[int, int, str]] = []
    for m in scan.find(_CHANNEL):
        name = m.group("hash") or m.group("named") or m.group("before")
        if m.group("before") and name.lower() in _NOT_NAMES:
            name = None
        app = re.search(_APP, m.group(0), re.I)
        app_name = _app_name(app.group(0)) if app else ""
        if name and m.group("hash"):
            where = f"#{name}"
        elif name:
            where = f"the {app_name} channel “{name}”"
        else:
            where = app_name
        places.append((m.start(), m.end(), where))
    for e in scan.of("url"):
        if _HOOK_HOSTS.search(e.value) or re.search(
            r"webhook", scan.masked[max(0, e.start - 30) : e.start], re.I
        ):
            e.used = True
            places.append((e.start, e.end, f"the webhook {e.value}"))
    places.sort()
    asked: list[str] = []
    for start, end, where in places:
        scan.consume(start, end)
        if any(
            not re.search(r"[.;\n]", scan.text[min(end, gs) : max(start, ge)]) and abs(start - gs) < 80
            for gs, ge in groups
        ):
            continue  # the label of a destination given by id
        events = _read_events(scan, start, end, None, None, spec)
        when = f" ({', '.join(_SAID[e] for e in events)})" if events else ""
        if where not in asked:
            asked.append(where)
            spec.questions.append(
                f"Which notification destination id should get the alerts for {where}{when}? jobagent needs "
                "the destination's id; a workspace admin creates one under Settings → Notifications "
                "(then say e.g. “notify destination <id> on failure”)."
            )


def _app_name(word: str) -> str:
    low = re.sub(r"[\s-]+", "", word.lower())
    return {"slack": "Slack", "pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}.get(low, "Microsoft Teams")


def apply(draft, spec: DestinationSpec, base: dict | None, update: bool) -> None:
    """Set webhook_notifications (a patch on a change: "-<id>" takes an id off, see `merge`)."""
    draft.ask(*spec.questions)
    draft.assume(*spec.assumptions)
    current = (base or {}).get("webhook_notifications") or {}
    has = {ev: [w.get("id") for w in current.get(ev, [])] for ev in ORDER}
    for i in dict.fromkeys(i for ids in spec.removed.values() for i in ids):
        if not update or (base is not None and not any(i in ids for ids in has.values())):
            draft.assume(f"Destination {i} is not notified by this job; nothing to remove.")
    patch: dict[str, list[dict]] = {}
    for ev in ORDER:
        new = spec.lists.get(ev, [])
        gone = [i for i in spec.removed.get(ev, []) if base is None or i in has[ev]] if update else []
        if not new and not gone:
            continue
        total = [i for i in has[ev] if i not in gone]
        total += [i for i in new if i not in total]
        if len(total) > MAX_PER_EVENT:
            draft.ask(
                f"The Jobs API allows at most {MAX_PER_EVENT} notification destinations per event; "
                f"{_SAID[ev]} would have {len(total)} ({', '.join(total)}). Which {MAX_PER_EVENT} should "
                "I keep?"
            )
            continue
        patch[ev] = [{"id": i} for i in new] + [{"id": f"-{i}"} for i in gone]
    if patch:
        draft.set("webhook_notifications", patch)
    if patch or spec.lists or spec.removed or spec.questions or spec.tasks:
        draft.topic("notifications", "webhooks")
