"""The job's name, and whether the request changes an existing job (and which one)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.techlead.scan import Scan

RUN_VERBS = (
    r"(?:trigger(?:s|ing)?|run(?:s|ning)?|kick(?:s|ing)?\s+off|start(?:s|ing)?|launch(?:es|ing)?|execute"
    r"|call|invoke|"
    r"fire(?:\s+off)?|chain|then|and|followed\s+by|->|→|=>|after\s+that|finally|next)"
)
_FILLER = (
    r"(?:hey|hi|hello|ok|okay|so|and|now|pls|plz|please|kindly|can\s+you|could\s+you|would\s+you|will\s+you|"
    r"i\s+(?:want|need|would\s+like|'d\s+like)\s+(?:you\s+)?to|let'?s|go\s+ahead\s+and|quick(?:ly)?|bot"
    r"|jobagent)"
)
UPDATE_VERBS = (
    r"(?:update|change|modify|edit|alter|tweak|adjust|reschedule|pause|unpause|resume|rename|fix"
    r"|reconfigure|move|"
    r"switch|set|add|remove|delete|drop|disable|enable|increase|decrease|bump|raise|lower|make|use|also"
    r"|include|"
    r"attach|stop|turn|put|give|retry|email|notify|tag|scale|upgrade|downgrade|double|halve|shift|push"
    r"|replace)"
)
_CREATE = re.compile(
    r"\b(?:create|set\s*up|setup|new\s+job|build|spin\s+up|deploy|"
    r"(?:make|add|schedule|want|need|give\s+me)\s+(?:me\s+)?(?:a|an)\s+(?:new\s+)?(?:(?!(?:to|for|on|of"
    r"|in)\b)\w+\s+){0,2}job)\b",
    re.I,
)
_NAME_STOP = re.compile(
    r"\s+(?:that|which|who|to|with|and|for|runs?|running|run|every|each|at|on|in|from|using|then|should|"
    r"will|please|pls|daily|nightly|hourly|weekly|monthly|so|where|it)\b.*$|\s*(?:\s-|[:|;,])(?:\s.*)?$",
    re.I | re.S,
)
_NOT_NAMES = {
    "it",
    "job",
    "the",
    "this",
    "that",
    "my",
    "our",
    "your",
    "a",
    "an",
    "schedule",
    "cluster",
    "compute",
    "time",
    "timezone",
    "retries",
    "retry",
    "notifications",
    "emails",
    "email",
    "name",
    "trigger",
    "tags",
    "tag",
    "timeout",
    "workers",
    "node",
    "runtime",
    "spark",
    "everything",
    "settings",
    "config",
    "same",
    "new",
    "existing",
    "task",
    "tasks",
    "notebook",
    "to",
    "from",
    "when",
    "how",
    "its",
    "them",
    "all",
    "databricks",
    "one",
    "jobs",
    "cron",
    "frequency",
    "parameters",
    "params",
    "owner",
    "size",
    "concurrency",
    "timing",
    "hours",
    "hour",
    "day",
    "days",
    "cadence",
    "alerts",
    "alert",
    "description",
    "things",
    "stuff",
    "both",
    "nodes",
    "memory",
    "version",
    "dbr",
    "permissions",
    "warehouse",
    "start",
    "run",
    "runs",
    "output",
    "recipients",
    "notification",
    "me",
    "us",
    "interval",
    "period",
    "limit",
    "max",
    "up",
    "back",
    "over",
    "on",
    "off",
    "out",
    "in",
    "here",
    "there",
}


def _q(prefix: str = "") -> str:
    """A quoted name; `prefix` keeps group names unique when several appear in one pattern."""
    return rf"(?P<{prefix}q>[\"'`])(?P<{prefix}name>[^\"'`\n]{{1,100}})(?P={prefix}q)"


_Q = _q()


@dataclass
class Naming:
    name: str | None = None  # the job name to set (create) or the new name (rename)
    job_ref: int | str | None = None
    update: bool = (
        False  # the request certainly changes an existing job (a job named, a rename, a thread's job)
    )
    changing: bool = (
        False  # it opens with a change verb ("make it…", "add…"): a change unless it brings tasks
    )
    create: bool = False  # the request explicitly asks for a new job
    maybe_ref: bool = False  # "job named X …" with no create verb: X is the job to change if nothing runs

    def as_ref(self) -> None:
        """Read the name as the job the request changes (nothing to run was given)."""
        self.job_ref, self.name, self.update = self.name, None, True


def parse_naming(scan: Scan, has_base: bool) -> Naming:
    out = Naming(create=bool(_CREATE.search(scan.masked)))
    head = re.match(rf"^\W*(?:{_FILLER}\W+)*(?P<v>{UPDATE_VERBS})\b", scan.text, re.I)
    changing = has_base or (bool(head) and not out.create)
    out.changing = changing
    out.job_ref = _job_ref(scan, changing or not out.create, changing)
    rename = scan.find(
        rf"\b(?:rename|re-name)\s+(?:it|the\s+job|this(?:\s+job)?)?\s*(?:to|as|into)\s+(?:{_Q}"
        rf"|(?P<bare>{_BARE}))"
        rf"|\b(?:change|set|update)\s+(?:the\s+|its\s+)?(?:job\s+)?name\s+(?:to|as|=)\s+"
        rf"(?:{_q('r')}|(?P<rbare>{_BARE}))"
    )
    if rename:
        m = rename[0]
        out.name = _take(scan, m, next(g for g in ("name", "rname", "bare", "rbare") if m.group(g)))
        out.update = True
    if out.name is None:
        m = scan.take_one(
            rf"\b(?:called|named|titled|name\s+it|call\s+it|name\s*[:=]|job\s+name\s*(?:[:=]|is|of)?)\s*{_Q}"
            rf"|\bjob\s+{_q('j')}"
            rf"|\b(?:create|set\s*up|setup|make|build|new)\s+(?:me\s+)?(?:an?\s+)?(?:new\s+)?(?:job\s*:?\s*)?"
            rf"{_q('s')}"
        )
        if m:
            out.name = (m.group("name") or m.group("jname") or m.group("sname")).strip()
        else:
            found = scan.find(
                rf"\b(?:called|named|titled|name\s+it|call\s+it|name\s*[:=]|job\s+name\s*(?:[:=]|is)?"
                rf"|name(?=\s+[A-Za-z][\w.]*[-_\d]))\s+"
                rf"(?P<bare>{_BARE})|^\W*job\s*:[ \t]?(?P<jbare>{_BARE})"
            )
            if found:
                out.name = _take(scan, found[0], "bare" if found[0].group("bare") else "jbare")
            else:
                out.name = _after_create(scan) or _heading(scan)
    if has_base or out.job_ref is not None:
        out.update = True
    elif out.name and not out.create and not rename:
        named = rf"\bjob\s+(?:called|named)\s+[`'\"]?{re.escape(out.name)}"
        out.maybe_ref = bool(re.search(named, scan.text, re.I))
    if changing and not has_base and out.job_ref is None and out.name and not rename:
        # "update the job called X": X names the target
        out.job_ref, out.name, out.update = out.name, None, True
    return out


_BARE = r"[A-Za-z0-9][\w.\-/]*(?:[ \t]+[\w.\-/]+){0,6}"
_MAKE = (
    r"\b(?:create|set\s*up|setup|make|build|define|add|new)\s+(?:me\s+)?(?:an?\s+|the\s+)?(?:new\s+)?"
    r"(?:(?:databricks|workflow|scheduled)\s+)?"
)
# A one-word name right after "create job" / "new job:", ended by punctuation ("create job x-y: …")
_CREATE_BARE = re.compile(
    _MAKE + r"job\b(?:[ \t]*[:-])?[ \t]{0,2}(?P<name>[A-Za-z0-9][\w.-]*[A-Za-z0-9_]|[A-Za-z])"
    r"(?=[ \t]*(?:[:;,\n|]|\.(?:\s|$)| - |$))",
    re.I,
)
_NOT_BARE = {
    "please",
    "pls",
    "plz",
    "for",
    "with",
    "that",
    "which",
    "where",
    "thanks",
    "now",
    "here",
    "steps",
}


def _after_create(scan: Scan) -> str | None:
    m = scan.find(_CREATE_BARE)
    if not m or m[0].group("name").lower() in _NOT_NAMES | _NOT_BARE:
        return None
    scan.consume(*m[0].span("name"))
    return m[0].group("name")


_HEADING = re.compile(r"^\W*(?P<name>[A-Za-z][\w.]*[-_][\w.-]*[A-Za-z0-9])\s*:(?=\s)")


def _heading(scan: Scan) -> str | None:
    """ "orders-pipeline: first /a then /b": a name-like word heading the request names the job."""
    m = scan.find(_HEADING)
    if not m or m[0].group("name").lower() in _NOT_NAMES:
        return None
    scan.consume(*m[0].span())
    return m[0].group("name")


def _take(scan: Scan, m: re.Match[str], group: str) -> str | None:
    """Consume a name match but only up to where the name really ends (stop words give the rest back)."""
    raw = m.group(group)
    name = _clean(raw) if group in ("bare", "rbare", "jbare") else raw.strip()
    end = m.end()
    if group in ("bare", "rbare", "jbare") and name:
        end = m.start(group) + raw.find(name) + len(name)
    scan.consume(m.start(), end)
    return name


def _clean(name: str | None) -> str | None:
    if not name:
        return None
    name = _NAME_STOP.sub("", name.strip()).strip(" .,!?\"'`")
    return name[:100] or None


_SCHEDULE_JOB = re.compile(
    r"^\W*(?:(?:please|pls|can\s+you|could\s+you)\s+)?schedule[ \t]+(?:the\s+)?(?:job\s+)?[`'\"]?"
    r"(?P<name>[A-Za-z][\w.]*[-_\d][\w.-]*)[`'\"]?(?:\s+job)?"
    r"(?=\s+(?:for|at|every|each|on|to\s+run|daily|nightly|hourly|weekly|monthly|weekdays)\b)",
    re.I,
)
_PREP = r"\b(?:for|on|in|of|to)\s+(?:the\s+)?"


def _job_ref(scan: Scan, changing: bool, verb: bool = True) -> int | str | None:
    """A job id or name the request points at ("update job 123", "change nightly-ingest to …").

    `verb`: the request opens with a change verb; without one, "job named X" names a new job unless a
    preposition points at it ("for the job named X, …").
    """
    if not changing:
        return None
    for m in scan.find(r"\bjob(?:[\s_-]*id)?\s*[#:]?\s*(?P<id>\d{1,19})\b|\bjob\s*#(?P<id2>\d+)"):
        before = scan.masked[max(0, m.start() - 30) : m.start()]
        if re.search(
            rf"{RUN_VERBS}\s+(?:the\s+|another\s+|other\s+|downstream\s+|a\s+)?(?:\w+\s+)?$", before, re.I
        ):
            continue  # "then trigger job 456" is a task, not the job to change
        scan.consume(*m.span())
        return int(m.group("id") or m.group("id2"))
    verbs = r"(?:update|change|modify|edit|alter|tweak|adjust|reschedule|pause|unpause|resume|fix|reconfigure"
    verbs += r"|patch)"
    m = scan.find(rf"\b{verbs}\s+(?:the\s+)?(?:job\s+)?{_Q}")
    if m:
        scan.consume(*m[0].span())
        return m[0].group("name").strip()
    for m in scan.find(
        rf"\b{verbs}\s+(?:the\s+)?(?:job\s+)?(?P<name>[A-Za-z][\w.-]*)(?P<job>\s+job\b)?"
        r"(?=(?P<after>\s*\S+)?)"
    ):
        name = m.group("name")
        if name.lower() in _NOT_NAMES:
            continue
        after = (m.group("after") or "").strip().lower()
        if (
            m.group("job")
            or re.search(r"[-_.\d]", name)
            or after in {"", "to", "so", ":", ",", "-", "and", "by"}
        ):
            scan.consume(*m.span())
            return name
    m = scan.find(_SCHEDULE_JOB)  # "schedule nightly-ingest for 7am": only a job's name can be meant
    if m and not re.search(r"\.(?:py|sql|ipynb|whl|jar)$", m[0].group("name"), re.I):
        scan.consume(*m[0].span("name"))
        return m[0].group("name")
    m = scan.find(
        rf"\b(?:for|on|in|of|to)\s+(?:the\s+)?(?:{_Q}|(?P<bare>[A-Za-z][\w.-]*))\s+job\b"
        rf"|{'' if verb else _PREP}\bjob\s+(?:called|named)\s+"
        rf"(?:{_q('c')}|(?P<cbare>[A-Za-z][\w.-]*))"
    )
    for x in m:
        name = x.group("name") or x.group("bare") or x.group("cname") or x.group("cbare")
        if name and name.lower() not in _NOT_NAMES:
            scan.consume(*x.span())
            return name.strip()
    return None
