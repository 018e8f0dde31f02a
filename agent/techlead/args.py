"""Parameters that follow a task: "with args --date today --full", "with param env=prod", "(env=prod)".

Read right after each anchor and before the schedule grammar, so "--mode daily"-style values are not
mistaken for schedules when they are quoted or follow their flag.
"""

from __future__ import annotations

import json
import re
import shlex

from agent.techlead.options import KV, kv_pairs
from agent.techlead.scan import Scan, ValuesShown
from agent.techlead.tasks import Anchor

_KV_HEAD = (
    r"^[\s,:]*(?:(?:with|using|passing|pass|and\s+pass|taking)\s+(?:the\s+|these\s+)?"
    r"(?:(?:base|notebook|task|widget|sql|query)[\s_-]+)?(?:param(?:eter)?s?|arguments?|args?|widgets?"
    r"|inputs?|values?)?"
    r"|(?:param(?:eter)?s?|arguments?|args?|widgets?))\s*[:=]?\s*"
)
_KV_LIST = rf"(?P<items>(?:{KV})(?:\s*(?:,|;|\band\b|&)?\s*(?:{KV.replace('?P<', '?P<x')}))*)"
_ARG_HEAD = (
    r"^[\s,:]*(?:(?:with|using|passing|pass|and\s+pass|taking)\s+(?:the\s+)?(?:cli\s+|command[\s-]line\s+)?"
    r"(?:arguments?|args?|parameters?|params?|flags?|options?)\b\s*[:=]?\s*|(?:with\s+)?(?=--?[A-Za-z])"
    r"|with\s+(?=[\"'\[])|(?:and\s+)?(?:passing|pass)\s+(?=--?[A-Za-z]|[\"'\[])"
    r"|(?:arguments?|args?|parameters?|params?|flags?)(?:\s*[:=]\s*|\s+(?=--?[A-Za-z]|[\"'\[])))"
)
# Arguments named further on in a script's clause: an explicit word for them is needed there.
_LATER_ARGS = re.compile(
    r"(?<![\w-])(?:(?:with|using|passing|pass|taking|and\s+pass)\s+(?:the\s+)?(?:cli\s+|command[\s-]line\s+)?"
    r"(?:arguments?|args?|flags?)\b|(?:arguments?|args?)\s*[:=]|(?:arguments?|args?|passing)\s+(?=--?[A-Za-z]|[\"'\[]))",
    re.I,
)
_STRONG_STOP = {
    "then",
    "every",
    "each",
    "on",
    "at",
    "and",
    "using",
    "with",
    "retry",
    "retries",
    "email",
    "notify",
    "tag",
    "tags",
    "in",
    "daily",
    "nightly",
    "hourly",
    "weekly",
    "monthly",
    "after",
    "before",
    "when",
    "timeout",
    "time",
    "run",
    "runs",
    "schedule",
    "please",
    "pls",
    "->",
    "→",
    "followed",
    "once",
    "if",
    "allow",
    "max",
    "use",
    "tagged",
    "alert",
    "job",
    "also",
    "plus",
    "but",
    "so",
    "to",
    "for",
    "the",
    "a",
    "an",
    "it",
    "this",
    "that",
    "from",
    "of",
    "is",
    "should",
    "will",
    "make",
    "send",
    "via",
    "under",
}


_LEADING = re.compile(
    r"\b(?:pass|passing|set|use|give|send|add)\s+(?:the\s+)?(?:(?:param(?:eter)?s?|args?|widgets?)\s+)?"
    + _KV_LIST
    + r"\s+(?:to|for|on|into|in)\s+(?:the\s+)?(?:notebook\s+|task\s+|script\s+)?$",
    re.I,
)


def read_tails(scan: Scan, anchors: list[Anchor]) -> None:
    """Attach each anchor's trailing parameters to its task body (and blank them)."""
    with ValuesShown(scan):
        for i, a in enumerate(anchors):
            _read_tail(scan, anchors, i, a)


def _read_tail(scan: Scan, anchors: list[Anchor], i: int, a: Anchor) -> None:
    """One anchor's parameters: a lead-in before it ("pass env=prod to …") or a tail after it."""
    lead = _LEADING.search(scan.masked[anchors[i - 1].end if i else 0 : a.start])
    if lead and a.kind in ("notebook", "sql", "run_job", "pipeline", "wheel", "python"):
        offset = anchors[i - 1].end if i else 0
        scan.consume(offset + lead.start(), offset + lead.end())
        _set_pairs(a, kv_pairs(lead.group("items")))
    end = anchors[i + 1].start if i + 1 < len(anchors) else len(scan.masked)
    tail = scan.masked[a.end : end]
    cut = re.search(r"[.;\n](?:\s|$)|\bthen\b|->|→", tail)
    if cut:
        tail = tail[: cut.start()]
    if a.kind in ("python", "wheel"):
        args, used = _args(tail)
        skip = 0
        if not args:  # "… every sunday at 3am with arguments --epochs 10": said later in the clause
            later = _LATER_ARGS.search(tail)
            if later:
                skip = later.start()
                args, used = _args(tail[skip:])
        if args:
            scan.consume(a.end + skip, a.end + skip + used)
            _set_args(a, args)
            return
    m = re.match(_KV_HEAD + _KV_LIST, tail, re.I) or re.match(r"^\s*\((?P<items>[^)]*=[^)]*)\)", tail)
    if not m or not m.group("items").strip():
        return
    pairs = kv_pairs(m.group("items"))
    if not pairs:
        return
    scan.consume(a.end, a.end + m.end())
    _set_pairs(a, pairs)


