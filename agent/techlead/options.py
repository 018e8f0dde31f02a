"""Run policy words: retries, timeout, concurrency, job parameters and tags (run-as: see `policy`).

Read (and blanked) before the schedule grammar, because "retry every 10 minutes" and "time out after
2 hours" would otherwise read as schedules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.numbers import DURATION, NUM, human, integer, seconds
from agent.techlead.scan import Scan, ValuesShown

_UNSET = object()
KV = r"(?P<k>[A-Za-z_][\w.-]*)\s*(?:=|:)\s*(?P<v>\"[^\"]*\"|'[^']*'|\{\{[^}]*\}\}|[^\s,;]+)"
_STOP = re.compile(
    r"\b(?:then|every|daily|nightly|hourly|weekly|monthly|on|at|and\s+(?:run|email|notify|retry|tag|"
    r"time|use|schedule|make|send|alert)|retry|retries|timeout|time\s+out|email|notify|tag|tags|"
    r"use|using|schedule|with\s+a|in\s+parallel|after|before|if|when|please|pls|thanks)\b",
    re.I,
)


@dataclass
class Options:
    max_retries: int | None = None
    retry_interval_ms: int | None = None
    retry_on_timeout: bool | None = None
    retry_span: tuple[int, int] | None = None  # where the retry count was said (to find a task it names)
    retry_who: str | None = None  # "retry the ingest task 3 times"
    timeout_seconds: object = _UNSET  # int, or None for "no timeout"
    max_concurrent_runs: int | None = None
    parameters: list[dict] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)

    @property
    def timeout_said(self) -> bool:
        return self.timeout_seconds is not _UNSET


def parse_options(scan: Scan) -> Options:
    opts = Options()
    _retry_on_timeout(scan, opts)
    _timeout(scan, opts)
    _retries(scan, opts)
    _concurrency(scan, opts)
    with ValuesShown(scan):
        _tags(scan, opts)
        _job_parameters(scan, opts)
    return opts


_TIMED_OUT = (
    r"(?:(?:it|the\s+(?:run|task|job)|a\s+(?:run|task)|runs?|tasks?|they)\s+)?(?:times?\s+out|timed[-\s]?out"
    r"|time[-\s]?outs?|hits?\s+(?:the|a|its)\s+time[-\s]?out)"
)
_NO_DURATION = rf"(?!\s*(?:after|of|at|is|=|:|in)?\s*(?:{DURATION}|\d))"  # "times out after 2h": a timeout
# "when it times out", "on timeouts too", "including when it times out" (a retry said in the clause)
_ON_TIMEOUT = re.compile(
    rf"\b(?P<neg>(?:but\s+)?(?:not|never|don'?t\s+retry|do\s+not\s+retry)\s+)?(?:(?:including|incl\.?|even"
    rf"|also|and|as\s+well\s+as|plus)\s+)?(?:(?:when|if|on|after|upon|for|whenever)\s+(?:a\s+)?){_TIMED_OUT}"
    rf"(?:\s+(?:too|as\s+well|also))?\b(?P<bare>{_NO_DURATION})?",
    re.I,
)


def _retry_on_timeout(scan: Scan, opts: Options) -> None:
    m = scan.take_one(
        r"\bretry[_\s]on[_\s]timeouts?\s*(?:[:=]\s*)?(?P<v>true|false|yes|no)?\b"
        r"|\b(?:also\s+)?retry\s+(?:timeouts|timed[-\s]?out\s+(?:runs?|tasks?))\b"
        r"|\b(?:time[-\s]?outs?|timed[-\s]?out\s+(?:runs?|tasks?))\s+(?:should|must|will|can)\s+(?:also\s+)?be"
        r"\s+retried\b"
    )
    if m:
        opts.retry_on_timeout = (m.group("v") or "true").lower() in ("true", "yes")
        return
    for m in scan.find(_ON_TIMEOUT):
        clause = re.split(r"[.;\n]", scan.masked[: m.start()])[-1]
        if re.search(r"\bretr(?:y|ies|ied|ying)\b", clause, re.I):
            if m.group("bare") is not None:  # with a duration it is left for the timeout grammar too
                scan.consume(*m.span())
            opts.retry_on_timeout = not m.group("neg")
            return


def _timeout(scan: Scan, opts: Options) -> None:
    if scan.take(
        r"\b(?:no|without(?:\s+a)?|remove|drop|disable|kill|delete|clear|get\s+rid\s+of|turn\s+off)\s+"
        r"(?:the\s+)?time-?\s?outs?\b"
    ):
        opts.timeout_seconds = None
        return
    m = scan.take_one(
        rf"\b(?:(?:hard|strict)\s+)?(?:time[-\s]?out|times\s+out|timing\s+out|(?:kill|cancel|fail|stop|terminate|end)\s+(?:it|the\s+"
        rf"(?:run|job)|runs|them)|abort(?:\s+it)?)\b[^.;\n\d]{{0,40}}?(?P<d>{DURATION})"
        rf"|\b(?:max(?:imum)?\s+(?:run\s*time|duration|runtime)|run\s*time\s+limit|time\s+limit"
        rf"|duration\s+limit"
        rf"|limit\s+(?:it|runs?)\s+to)\s*(?:of|:|=|is)?\s*"
        rf"(?P<d2>{DURATION})"
        rf"|(?P<d3>{DURATION})[ \t-]+(?:time[-\s]?out|run\s*time\s+limit|time\s+limit)\b"
    )
    if m:
        secs = seconds(m.group("d") or m.group("d2") or m.group("d3"))
        if secs:
            opts.timeout_seconds = secs


def _retries(scan: Scan, opts: Options) -> None:
    if scan.take(
        r"\b(?:no|don'?t|do\s+not|never|disable|remove(?:\s+the)?|without|turn\s+off)\s+(?:auto-?)?"
        r"(?:retr(?:y|ies)|retrying)\b"
    ):
        opts.max_retries = 0
    m = scan.find(
        rf"\bretr(?:y|ies)\b(?P<gap>[^.;\n,]{{0,30}}?)\b(?P<kw>every|each|after|waiting|with\s+an?|spaced"
        rf"|wait)\s+"
        rf"(?P<d>{DURATION})(?:\s+(?:between|apart|in\s+between|gap|delay|interval))?"
        rf"|(?P<d2>{DURATION})\s+(?:between\s+(?:retries|attempts|tries)|apart|retry\s+(?:interval|delay"
        rf"|backoff))"
        rf"|\bretry\s+(?:interval|delay|backoff|wait)\s*(?:of|:|=|is)?\s*(?P<d3>{DURATION})"
    )
    if m:
        d = m[0].group("d") or m[0].group("d2") or m[0].group("d3")
        secs = seconds(d)
        if secs:
            opts.retry_interval_ms = secs * 1000
            start = m[0].start("kw") if m[0].group("d") else m[0].start()
            scan.consume(start, m[0].end())
    m = scan.take_one(
        rf"\bretr(?:y|ies)\s+(?:it\s+|them\s+|the\s+tasks?\s+|(?:each|every)(?:\s+(?:task|one|step))?\s+|failed\s+tasks?\s+"
        rf"|failures\s+"
        rf"|on\s+failure\s+|if\s+it\s+fails\s+|everything\s+|all(?:\s+(?:the\s+)?tasks|\s+of\s+them)?\s+"
        rf"|the\s+job\s+|(?:the\s+)?(?P<who>[A-Za-z][\w.-]*)\s+(?:task|notebook|step)\s+)?(?:up\s+to\s+|at\s+most\s+|max(?:imum)?\s+(?:of\s+)?)?(?:[:=]|\()?\s*"
        rf"(?P<n>{NUM}|once|twice)\s*(?:times?|x\b|attempts?)?(?:\s*\))?"
        rf"|\b(?:max(?:imum)?[_\s]retries|retry\s+count|retries)\s*(?:of|:|=|to|is|\()\s*"
        rf"(?P<n2>\d+|none|zero|no|off)\b(?:\s*\))?"
        rf"|\b(?P<n3>{NUM}|an?|one)\s+(?:more\s+)?(?:retr(?:y|ies)|retry\s+attempts?|re-?tries)\b"
        rf"|\b(?P<n4>{NUM})\s+(?P<att>attempts|tries)\b"
    )
    if m:
        token = (m.group("n") or m.group("n2") or m.group("n3") or m.group("n4")).lower()
        n = {"a": 1, "an": 1, "one": 1}.get(token) or integer(token) or 0
        opts.retry_span, opts.retry_who = m.span(), m.group("who")
        if m.group("att"):
            n = max(n - 1, 0)
            opts.assumptions.append(f"{m.group(0).strip()} = 1 run + {n} retr{'y' if n == 1 else 'ies'}.")
        opts.max_retries = n
        return
    if scan.take(
        r"\bretry\s+(?:forever|indefinitely|until\s+it\s+succeeds|unlimited|endlessly)\b"
        r"|\bunlimited\s+retries\b"
        r"|\bkeep\s+(?:on\s+)?retrying\b(?:[^.;\n]{0,60}?\buntil\s+it\s+(?:works|succeeds|passes|goes\s+through)\b)?"
        r"|\bretry\b[^.;\n]{0,60}?\buntil\s+it\s+(?:works|succeeds|passes|goes\s+through)\b"
    ):
        opts.max_retries = -1
        return
    m = scan.take_one(
        r"\b(?:add|with|enable|turn\s+on|some|allow)\s+(?:an?\s+|some\s+)?(?P<w>retr(?:y|ies))\b"
        r"|\bretr(?:y|ies)\s+(?:on\s+failure|if\s+it\s+fails|when\s+it\s+fails|failed\s+tasks?|failures)\b"
        r"|\b(?P<w2>retr(?:y|ies))\b"
    )
    if m and opts.max_retries is None:
        opts.retry_span = m.span()
        plural = (m.group("w") or m.group("w2") or "retry").lower() == "retries"
        opts.max_retries = 3 if plural else 1
        opts.assumptions.append(
            f"“{m.group(0).strip()}” with no count: {opts.max_retries} retr"
            f"{'ies' if plural else 'y'} per task."
        )


def _concurrency(scan: Scan, opts: Options) -> None:
    if scan.take(
        r"\bnever\s+(?:run\s+)?(?:two|2)\s+(?:runs\s+)?at\s+(?:once|the\s+same\s+time)\b"
        r"|\b(?:no|don'?t\s+allow|without)\s+(?:concurrent|overlapping|parallel|simultaneous)\s+runs\b"
        r"|\b(?:don'?t|do\s+not|never)\s+(?:let\s+(?:it|runs)\s+|allow\s+(?:runs\s+to\s+)?)?"
        r"(?:overlap|run\s+concurrently|run\s+in\s+parallel\s+with\s+itself)\b"
        r"|\b(?:only\s+)?one\s+run\s+at\s+a\s+time\b|\bonly\s+one\s+(?:active\s+)?run\b"
        r"|\bno\s+overlap(?:ping)?\b"
        r"|\bsingle\s+concurrent\s+run\b|\bno\s+concurrency\b"
    ):
        opts.max_concurrent_runs = 1
        return
    m = scan.take_one(
        rf"\bmax(?:imum)?[_\s]concurrent[_\s]runs\s*(?:of|:|=|to|is)?\s*(?P<n>\d+)"
        rf"|\b(?:allow|permit|up\s+to|max(?:imum)?(?:\s+of)?|at\s+most|limit\s+(?:to"
        rf"|of)?)?\s*(?P<n2>{NUM})\s+"
        rf"(?:concurrent|parallel|simultaneous|overlapping)\s+runs?\b"
        rf"|\b(?:allow|permit|up\s+to|at\s+most|max(?:imum)?)\s+(?P<n3>{NUM})\s+runs?\s+(?:at\s+once"
        rf"|at\s+a\s+time|"
        rf"in\s+parallel|concurrently|simultaneously|at\s+the\s+same\s+time)\b"
        rf"|\bconcurrency\s*(?:of|:|=|to|limit(?:\s+of)?)?\s*(?P<n4>\d+)"
    )
    if m:
        opts.max_concurrent_runs = integer(m.group("n") or m.group("n2") or m.group("n3") or m.group("n4"))


def kv_pairs(text: str) -> dict[str, str]:
    """ "env=prod, region = eu and date: today" → {"env": "prod", ...}"""
    return {m.group("k"): _value(m.group("v")) for m in re.finditer(KV, text)}


def _value(v: str) -> str:
    """A typed value: quotes removed, sentence punctuation after a bare value dropped."""
    return v[1:-1] if v[:1] in "\"'" and v[-1:] == v[:1] else v.rstrip(".!?)")


ITEM = (
    rf"{KV}|(?P<n>[A-Za-z_][\w.-]*)\s+(?:with\s+)?(?:a\s+)?(?:default(?:s|ing)?(?:\s+value)?|=)\s*"
    r"(?:(?:to|of|is)\s+|[=:]\s*)?(?P<d>\"[^\"]*\"|'[^']*'|\{\{[^}]*\}\}|[^\s,;]+)"
)


def _list_after(scan: Scan, head: str) -> list[re.Match[str]]:
    """Each `head` followed by a run of key=value pairs (or "name default value" items)."""
    more = ITEM.replace("?P<", "?P<x")
    rx = rf"{head}\s*(?:[:=]\s*)?(?P<items>(?:{ITEM})(?:\s*(?:,|;|\band\b|&|\s)\s*(?:{more}))*)"
    return scan.take(rx)


def _items(text: str) -> list[tuple[str, str]]:
    item = ITEM
    return [
        ((m.group("k") or m.group("n")), _value(m.group("v") or m.group("d")))
        for m in re.finditer(item, text)
    ]


def _job_parameters(scan: Scan, opts: Options) -> None:
    head = (
        r"\b(?:(?:add\s+|with\s+)?(?:an?\s+)?job[\s_-]+param(?:eter)?s?"
        r"|(?:with\s+|add\s+)?(?:the\s+)?param(?:eter)?s?)"
    )
    for m in _list_after(scan, head):
        for name, default in _items(m.group("items")):
            opts.parameters = [p for p in opts.parameters if p["name"] != name] + [
                {"name": name, "default": default}
            ]


def _tags(scan: Scan, opts: Options) -> None:
    head = r"\b(?:tag(?:ged|s)?|label(?:led|s)?)(?:\s+(?:it|the\s+job|this\s+job|them|with|as))*"
    for m in _list_after(scan, head):
        opts.tags.update(kv_pairs(m.group("items")))
    for m in scan.take(
        r"\btag(?:ged)?\s+(?:it\s+|the\s+job\s+)?(?:with\s+|as\s+)?(?P<w>[A-Za-z][\w-]*)\b(?!\s*[=:])"
    ):
        word = m.group("w")
        if word.lower() not in {"it", "the", "with", "as", "and"}:
            opts.tags[word] = ""


def describe_timeout(secs: int) -> str:
    return human(secs)
