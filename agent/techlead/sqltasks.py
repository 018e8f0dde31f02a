"""Legacy SQL dashboards and SQL alerts as sql_task ("refresh dashboard <id> and send it to ops@x.io").

Who gets the snapshot or the alert (people by e-mail, notification destinations by id) is read here,
before the job's own e-mail grammar, so "send it to ops@x.io" subscribes ops to the dashboard instead of
e-mailing them when a run fails. AI/BI (Lakeview) dashboards are another task kind (see `unsupported`).
"""

from __future__ import annotations

import re

from agent.techlead.anchor import Anchor
from agent.techlead.destinations import DESTINATION, UUID
from agent.techlead.notify import _events
from agent.techlead.scan import Scan

# An id has a digit and is not a time of day ("dashboard 10am daily" names no dashboard).
_ID = rf"[`'\"]?(?P<id>{UUID}|(?=[\w-]{{4,}})(?!\d{{1,2}}(?::\d\d)?(?:am|pm)?\b)[\w-]*\d[\w-]*)[`'\"]?"
_QUAL = r"(?:(?P<sql>legacy|sql|dbsql|databricks\s+sql)\s+)*"
_LABEL = r"(?:(?:the|a|my|our)\s+(?:(?P<label>[A-Za-z][\w-]*)\s+(?=(?:(?:legacy|sql|dbsql)\s+)*{noun}))?)?"
_VERBS = {
    "dashboard": r"refresh|update|reload|run|rerun|trigger|snapshot|send",
    "alert": r"run|evaluate|check|refresh|trigger|schedule",
}
_FOUND = {
    kind: re.compile(
        rf"(?:\b(?P<verb>{verbs})\s+)?{_LABEL.format(noun=kind)}{_QUAL}\b{kind}(?P<task>[\s_-]*(?:id|task))?"
        rf"\s*(?:[:=#]|\(\s*(?:id\s*)?)?\s*{_ID}\)?",
        re.I,
    )
    for kind, verbs in _VERBS.items()
}
_NO_ID = re.compile(
    r"\b(?P<verb>refresh|update|reload|run|evaluate)\s+(?:the\s+|our\s+|my\s+)?(?:(?P<label>[A-Za-z][\w-]*)\s+)?"
    r"(?:(?:legacy|sql|dbsql)\s+)*(?P<kind>dashboard|alert)\b",
    re.I,
)
_SEND = re.compile(
    r"(?:\band\s+)?\b(?:(?:send|e-?mail|mail|share|deliver|forward|post)(?:\s+(?:out|over))?\s+(?:it|them|this"
    r"|that|the\s+(?:dashboard|alert|snapshot|results?|report|pdf|notifications?)|an?\s+(?:copy|snapshot|pdf"
    r"|e-?mail))(?:\s+(?:out|over))?\s+(?:to|with)|subscribe\b|(?:with\s+)?(?:the\s+)?subscri(?:bers?|ptions?)"
    r"(?:\s*(?:are|is|[:=]|to))?|(?:notify|e-?mail|alert|ping|tell)(?=[^.;\n]{0,160}\bwhen\s+(?:it|the\s+alert)\s+"
    r"(?:fires|triggers|goes\s+off|is\s+triggered)))",
    re.I,
)
_FIRES = re.compile(
    r"^\s*,?\s*when\s+(?:it|the\s+alert)\s+(?:fires|triggers|goes\s+off|is\s+triggered)\b", re.I
)
_SEP = re.compile(r"[\s,&/+]*(?:\b(?:and|or)\b)?[\s,&/+]*", re.I)
_SUBJECT = re.compile(
    r"\b(?:with\s+)?(?:the\s+|an?\s+)?(?:e-?mail\s+)?subject(?:\s+line)?\s*(?:[:=]|of|as)?\s*"
    r"(?P<q>[\"'`])(?P<s>[^\"'`\n]{1,200})(?P=q)",
    re.I,
)
_PAUSE = re.compile(
    r"\b(?:but\s+)?(?:pause|mute|hold|suspend)\s+(?:the\s+|its\s+|all\s+)?(?:subscriptions?|subscribers"
    r"|snapshots?)\b|\bwithout\s+(?:sending|e-?mailing|notifying)\s+(?:the\s+|any\s+)?(?:subscribers|snapshots?"
    r"|anyone)\b|\bpause_subscriptions\s*[:=]\s*true\b",
    re.I,
)
_NOT_LABELS = {"sql", "legacy", "dbsql", "same", "new", "old"}