def _set_pairs(a: Anchor, pairs: dict[str, str]) -> None:
    field = {
        "notebook": ("notebook_task", "base_parameters"),
        "sql": ("sql_task", "parameters"),
        "run_job": ("run_job_task", "job_parameters"),
        "pipeline": ("pipeline_task", "parameters"),
    }.get(a.kind)
    if field:
        a.body[field[0]].setdefault(field[1], {}).update(pairs)
    elif a.kind == "wheel":
        a.body["python_wheel_task"].setdefault("named_parameters", {}).update(pairs)
    elif a.kind == "python":
        a.body["spark_python_task"]["parameters"] = [f"{k}={v}" for k, v in pairs.items()]


def _args(tail: str) -> tuple[list[str], int]:
    """Command-line arguments at the start of `tail`, and how many characters they used."""
    head = re.match(_ARG_HEAD, tail, re.I)
    if not head:
        return [], 0
    rest = tail[head.end() :]
    listed = re.match(r"\s*(\[[^\]]*\])", rest)
    if listed:
        try:
            values = json.loads(listed.group(1).replace("'", '"'))
            return [str(v) for v in values], head.end() + listed.end()
        except ValueError:
            pass
    out: list[str] = []
    pos = 0
    tokens = list(re.finditer(r"\"[^\"]*\"|'[^']*'|\S+", rest))
    for i, m in enumerate(tokens):
        token = m.group(0)
        quoted = token[0] in "\"'"
        bare = token.rstrip(",").lower()
        if not quoted and (
            token in ("-", "--", "—") or token.startswith("-") and not re.match(r"--?[A-Za-z]", token)
        ):
            break
        after_flag = bool(out) and re.fullmatch(r"--?[A-Za-z][\w.-]*", out[-1]) is not None
        if not quoted and not token.startswith("-") and _ends(bare, tokens[i + 1 : i + 2], after_flag):
            break
        value = shlex.split(token)[0] if quoted else token.rstrip(",")
        out.append(value)
        pos = m.end()
        if token.endswith(","):
            break
    return out, head.end() + pos


_WEAK = {"a", "an", "the", "it", "this", "that", "to", "for", "from", "of", "is"}
_SCHEDULE_WORD = re.compile(
    r"\d{1,2}(?::\d\d)?\s*(?:am|pm)|\d{1,2}:\d\d|week(?:day|end)s?"
    r"|(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?s?"
    r"|noon|midnight|tonight|twice|serverless|[\U0001F300-\U0001FAFF\u2600-\u27BF]+|thanks|thx|ty|cheers",
    re.I,
)


def _ends(word: str, following: list[re.Match[str]], after_flag: bool = False) -> bool:
    """Whether a bare word ends an argument list: a clause or schedule word ("then", "daily", "at", "5pm").

    Articles and prepositions end it only before more prose ("… for the nightly run"), so "a b c" stays;
    a day or time right after a flag is its value ("--day mon").
    """
    if word in _STRONG_STOP and word not in _WEAK:
        return True
    if not after_flag and _SCHEDULE_WORD.fullmatch(word.rstrip("!.?")):
        return True
    if word not in _WEAK:
        return False
    nxt = following[0].group(0).rstrip(",").lower() if following else ""
    return not nxt or not (len(nxt) <= 2 or nxt.startswith("-") or re.search(r"[\d=_./]", nxt))


def _set_args(a: Anchor, args: list[str]) -> None:
    if a.kind == "python":
        a.body["spark_python_task"]["parameters"] = args
        return
    named = _named(args)
    if named is not None:
        a.body["python_wheel_task"]["named_parameters"] = named
    else:
        a.body["python_wheel_task"]["parameters"] = args


def _named(args: list[str]) -> dict[str, str] | None:
    """["--env", "prod", "--day=mon"] → {"env": "prod", "day": "mon"}; None unless all arguments pair up."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        token = args[i]
        m = re.fullmatch(r"(?:--?)?([A-Za-z_][\w.-]*)=(.*)", token)
        if m:
            out[m.group(1)] = m.group(2)
            i += 1
        elif token.startswith("-") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            out[token.lstrip("-")] = args[i + 1]
            i += 2
        else:
            return None
    return out or None
