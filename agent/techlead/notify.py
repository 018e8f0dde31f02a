"""Who gets e-mailed on which run event: each address takes the events named nearest to it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.scan import Scan

EVENTS = {
    "on_failure": r"\bfail(?:s|ed|ing|ures?)?\b|\berr(?:or|ors|ored)\b|\bbreaks?\b|\bcrash(?:es|ed)?\b"
    r"|\bgoes\s+wrong\b|\bdoes(?:n'?t| not)\s+succeed\b|\bunsuccessful\b|\bproblems?\b|\bissues?\b",
    "on_success": r"\bsucce(?:ss|eds?|eded|ssful(?:ly)?)\b|\bgoes\s+(?:well|fine)\b|\bworks\b"
    r"|\bpass(?:es)?\b",
    "on_start": r"\bstart(?:s|ed)?\b(?!\s+(?:at|from)\b)|\bbegins?\b|\bkicks?\s+off\b|\blaunch(?:es)?\b",
}
_EITHER = (
    r"\bfinish(?:es|ed)?\b|\bcomplet(?:es?|ed|ion)\b|\bends?\b|\bdone\b|\balways\b|\bevery\s+run\b"
    r"|\bany\s+outcome\b"
    r"|\bregardless\b|\beither\s+way\b|\bwhatever\s+happens\b"
)
_ME = re.compile(
    r"\b(?:e-?mail|mail|notify|alert|ping|message|tell|page|cc|inform|let|send)\s+me\b|\bto\s+me\b"
    r"|\b(?:my|me\s+an?)\s+e-?mail\b",
    re.I,
)
_VERB = (
    r"\b(?:e-?mail(?:ed|ing)?|mail|notify|alert|ping|message|tell|page|cc|inform|let\s+\w+\s+know|warn"
    r"|send\s+(?:an?\s+)?(?:e-?mails?|alerts?|notifications?|a\s+note)(?:\s+to)?|post|notifications?"
    r"|alerts?|on)\b"
)
_CLAUSE = re.compile(r"[.;\n]|\bthen\b|\balso\b", re.I)
_TASK_WORD = r"(?:task|step|notebook)"
_NAMED = r"[`'\"]?(?P<w>[A-Za-z_](?:[\w.-]*\w)?)[`'\"]?"
_EVENT_WORD = "|".join(f"(?:{rx})" for rx in (*EVENTS.values(), _EITHER))
_I = re.I
_SCOPES = [  # a recipient tied to one task: "only the publish step", "failures of the transform task"
    re.compile(rf"(?:\bonly\s+)?(?:\b(?:the|its)\s+)?(?<![\w/-]){_NAMED}\s+{_TASK_WORD}\b(?:\s+only\b)?", _I),
    re.compile(rf"(?:\bonly\s+)?(?:\bthe\s+)?\b{_TASK_WORD}\s+{_NAMED}(?![\w/-])(?:\s+only\b)?", re.I),
    re.compile(rf"(?:\bonly\s+)?(?<![\w/-]){_NAMED}(?:'s)?(?=\s+(?:{_EVENT_WORD}))", _I),  # "transform fails"
    re.compile(rf"\b(?:of|for|from)\s+(?:the\s+)?(?<![\w/-]){_NAMED}(?![\w/-])(?:\s+only\b)?", re.I),
    re.compile(rf"(?<![\w/-])(?P<w>/[\w/.@-]*\w)(?:'s)?(?=\s+(?:{_EVENT_WORD}))", re.I),  # "/Repos/x fails"
]


def task_scope(
    scan: Scan, after: tuple[int, int], before: tuple[int, int], names: dict[str, str]
) -> tuple[str | None, tuple[int, int] | None]:
    """The one task a recipient is tied to, named right after it or else before it (nearest wins), and the
    span of the words that name it. A word must still be unread; a path only counts as "<path> fails"."""
    if not names:
        return None, None
    low = {k.lower(): v for k, v in names.items()}
    for (lo, hi), nearest in ((after, min), (before, max)):
        hits = []
        for rx in _SCOPES:
            for m in rx.finditer(scan.text, lo, hi):
                word, (ws, we) = m.group("w"), m.span("w")
                key = low.get(word.lower().strip("."))
                if key is None or (not word.startswith("/") and scan.masked[ws:we] != scan.text[ws:we]):
                    continue
                hits.append((m.start(), m.end(), key))
        if hits:
            hit = nearest(hits, key=lambda h: h[0])
            return hit[2], (hit[0], hit[1])
    return None, None


@dataclass
class NotifySpec:
    lists: dict[str, list[str]] = field(default_factory=dict)  # "on_failure" → addresses
    removed: dict[str, list[str]] = field(default_factory=dict)  # "stop e-mailing x": event → addresses
    tasks: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # task key → event → addresses
    quiet: dict[str, bool] = field(default_factory=dict)  # notification_settings: no_alert_for_*_runs
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)


_STOP = re.compile(
    r"(?:\b(?:stop|don'?t|do\s+not|no\s+longer|never)\s+(?:e-?mail(?:ing)?|notify(?:ing)?|alert(?:ing)?|"
    r"cc(?:ing)?|send(?:ing)?\s+(?:e-?mails?|alerts?|notifications?)\s+to)|\bremove|\bunsubscribe|\bdrop"
    r"|\btake"
    r"|\bno\s+more\s+(?:e-?mails?|alerts?|notifications?)(?:\s+on\s+\w+)?\s+(?:for|to))\s*$",
    re.I,
)
_STOP_AFTER = re.compile(
    r"^\s*(?:off|from)\s+(?:the\s+)?(?:\w+\s+)?(?:e-?mails?|notifications?|alerts?|list|recipients)\b", re.I
)


def parse_notifications(
    scan: Scan, requester_email: str | None, names: dict[str, str] | None = None
) -> NotifySpec:
    spec = NotifySpec()
    _quiet(scan, spec)
    for e in scan.of("email"):
        before = _STOP.search(scan.masked[max(0, e.start - 60) : e.start])
        after = _STOP_AFTER.match(scan.masked[e.end :])
        if before:
            following = re.split(r"[,;.\n]|\band\b|\bbut\b", scan.masked[e.end : e.end + 40])[0]
            for ev in _events(before.group(0) + following) or ["on_start", "on_success", "on_failure"]:
                spec.removed.setdefault(ev, []).append(e.value)
            e.used = True
            scan.consume(e.start - len(before.group(0)), e.end + (after.end() if after else 0))
    recipients = [(e.start, e.end, e.value, e) for e in scan.of("email")]
    recipients += [(m.start(), m.end(), None, None) for m in scan.find(_ME)]
    recipients.sort(key=lambda r: r[0])
    groups: list[list[tuple]] = []
    for r in recipients:  # "a@x, b@y and me" share the events named around the group
        if groups and re.fullmatch(
            r"[\s,&/+]*(?:\b(?:and|or)\b)?[\s,&/+]*", scan.masked[groups[-1][-1][1] : r[0]]
        ):
            groups[-1].append(r)
        else:
            groups.append([r])
    text = scan.masked
    explicit = [r[2] for r in recipients if r[2]]
    if requester_email is None and explicit and any(r[2] is None for r in recipients):
        requester_email = explicit[-1]  # "email me …" and an address: read as who "me" is
        spec.assumptions.append(f"“me” read as {requester_email}.")
    for gi, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        lo = max([c.end() for c in _CLAUSE.finditer(text, 0, start)] or [0])
        hi = min([c.start() for c in _CLAUSE.finditer(text, end)] or [len(text)])
        next_start = groups[gi + 1][0][0] if gi + 1 < len(groups) else hi
        prev_end = groups[gi - 1][-1][1] if gi else lo
        before = text[max(lo, prev_end) : start]
        events = (
            _after(text[end : min(hi, next_start)])
            or _events(re.split(r",", before)[-1])
            or _events(before)
            or _events(text[lo:hi])
        )
        key, said = task_scope(scan, (end, min(hi, next_start)), (max(lo, prev_end), start), names or {})
        lists = spec.tasks.setdefault(key, {}) if key else spec.lists
        for r_start, r_end, address, entity in group:
            who = address or requester_email
            if who is None:
                if not spec.questions:
                    spec.questions.append(
                        "Which e-mail address should I notify (“me” is not known to me here)?"
                    )
                continue
            if not events:
                spec.assumptions.append(f"No event given for {who}: e-mailed when a run fails.")
            for ev in events or ["on_failure"]:
                lists.setdefault(ev, [])
                if who not in lists[ev]:
                    lists[ev].append(who)
            if entity is not None:
                entity.used = True
            scan.consume(r_start, r_end)
        if said:
            scan.consume(*said)
        region = (max(lo, prev_end), min(hi, next_start))  # the verb and event words are read too
        for rx in (_VERB, *EVENTS.values(), _EITHER):
            for m in re.finditer(rx, text[region[0] : region[1]], re.I):
                scan.consume(region[0] + m.start(), region[0] + m.end())
    return spec  # Slack / Teams channels and destination ids: see `destinations`


_KINDS = r"(?:skipped|skips|cancell?ed|cancellations?)"
_WHICH = (  # "skipped runs", "skipped or canceled runs", "a run is skipped", "runs that get cancelled"
    rf"(?:the\s+|a\s+|any\s+)?(?:(?:runs?|jobs?)\s+(?:that\s+)?(?:is|are|gets?|was|were)\s+)?"
    rf"{_KINDS}(?:\s*(?:,|/|&|\bor\b|\band\b)\s*(?:runs\s+)?{_KINDS})*(?:\s+(?:runs?|jobs?))?"
)
_SAY = (
    r"(?:alert(?:s|ing)?|e-?mail(?:s|ing)?|mails?|notif(?:y|ying|ications?)|pag(?:e|es|ing)"
    r"|ping(?:s|ing)?)"
)
_QUIET = re.compile(
    rf"\b(?:no|don'?t|do\s+not|never|without|mute|silence|suppress|skip|ignore|stop|disable|turn\s+off)\s+"
    rf"(?:send(?:ing)?\s+|any\s+|the\s+)?{_SAY}(?:\s+(?:me|us|anyone|people|them))?\s+(?:for|on|about|when"
    rf"|if|of|from)\s+{_WHICH}"
    rf"|\b{_WHICH}\s+(?:should(?:n'?t|\s+not)|must(?:n'?t|\s+not)|don'?t|do\s+not|won'?t|need(?:n'?t|\s+not)"
    rf"|never)\s+(?:send\s+|trigger\s+|raise\s+|cause\s+)?(?:an?\s+|any\s+)?{_SAY}"
    rf"|\b(?:skip(?:ped)?|cancell?ed)[- ]run\s+{_SAY}\s+off\b"
    rf"|\bno[_\s-]alerts?[_\s-]for[_\s-](?:skipped|cancell?ed)[_\s-]runs\b(?:\s*[:=]?\s*true\b)?",
    re.I,
)
_LOUD = re.compile(
    rf"\b(?:re-?enable|enable|turn\s+(?:back\s+)?on|resume|start|do)\s+(?:sending\s+)?(?:the\s+)?{_SAY}"
    rf"\s+(?:again\s+)?(?:for|on|about|when|if)\s+{_WHICH}(?:\s+again)?",
    re.I,
)


def _quiet(scan: Scan, spec: NotifySpec) -> None:
    """ "don't alert for skipped runs", "no alerts on canceled runs" → notification_settings flags."""
    for rx, value in ((_QUIET, True), (_LOUD, False)):
        for m in scan.take(rx):
            said = re.sub(r"^skip\s+", "", m.group(0).lower())  # "skip alerts for …": the verb
            if re.search(r"\bskip(?:ped|s)?\b", said):
                spec.quiet["no_alert_for_skipped_runs"] = value
            if "cancel" in said:
                spec.quiet["no_alert_for_canceled_runs"] = value


def _after(text: str) -> list[str]:
    """Events right after the addresses; a comma ends them unless a short event list goes on."""
    parts = text.split(",")
    found = _events(parts[0])
    for part in parts[1:]:
        more = _events(part)
        if not found or not more or len(part.split()) > 5:
            break
        found = sorted(set(found) | set(more), key=["on_start", "on_success", "on_failure"].index)
    return found


def _events(text: str) -> list[str]:
    found = [ev for ev, rx in EVENTS.items() if re.search(rx, text, re.I)]
    if re.search(_EITHER, text, re.I):
        found += [ev for ev in ("on_success", "on_failure") if ev not in found]
    order = ["on_start", "on_success", "on_failure"]
    return sorted(found, key=order.index)