def find_sql_objects(scan: Scan, others: list[Anchor]) -> list[Anchor]:
    """Dashboard and alert tasks, with their subscribers; one named in words only is asked for its id
    (when nothing else in the request runs, so a notebook that "refreshes the dashboard" stays one)."""
    out: list[Anchor] = []
    for kind, rx in _FOUND.items():
        for m in scan.find(rx):
            if kind == "alert" and not (m.group("verb") or m.group("sql") or m.group("task")):
                continue  # "alert ops@x.io …" is a notification, not an alert task
            scan.consume(*m.span())
            oid = m.group("id")
            body = {f"{kind}_id": oid}
            out.append(
                Anchor(
                    "sql",
                    m.start(),
                    m.end(),
                    {"sql_task": {kind: body}},
                    f"{kind}_{oid[:40]}",
                    f"{kind} {oid}",
                    source=oid,
                )
            )
    if not out and not others:
        for m in scan.find(_NO_ID):
            kind, label = m.group("kind").lower(), m.group("label")
            scan.consume(*m.span())
            named = f" “{label}”" if label and label.lower() not in _NOT_LABELS else ""
            out.append(
                Anchor(
                    "sql",
                    m.start(),
                    m.end(),
                    {"sql_task": {kind: {f"{kind}_id": ""}}},
                    kind,
                    f"the {kind}",
                    missing=[f"What is the id of the SQL {kind}{named}? sql_task needs its id (in its URL)."],
                )
            )
            break
    for a in sorted(out, key=lambda a: a.start):
        _subscribers(scan, a)
    return out


def _subscribers(scan: Scan, a: Anchor) -> None:
    kind = next(iter(a.body["sql_task"]))
    body = a.body["sql_task"][kind]
    clause_end = re.search(r"[.;\n](?:\s|$)|\bthen\b", scan.masked[a.end :])
    hi = a.end + clause_end.start() if clause_end else len(scan.masked)
    subs: list[dict] = []
    for intro in scan.find(_SEND):
        if not a.end <= intro.start() < hi:
            continue
        found, pos = _recipients(scan, intro.end(), hi)
        if not found:
            continue
        fires = _FIRES.match(scan.masked[pos:hi])
        if not fires and _events(re.split(r",|\b(?:and|also|but|then)\b", scan.masked[pos:hi])[0]):
            continue  # "send it to ops@x.io if it fails": the job's own notification
        for sub, span, entity in found:
            if sub not in subs:
                subs.append(sub)
            if entity is not None:
                entity.used = True
            scan.consume(*span)
        scan.consume(*intro.span())
        if fires:
            scan.consume(pos, pos + fires.end())
    if subs:
        body["subscriptions"] = subs
    if kind == "dashboard":
        subject = next((m for m in scan.find(_SUBJECT) if m.start() >= a.end and m.start() < hi + 200), None)
        if subject:
            scan.consume(*subject.span())
            body["custom_subject"] = subject.group("s").strip()
    pause = next((m for m in scan.find(_PAUSE)), None)
    if pause:
        scan.consume(*pause.span())
        body["pause_subscriptions"] = True


def _recipients(scan: Scan, pos: int, hi: int) -> tuple[list[tuple[dict, tuple[int, int], object]], int]:
    """People (e-mail) and destinations (id) listed from `pos` on: "ops@x.io, ana@y.io and destination …"."""
    candidates = [
        ({"user_name": e.value}, (e.start, e.end), e) for e in scan.of("email") if pos <= e.start < hi
    ]
    candidates += [
        ({"destination_id": m.group("id").lower()}, m.span(), None)
        for m in scan.find(DESTINATION)
        if pos <= m.start() < hi
    ]
    candidates += [
        ({"destination_id": m.group(0).lower()}, m.span(), None)
        for m in scan.find(rf"(?<![\w-]){UUID}(?![\w-])")
        if pos <= m.start() < hi and not any(c[1][0] <= m.start() < c[1][1] for c in candidates)
    ]
    found = []
    for c in sorted(candidates, key=lambda c: c[1][0]):
        if not _SEP.fullmatch(scan.masked[pos : c[1][0]]):
            break
        found.append(c)
        pos = c[1][1]
    return found, pos
