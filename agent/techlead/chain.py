"""Task order from the words between anchors: "then" chains, "in parallel" fans out, "after both" joins.

Tasks joined only by "and" / commas / new lines run in the order written unless the request says they are
parallel; that default is reported, since the other reading is just as plausible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.tasks import Anchor

SEQ = re.compile(
    r"\bthen\b|->|→|=>|>>|\bfollowed\s+by\b|\bafter\s+(?:that|this|which|those|these|it)\b|\bafterwards?\b"
    r"|\bnext\b|\bonce\s+(?:that|it|this|those|these|done)\b|\bwhen\s+(?:that|it|this)\b|\bfinally\b"
    r"|\bbefore\b|\bfinish(?:es|ed)?\b|\bcomplet(?:es?|ed)\b|\bsucceeds?\b|\bdone\b|\bsubsequently\b"
    r"|\band\s+later\b|\bstep\s+\d\b|\bfeeds?\s+(?:into\s+)?|(?<![\w.:/])\(?[1-9]\d?\)(?=\s)",
    re.I,
)
PARALLEL = re.compile(
    r"\b(?:in\s+parallel|parallel(?:ly)?|at\s+the\s+same\s+time|simultaneously|concurrently|"
    r"independently|side\s+by\s+side|together|alongside|fan[\s-]?out)\b",
    re.I,
)
_GROUP = (
    r"(?:both|all|them|they|these|those|everything(?:\s+else)?|each\s+of\s+them|the\s+(?:others?|rest|above|"
    r"previous(?:\s+(?:ones?|tasks?|two|three|four))?|first\s+(?:two|three|four|ones?)|two|three|four)"
    r"|(?:all\s+)?(?:two|three|four)\s+of\s+them)(?:\s+(?:of\s+them|tasks?|notebooks?|steps?))?"
)
_LEAD = (
    r"^[\W_]*(?:(?:which|that|and|then)\s+)*(?:(?:should|must|will|can)\s+)?(?:(?:only\s+)?(?:runs?|running"
    r"|go(?:es)?|"
    r"starts?|kicks?\s+off|happens?)\s+)?(?:only\s+)?"
)
AFTER_ALL = re.compile(
    rf"{_LEAD}(?:after|once|when|following|waits?\s+for|waiting\s+for|depends?\s+on)\s+{_GROUP}\b"
    r"(?:\s+(?:are|is|have)\s+)?(?:\s*(?:finish(?:ed|es)?|complete[ds]?|done|succeed(?:ed)?))?",
    re.I,
)
AFTER_NAME = re.compile(
    rf"{_LEAD}(?P<rel>after|once|following|when|waits?\s+for|depends?\s+on|before)\s+(?:the\s+)?"
    r"(?:task\s+|notebook\s+|step\s+)?[`'\"]?(?P<name>[\w.-]+)[`'\"]?(?:\s+(?:task|notebook|step|job))?",
    re.I,
)
REVERSE_END = re.compile(
    r"\b(?:after|once|when|following|depends?\s+on|depending\s+on|waits?\s+for|waiting\s+for)\s+"
    r"(?:the\s+)?(?:(?:notebook|task|script|file|job|query|pipeline|step|wheel)\s+)?$",
    re.I,
)
_NOT_KEYS = {
    "that",
    "this",
    "it",
    "them",
    "those",
    "these",
    "which",
    "all",
    "both",
    "everything",
    "done",
    "finished",
    "success",
    "failure",
    "the",
    "a",
    "an",
    "midnight",
    "noon",
    "hours",
    "minutes",
    "work",
    "lunch",
}
_ENUM = re.compile(r"(?<![\w.:/])\(?[1-9]\d?\)(?=\s)")
JOIN_ONLY = re.compile(r"[\s,&+/]*(?:\b(?:and|or|plus)\b)?[\s,&+/]*", re.I)


@dataclass
class Chain:
    deps: dict[str, list[str]] = field(default_factory=dict)  # task key → keys it waits for
    before: dict[str, list[str]] = field(
        default_factory=dict
    )  # existing task key → new keys it must now wait for
    explicit: set[str] = field(default_factory=set)  # keys whose order the request stated
    notes: list[str] = field(default_factory=list)
    read: list[tuple[int, int]] = field(default_factory=list)  # spans of order words the chain used


def build_chain(
    anchors: list[Anchor], text: str, known: dict[str, str], *, open_names: bool = False
) -> Chain:
    """Dependencies between anchors; `known` maps names a request may use ("ingest") to task keys.

    `open_names`: the job's tasks are not at hand (an update of a named job), so "after ingest" is taken
    to name the task key "ingest" as written.
    """
    out = Chain(deps={a.key: [] for a in anchors})
    if not anchors:
        return out
    out.read += [m.span() for m in PARALLEL.finditer(text)]
    out.read += [m.span() for m in _ENUM.finditer(text, 0, anchors[0].start)]  # "Steps: 1) /a 2) /b"
    keys = [a.key for a in anchors]
    parallel = bool(PARALLEL.search(text)) or any(
        AFTER_ALL.match(text[a.end : b.start if b else len(text)])
        for a, b in zip(anchors, [*anchors[1:], None], strict=True)
    )
    frontier, stage, head = [keys[0]], [], None
    defaulted = []
    for i in range(len(anchors)):
        a = anchors[i]
        gap_end = anchors[i + 1].start if i + 1 < len(anchors) else len(text)
        gap = text[a.end : gap_end]
        gap, placed = _trailing(out, anchors, i, gap, known, open_names)
        at = gap_end - len(gap)  # where the rest of the gap starts in `text`
        if placed and head is None:
            frontier, stage = [a.key], out.deps[a.key]
        if i + 1 == len(anchors):
            break
        nxt = anchors[i + 1].key
        rev = REVERSE_END.search(gap)
        if rev:  # "X after Y": Y is a prerequisite of X
            out.read.append((at + rev.start(), at + rev.end()))
            head = head or a.key
            out.deps[head].append(nxt)
            out.explicit.add(head)
            continue
        if head and JOIN_ONLY.fullmatch(gap):  # "X after Y and Z"
            out.deps[head].append(nxt)
            continue
        if head:
            frontier, stage, head = [head], out.deps[head], None
        if nxt in keys[: i + 1]:  # a task named again ("/a → /b", "/a → /c"): what follows starts from it
            frontier, stage = [nxt], out.deps[nxt]
            continue
        if SEQ.search(gap):
            out.read += [(at + m.start(), at + m.end()) for m in SEQ.finditer(gap)]
            stage = list(frontier)
            out.deps[nxt], frontier = list(stage), [nxt]
            out.explicit.add(nxt)
        elif parallel:
            out.deps[nxt] = list(stage)
            frontier.append(nxt)
            out.explicit.add(nxt)
        else:
            stage = list(frontier)
            out.deps[nxt], frontier = list(stage), [nxt]
            defaulted.append((frontier[0], stage))
    if defaulted:
        order = " → ".join(dict.fromkeys([k for _, s in defaulted for k in s] + [k for k, _ in defaulted]))
        out.notes.append(
            f"Tasks listed with “and” or on separate lines run in the order written ({order}); "
            "say “in parallel” if they are independent."
        )
    return out


def _trailing(
    out: Chain, anchors: list[Anchor], i: int, gap: str, known: dict[str, str], open_names: bool
) -> tuple[str, bool]:
    """Phrases right after anchor i that place it: "after both", "after ingest", "before publish"."""
    key = anchors[i].key
    at = anchors[i].end
    m = AFTER_ALL.match(gap)
    if m:
        out.read.append((at, at + m.end()))
        earlier = [a.key for a in anchors[:i]]
        waited = {d for k in earlier for d in out.deps.get(k, [])}
        out.deps[key] = [k for k in earlier if k not in waited] or earlier
        out.explicit.add(key)
        return gap[m.end() :], True
    m = AFTER_NAME.match(gap)
    if m:
        target = resolve(m.group("name"), {**known, **{a.key: a.key for a in anchors[:i]}})
        if target is None and open_names and m.group("name").lower() not in _NOT_KEYS:
            target = m.group("name")
        if target and target != key:
            if m.group("rel").lower() == "before":
                if target in out.deps:
                    out.deps[target].append(key)
                else:
                    out.before.setdefault(target, []).append(key)
            else:
                out.deps[key].append(target)
            out.explicit.add(key)
            out.read.append((at, at + m.end()))
            return gap[m.end() :], m.group("rel").lower() != "before"
    return gap, False


def resolve(name: str, known: dict[str, str]) -> str | None:
    """A task named in words → its key: exact key, then case-insensitive key or source basename."""
    if name in known:
        return known[name]
    low = name.lower().strip(".")
    for k, v in known.items():
        if k.lower() == low:
            return v
    return None
