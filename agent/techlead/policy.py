"""Run policy beyond retries and timeouts: long-run warnings (health rules), queueing and run-as; and
permission phrases, which job settings cannot hold.

Read right after the entities, before any other grammar: "warn me if it runs over 2 hours" must never
reach the timeout grammar (a warning does not stop a run), and "let bob@x.io view it" must never reach
the e-mail grammar (a viewer is not a recipient).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.notify import EVENTS
from agent.techlead.numbers import DURATION, human, number, seconds
from agent.techlead.scan import Entity, Scan

PERMISSIONS_NOTE = "Permissions are set with the permissions API, not in job settings; not changed here."
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Policy:
    health: list[dict] = field(default_factory=list)  # JobsHealthRule dicts
    warn: dict[str, list[str]] = field(default_factory=dict)  # email_notifications event → addresses
    queue: bool | None = None
    run_as: dict | None = None
    grants: bool = False  # a permission was asked for (reported, not acted on)
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)

    def apply(self, draft, scan: Scan) -> None:
        """Into the draft; e-mail lists join those the notification grammar made."""
        draft.assume(*self.assumptions)
        draft.ask(*self.questions)
        if self.health:
            draft.set("health", {"rules": self.health})
            draft.topic("health")
        if self.warn:
            emails = draft.patch.setdefault("email_notifications", {})
            for event, who in self.warn.items():
                listed = emails.setdefault(event, [])
                listed.extend(a for a in who if a not in listed)
            draft.touched.add("email_notifications")
            draft.topic("notifications")
        if self.queue is not None:
            draft.set("queue", {"enabled": self.queue})
            draft.topic("queue")
        if self.run_as:
            draft.set("run_as", self.run_as)
            draft.topic("run_as")
        if self.grants:
            draft.topic("permissions")
            draft.assume(PERMISSIONS_NOTE)
        m = re.search(_THRESHOLD, scan.masked, re.I)
        if m and seconds(m.group("d")):
            said = human(seconds(m.group("d")))
            draft.ask(
                f"Should a run that takes longer than {said} be stopped (say “time out after {said}”) or "
                f"only warned about (say “warn <address> if it runs over {said}”)?"
            )


def parse_policy(scan: Scan, requester_email: str | None) -> Policy:
    pol = Policy()
    _permissions(scan, pol)
    _run_as(scan, pol, requester_email)
    _queue(scan, pol)
    _warnings(scan, pol, requester_email)
    return pol


# ------------------------------------------------------------------------------- permissions
_EMAIL = r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_NOT_WHO = (
    r"(?!(?:it|its|this|that|these|those|them|they|runs?|jobs?|tasks?|the\s+job|retries|which|what"
    r"|one|notebooks?|clusters?|everything|e-?mail|notify|alert|warn|ping|run|retry|tag|schedule|time"
    r"|make|set|use|also|then|send|add|give|let)\b)"
)
_ONE = rf"(?:{_EMAIL}|me|us|{_NOT_WHO}(?:the\s+)?@?[A-Za-z][\w.-]*(?:\s+(?:team|group|users?))?)"
_WHO = rf"{_ONE}(?:\s*(?:,|&|\band\b)\s*{_ONE})*"
_LEVEL = (
    r"(?:CAN[_\s]MANAGE[_\s]RUN|CAN[_\s]MANAGE|CAN[_\s]VIEW|IS[_\s]OWNER|can\s+(?:view|manage|run)"
    r"|(?:(?:view|read|manage|edit|run|admin|owner|write|full)(?:[\s_-]only)?\s*"
    r"(?:access|rights|permissions?|perms|privileges|role))|access|(?:owner|ownership|admin)\b)"
)
_GRANT = re.compile(
    rf"\b(?:let|allow|permit)\s+{_WHO}\s+(?:to\s+)?(?:view|see|manage|edit|modify|own|admin(?:ister)?|access"
    rf"|(?:run|trigger|start)\s+(?:it|the\s+job|this(?:\s+job)?))\b"
    rf"|\b(?:give|grant|gives|granting|assign)\s+(?:to\s+)?{_WHO}\s+(?:the\s+)?{_LEVEL}"
    rf"|\b(?:grant|give)\s+(?:the\s+)?{_LEVEL}\s+(?:on\s+(?:it|the\s+job)\s+)?to\s+{_WHO}"
    rf"|\bshare\s+(?:it|the\s+job|this(?:\s+job)?)\s+with\s+{_WHO}"
    rf"|\b(?:make|set)\s+{_WHO}\s+(?:the\s+|an?\s+)?(?:owner|admin|manager)\b"
    rf"|\badd\s+{_WHO}\s+as\s+(?:an?\s+)?(?:viewer|manager|owner|admin)s?\b"
    rf"|\btransfer\s+(?:the\s+)?ownership\s+to\s+{_WHO}"
    rf"|\b(?:(?:job\s+)?owner|owned\s+by|ownership)\s*(?:[:=]|\bis\b|\bshould\s+be\b|\bwill\s+be\b|\bgoes\s+to\b)?"
    rf"\s*(?:{_EMAIL}|@[\w.-]+)"
    rf"|\b{_ONE}\s+(?:is|should\s+be|will\s+be)\s+(?:the\s+)?(?:job\s+)?owner\b"
    rf"|\b{_ONE}\s+(?:can|should\s+be\s+able\s+to|may|needs?\s+to\s+be\s+able\s+to)\s+(?:view|see|manage"
    rf"|edit)\s+(?:it|the\s+job|this(?:\s+job)?)\b"
    rf"|\b{_ONE}\s*[:=]\s*(?:CAN_MANAGE_RUN|CAN_MANAGE|CAN_VIEW|IS_OWNER)\b"
    rf"|\b(?:CAN_MANAGE_RUN|CAN_MANAGE|CAN_VIEW|IS_OWNER)\b(?:\s*(?:[:=]|for|to)\s*{_WHO})?",
    re.I,
)


def _permissions(scan: Scan, pol: Policy) -> None:
    """A permission phrase becomes one entity no grammar reads, so the plan lists it as not acted on.

    Job settings have no access control list (it is set with the permissions API), and an address in
    "let bob@x.io view it" is neither a recipient nor whom the job runs as.
    """
    for m in _GRANT.finditer(scan.text):
        start, end = m.start(), len(m.group(0).rstrip(" ,.")) + m.start()
        if not scan.masked[start:end].strip():
            continue
        for e in scan.entities:
            if e.kind == "email" and start <= e.start < end:
                e.used = True  # shown within the phrase
        scan.entities.append(Entity("permission", scan.text[start:end], start, end))
        scan.consume(start, end)
        pol.grants = True


# ------------------------------------------------------------------------------- run as
_AS = (
    r"\b(?:run(?:s|ning)?|execute[sd]?)\s+(?:it\s+|the\s+(?:job|tasks?)\s+|this(?:\s+job)?\s+|them\s+"
    r"|everything\s+|all\s+(?:the\s+)?tasks\s+)?as\s+"
)
_SP = r"(?:service[\s_-]?principal|spn|sp)"
_NAME = (  # a name or id, never a filler word ("run as a service principal please")
    r"[`'\"]?(?!(?:a|an|the|our|my|please|pls|and|with|instead|too|then|that|which|to|for|on|from)\b)"
    r"(?P<{g}>[\w.-]*[\w])[`'\"]?"
)
_RUN_AS = re.compile(
    rf"(?:{_AS}|\bas\s+)(?:the\s+|our\s+|a\s+|an\s+)?{_SP}(?:\s+(?:named|called|with\s+(?:the\s+)?(?:app(?:lication)?"
    rf"[\s_-]?id|id)|app(?:lication)?[\s_-]?id|id))?(?:\s*[:=]\s*|\s+){_NAME.format(g='sp')}"
    rf"|{_AS}(?:the\s+|our\s+)?{_NAME.format(g='sp2')}\s+{_SP}\b"
    rf"|\b(?:use|using|via)\s+(?:the\s+|our\s+)?{_SP}\s+{_NAME.format(g='sp3')}\s+to\s+run\s+(?:it|the\s+job)\b"
    rf"|\brun[_\s]?as\s*[:=]\s*(?:{_SP}\s*)?(?P<sp4>{_UUID})"
    rf"|{_AS}(?:the\s+)?group\s+{_NAME.format(g='group')}"
    rf"|{_AS}(?:the\s+)?{_NAME.format(g='group2')}\s+group\b"
    rf"|{_AS}(?P<me>me|myself)\b"
    rf"|\bunder\s+(?:the\s+|our\s+|a\s+)?{_SP}(?:\s*[:=]\s*|\s+){_NAME.format(g='sp5')}",
    re.I,
)
# "as our svc-finance service principal (application id 1111…)": the id said next to a name wins.
_APP_ID = re.compile(
    rf"\s*[(,]?\s*(?:with\s+|whose\s+)?(?:the\s+)?(?:app(?:lication)?[\s_-]?id|id)\s*(?:is\s+|[:=]\s*)?"
    rf"[`'\"]?(?P<id>{_UUID})[`'\"]?\s*\)?",
    re.I,
)


def _run_as(scan: Scan, pol: Policy, requester_email: str | None) -> None:
    """ "run as bob@x.io", "run it as the sp etl-bot", "run as service principal <application id>",
    "run as me", "run as group data-eng" → run_as (user_name / service_principal_name / group_name)."""
    for e in scan.of("email"):
        m = re.search(
            rf"(?:{_AS}(?:the\s+)?(?:user\s+)?|\brun[_\s]?as(?:[_\s]user(?:[_\s]?name)?)?\s*[:=]\s*)$",
            scan.masked[: e.start],
            re.I,
        )
        if m:
            e.used = True
            pol.run_as = {"user_name": e.value}
            scan.consume(m.start(), e.end)
            return
    m = scan.take_one(_RUN_AS)
    if not m:
        return
    if m.group("me"):
        if requester_email:
            pol.run_as = {"user_name": requester_email}
            pol.assumptions.append(f"Runs as you ({requester_email}).")
        else:
            pol.questions.append("Which user should the job run as (“me” is not known to me here)?")
        return
    group = m.group("group") or m.group("group2")
    if group:
        pol.run_as = {"group_name": group}
        return
    sp = m.group("sp") or m.group("sp2") or m.group("sp3") or m.group("sp4") or m.group("sp5")
    app_id = _APP_ID.match(scan.masked, m.end())
    if app_id and not re.fullmatch(_UUID, sp, re.I):
        scan.consume(*app_id.span())
        pol.assumptions.append(f"Service principal “{sp}” is given by its application id {app_id['id']}.")
        sp = app_id.group("id")
    pol.run_as = {"service_principal_name": sp}
    if not re.fullmatch(_UUID, sp, re.I):
        pol.assumptions.append(
            f"run_as.service_principal_name must be the service principal's application id (a UUID); "
            f"“{sp}” is used as given — if that is its display name, give its application id instead."
        )


# ------------------------------------------------------------------------------- queue
_Q = r"(?:queue|queu(?:e)?ing|queing|queued)"
_BUSY = (
    r"(?:if|when|while|whenever)\s+(?:a\s+run|another(?:\s+run|\s+one)?|the\s+(?:previous|last|prior|current"
    r"|earlier|other)\s+(?:run|one)|an?\s+(?:earlier|older|previous)\s+run|one|the\s+job|it)"
    r"(?:\s+is|\s+was|'s)?\s+(?:still\s+|already\s+)*(?:going|running|active|in\s+progress|underway|busy|on)"
    r"(?:\s+(?:already|still))?"
    r"|(?:if|when)\s+(?:the\s+)?(?:max(?:imum)?\s+)?(?:concurrency|concurrent\s+runs?)(?:\s+limit)?\s+is"
    r"\s+(?:reached|hit|full)"
)
_INSTEAD = (
    r"(?:instead\s+of|rather\s+than)\s+(?:being\s+|getting\s+)?(?:skipping|dropping|cancell?ing|skip|drop"
    r"|skipped|dropped|cancell?ed)"
    r"(?:\s+(?:them|it|(?:the\s+)?(?:new\s+)?(?:runs?|ones?)))?"
)
_TAIL = rf"(?:\s*,?\s*(?:{_BUSY}|{_INSTEAD})){{0,2}}"
_QUEUE_ON = re.compile(
    rf"(?:\b(?:enable|turn\s+on|switch\s+on|allow|with|use|add|want|keep)\s+(?:run\s+|job\s+)?{_Q}\b"
    rf"|\b{_Q}(?:[._]enabled)?\s*(?:[:=]\s*|\s+)(?:on|true|enabled|yes)\b(?!\s+(?:failure|success|start|the|a)\b)"
    rf"|\bqueue\s+(?:it|them|(?:(?:the|any|new|extra|overlapping|later|additional)\s+)*runs?"
    rf"|(?:the\s+)?(?:next|new)\s+one|the\s+(?:rest|others|extras?))\b(?:\s+up\b)?"
    rf"|\b(?:runs?|it|they|new\s+runs|the\s+(?:next|new)\s+(?:run|one))\s+(?:should|must|will|can|to)\s+"
    rf"(?:be\s+queued|queue(?:\s+up)?|wait\s+in\s+(?:the\s+)?(?:queue|line))\b){_TAIL}",
    re.I,
)
_QUEUE_OFF = re.compile(
    rf"(?:\b(?:don'?t|do\s+not|never|no|disable|turn\s+off|switch\s+off|without|stop|no\s+more)\s+"
    rf"(?:run\s+|job\s+)?{_Q}(?:\s+(?:runs?|it|them|up))?\b"
    rf"|\b{_Q}(?:[._]enabled)?\s*(?:[:=]\s*|\s+)(?:off|false|disabled|no)\b"
    rf"|\b(?:skip|drop)\s+(?:it|the\s+(?:new\s+)?run|new\s+runs|runs)\s+(?:instead\s+of|rather\s+than)\s+"
    rf"{_Q}(?:\s+(?:it|them))?)"
    rf"(?:\s*,?\s*(?:{_BUSY}|(?:and\s+|just\s+)*skip\s+(?:it|them|the\s+(?:new\s+)?runs?)(?:\s+instead)?)){{0,2}}",
    re.I,
)


def _queue(scan: Scan, pol: Policy) -> None:
    """ "queue runs instead of skipping them", "don't queue" → queue.enabled (QueueSettings needs it)."""
    off = scan.take(_QUEUE_OFF)
    on = scan.take(_QUEUE_ON)
    if not (on or off):
        return
    pol.queue = bool(on) and not off
    if pol.queue:
        pol.assumptions.append(
            "Queueing on: a run that cannot start yet (max concurrent runs reached) waits instead of "
            "being skipped."
        )
    else:
        pol.assumptions.append(
            "Queueing off: a run that cannot start yet (max concurrent runs reached) is skipped."
        )


# ------------------------------------------------------------------------------- long-run warnings
_UNTIL_NOW = (
    r"(?:(?:is\s+|are\s+)?still\s+(?:running|going|not\s+(?:done|finished))"
    r"|(?:is|isn'?t|is\s+not|are|aren'?t|not)\s+(?:done|finished|complete)"
    r"|(?:hasn'?t|has\s+not|didn'?t|doesn'?t|does\s+not|did\s+not)\s+(?:finish(?:ed)?|complete[ds]?|end(?:ed)?))"
)
_MORE = r"(?:(?:for\s+)?(?:longer|more)\s+th[ae]n|(?:for\s+)?over|past|beyond|>=?)"  # "longer then": a slip
_THRESHOLD = (
    rf"\b(?:(?:takes?|taking|took|runs?|running|ran|goes|going|go|lasts?|lasting|is\s+running)\s+{_MORE}"
    rf"|(?:(?:has|have|'s)\s+)?been\s+(?:running|going)\s+(?:for\s+)?(?:{_MORE}\s*)?"
    rf"|exceeds?|exceeding|(?:hits|reaches|passes|crosses)\s+(?:the\s+)?"
    rf"|{_UNTIL_NOW}\s+(?:after|at|by|within|in|past|beyond|(?:longer|more)\s+than))\s*(?P<d>{DURATION})"
    r"(?:\s+mark)?"
)
# "alert me at 90 minutes", "ping ops@x.io after 3h" (addresses are blank in the masked text)
_AT = (
    rf"\b(?:warn|alert|notify|ping|page|e-?mail|tell)\s+(?:(?:me|us|and|or|,)\s*|\s)*(?:at|after|past)\s+"
    rf"(?:the\s+)?(?P<d3>{DURATION})(?:\s+mark)?"
)
_EXPLICIT = (
    rf"\b(?:(?:run\s*)?duration|run\s*time|runtime|long[-\s]running|slow[-\s]run|(?:duration\s+)?warning)\s+(?:warning|alert"
    rf"|threshold|notification)s?\s*(?:at|of|after|for|over|:|=|>|is|if\s+over)?\s*(?P<d2>{DURATION})"
    rf"|\bRUN_DURATION_SECONDS\s*(?:>|greater\s+than|GREATER_THAN)\s*(?P<n>\d+)\b"
)
_WARN = re.compile(
    r"\b(?:warn(?:ing|s)?|alert(?:s|ing)?|notify|ping|page|e-?mail|mail|message|tell|flag|nudge|inform"
    r"|send\s+(?:me\s+|us\s+)?(?:an?\s+)?(?:warning|alert|e-?mail|notification|heads[-\s]?up|ping|note)s?"
    r"|send\s+(?:it|them|that|those)(?=\s+to\b)"
    r"|(?:give|send)\s+me\s+an?\s+(?:heads[-\s]?up|warning|shout)|let)\b",
    re.I,
)
_KILL = re.compile(
    r"\b(?:kill|cancel|abort|terminate|(?:stop|fail)\s+(?:it|the\s+(?:run|job))|time[-\s]?out|times\s+out)\b",
    re.I,
)
_JOIN = re.compile(r",|;|\b(?:and|but|or|then|also|plus)\b", re.I)
_SIZE = {"b": 1, "bytes": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_COUNT = r"(?P<c>\d+(?:\.\d+)?)\s*(?:(?P<k>k|m|thousand|million)(?![a-z]))?\s*"  # "10 MB" is not 10M bytes
_BACKLOG = re.compile(
    r"\b(?:streaming\s+)?backlog\s+(?:is\s+|goes\s+|gets\s+|grows\s+|of\s+)?(?:(?:longer|more|bigger|larger"
    r"|greater)\s+than|over|above|exceeds?|past|beyond|>=?|hits|reaches)\s*"
    rf"(?:{_COUNT}(?P<unit>records|rows|messages|events|offsets|files|bytes|[kmgt]?b)\b|(?P<d>{DURATION}))",
    re.I,
)
_THOUSANDS = {"k": 1000, "thousand": 1000, "m": 1000**2, "million": 1000**2}
_BACKLOG_METRIC = {"files": "STREAMING_BACKLOG_FILES", "bytes": "STREAMING_BACKLOG_BYTES"}


def _warnings(scan: Scan, pol: Policy, requester_email: str | None) -> None:
    """ "warn ops@x.io if a run takes longer than 2 hours" → a health rule plus who is e-mailed.

    A warning never stops the run (that is a timeout). A threshold with no warning verb near it, or with
    a stop verb (kill, cancel, time out) in its clause, is left to the timeout grammar or reported.
    """
    for m in scan.find(_BACKLOG):
        _one(scan, pol, m, *_backlog(m), requester_email)
    for m in scan.find(f"{_EXPLICIT}|{_THRESHOLD}|{_AT}"):
        if any(r["metric"] == "RUN_DURATION_SECONDS" for r in pol.health):
            return  # one duration rule per job: a second threshold stays unread (and is reported)
        value = int(m.group("n")) if m.group("n") else seconds(m.group("d") or m.group("d2") or m.group("d3"))
        explicit = bool(re.match(_EXPLICIT, m.group(0), re.I))
        if value:
            _one(scan, pol, m, "RUN_DURATION_SECONDS", value, requester_email, explicit=explicit)


def _backlog(m: re.Match[str]) -> tuple[str, int | None]:
    if m.group("d"):
        return "STREAMING_BACKLOG_SECONDS", seconds(m.group("d"))
    unit = m.group("unit").lower()
    count = number(m.group("c")) or 0
    count *= _THOUSANDS.get((m.group("k") or "").lower(), 1)
    if unit in _SIZE:
        return "STREAMING_BACKLOG_BYTES", int(count * _SIZE[unit])
    return _BACKLOG_METRIC.get(unit, "STREAMING_BACKLOG_RECORDS"), int(count)


def _one(
    scan: Scan,
    pol: Policy,
    m: re.Match[str],
    metric: str,
    value: int | None,
    requester_email: str | None,
    *,
    explicit: bool = True,
) -> None:
    """One threshold: its warning verb is looked for in its clause, then in the clauses either side."""
    if not value:
        return
    parts = _parts(scan.masked, m.start(), m.end())
    here = next(p for p in parts if p[0] <= m.start() < p[1])
    joins = [j for j in _JOIN.finditer(scan.masked, *here) if j.end() <= m.start() or j.start() >= m.end()]
    lo = max([j.end() for j in joins if j.end() <= m.start()] or [here[0]])
    hi = min([j.start() for j in joins if j.start() >= m.end()] or [here[1]])
    if _KILL.search(scan.masked, lo, hi):  # "kill it if it runs over 3h": a timeout
        return
    at = _WARN.match(scan.masked, m.start()) if m.groupdict().get("d3") else None
    verb = at or _verb(scan, parts, here, m)
    if verb is None and not explicit:
        return
    if verb is None:  # "duration warning at 2h to ops@x.io"
        who, spans = _recipients(scan, m.end(), requester_email, after_to=True)
    else:
        me = [requester_email] if re.search(r"\bme\b", verb.group(0), re.I) else []
        who, spans = _recipients(scan, verb.end(), requester_email)
        if at and not who:  # "alert at 30m to ops@x.io": the recipients follow the threshold
            who, spans = _recipients(scan, m.end(), requester_email, after_to=True)
        who = me + who
        said = scan.masked[min(verb.start(), m.start()) : max(verb.end(), m.end(), *(e for _, e, _ in spans))]
        if _OTHER_EVENTS.search(said):  # "e-mail me on failure or if it runs over 2h": read by notify too
            spans = []
        else:
            spans.append((verb.start(), verb.end(), None))
    scan.consume(*m.span())
    for start, end, entity in spans:
        scan.consume(start, end)
        if entity is not None:
            entity.used = True
    _rule(pol, metric, value, who)


def _rule(pol: Policy, metric: str, value: int, who: list[str | None]) -> None:
    backlog = metric.startswith("STREAMING")
    pol.health.append({"metric": metric, "op": "GREATER_THAN", "value": value})
    event = "on_streaming_backlog_exceeded" if backlog else "on_duration_warning_threshold_exceeded"
    what = _describe(metric, value)
    if None in who:
        pol.questions.append(f"Who should get the warning when {what} (“me” is not known to me here)?")
    known = list(dict.fromkeys(w for w in who if w))
    if known:
        listed = pol.warn.setdefault(event, [])
        listed.extend(w for w in known if w not in listed)
        told = f"{', '.join(known)} {'is' if len(known) == 1 else 'are'} e-mailed"
    else:
        told = "no one is e-mailed (say who to warn)"
    stop = "" if backlog else " — the run is not stopped (say “time out after …” for that)"
    pol.assumptions.append(f"Warning when {what}: {told}{stop}.")
    if backlog:
        pol.assumptions.append("Streaming backlog rules (Public Preview) apply only to streaming tasks.")


_OTHER_EVENTS = re.compile(
    "|".join(EVENTS.values()) + r"|\bfinish(?:es|ed)?\b|\bcomplet(?:es?|ed|ion)\b|\bdone\b|\bends?\b",
    re.I,
)


def _verb(scan: Scan, parts: list[tuple[int, int]], here: tuple[int, int], m: re.Match[str]):
    """The warning verb nearest before the threshold in its clause, else after it, else in the next
    or previous clause when that clause names no other run event."""
    found = [
        w
        for w in _WARN.finditer(scan.masked, *here)
        if _know(scan, w) and (w.end() <= m.start() or w.start() >= m.end())  # not "duration warning"
    ]
    ahead = [w for w in found if w.end() <= m.start()]
    if ahead or found:
        return (ahead or found)[-1 if ahead else 0]
    after = [p for p in parts if p[0] >= here[1]][:1]
    before = [p for p in parts if p[1] <= here[0]][-1:]
    for lo, hi in after + before:
        if _OTHER_EVENTS.search(scan.masked, lo, hi):
            continue
        found = [w for w in _WARN.finditer(scan.masked, lo, hi) if _know(scan, w)]
        if found:
            return found[0]
    return None


def _know(scan: Scan, verb: re.Match[str]) -> bool:
    """ "let" warns only as "let <who> know"."""
    if verb.group(0).lower() != "let":
        return True
    return bool(re.match(r"\s*(?:\S+\s*(?:,|\band\b|&)?\s*){1,4}?know\b", scan.text[verb.end() :], re.I))


def _recipients(
    scan: Scan, pos: int, requester_email: str | None, *, after_to: bool = False
) -> tuple[list[str | None], list[tuple[int, int, Entity | None]]]:
    """The addresses (and "me") right after `pos`: "warn ops@x.io and me if …"."""
    who: list[str | None] = []
    spans: list[tuple[int, int, Entity | None]] = []
    if after_to:
        to = re.match(r"\s*(?:(?:to|for)\b|->|→|=>|:)", scan.masked[pos:], re.I)
        if not to:
            return who, spans
        spans.append((pos, pos + to.end(), None))
        pos += to.end()
    emails = {e.start: e for e in scan.of("email")}
    while True:
        sep = re.match(r"(?:[\s,&/+]|\b(?:and|or|to|the)\b)*", scan.text[pos:], re.I)
        at = pos + sep.end()
        if at in emails:
            e = emails[at]
            who.append(e.value)
            spans.append((e.start, e.end, e))
            pos = e.end
            continue
        me = re.match(r"(?:me|myself)\b", scan.masked[at:], re.I)
        if not me:
            break
        who.append(requester_email)
        spans.append((at, at + me.end(), None))
        pos = at + me.end()
    know = re.match(r"\s*know\b", scan.masked[pos:], re.I)
    if know:  # "let ops@x.io know"
        spans.append((pos, pos + know.end(), None))
    return who, spans


def _parts(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """The comma-separated parts of the sentence around [start, end)."""
    stops = [m.end() for m in re.finditer(r"[.!?](?=\s|$)|[;\n]", masked)]
    lo = max([s for s in stops if s <= start] or [0])
    hi = min([s for s in stops if s >= end] or [len(masked)])
    cuts = [lo, *(lo + c.end() for c in re.finditer(r",", masked[lo:hi])), hi]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _describe(metric: str, value: int) -> str:
    if metric == "RUN_DURATION_SECONDS":
        return f"a run takes longer than {human(value)}"
    unit = {
        "STREAMING_BACKLOG_SECONDS": human(value),
        "STREAMING_BACKLOG_BYTES": f"{value} bytes",
        "STREAMING_BACKLOG_RECORDS": f"{value} records",
        "STREAMING_BACKLOG_FILES": f"{value} files",
    }[metric]
    return f"the streaming backlog exceeds {unit}"


__all__ = ["PERMISSIONS_NOTE", "Policy", "parse_policy"]
