"""Control flow: if/else branches (a condition_task) and loops (a for_each_task).

Read once the tasks are found and keyed, and before the chain: a branch waits for its condition's
outcome, not for the task written before it, so branch tasks are kept out of the chain (an else branch
must never become the step after the then branch). Every word read here is consumed; a condition or loop
that cannot be completed asks, and never guesses a task or a value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from agent.techlead.anchor import Anchor
from agent.techlead.build import Draft
from agent.techlead.chain import Chain, build_chain, resolve
from agent.techlead.leftover import FILLER
from agent.techlead.numbers import NUM, integer
from agent.techlead.scan import Scan
from agent.techlead.tasks import assign_keys

_NAME = r"[A-Za-z_][\w-]*"
_REF = r"\{\{\s*[\w.\[\]-]+\s*\}\}"
_T = r"(?:\s+(?:task|notebook|step))?"
_FROM = r"(?:from|of|set\s+by)\s+(?:the\s+)?"
# Where a value comes from: a {{…}} reference, a task's value, a job parameter, or a bare name.
_SOURCE = (
    rf"(?P<ref>{_REF})"
    rf"|(?:the\s+)?(?P<t1>{_NAME}){_T}'s?\s+(?:(?:task\s+)?values?\s+(?:of\s+)?)?(?P<v1>{_NAME})"
    rf"(?:\s+(?:task\s+)?values?)?"
    rf"|(?:the\s+)?(?:task\s+)?values?\s+(?P<v2>{_NAME})\s+{_FROM}(?P<t2>{_NAME}){_T}"
    rf"|(?:the\s+)?(?P<v3>{_NAME})\s+(?:task\s+)?values?\s+{_FROM}(?P<t3>{_NAME}){_T}"
    # "its `status` value", "its task value row_count": a value of the task just before
    rf"|(?:its|their|the)\s+(?:task\s+)?values?\s+`?(?P<v5>{_NAME})`?"
    rf"|(?:its|their|the)\s+`(?P<v6>{_NAME})`(?:\s+(?:task\s+)?values?)?"
    rf"|(?:its|their|the)\s+(?P<v7>{_NAME})\s+(?:task\s+)?values?"
    rf"|(?:the\s+)?(?:job\s+)?param(?:eter)?\s+(?P<p1>{_NAME})"
    rf"|(?:the\s+)?(?P<p2>{_NAME})\s+(?:job\s+)?param(?:eter)?\b"
    rf"|(?P<t4>{_NAME})\.(?P<v4>{_NAME})"
    rf"|(?:the\s+)?`?(?P<bare>{_NAME})`?"
)
_OPS = (
    (
        "GREATER_THAN_OR_EQUAL",
        r">=|≥|(?:is\s+)?(?:greater|more|bigger|larger|higher)\s+than\s+or\s+equal(?:\s+to)?"
        r"|(?:is\s+)?at\s+least|(?:is\s+)?(?:not|no)\s+(?:less|fewer|lower)\s+than",
    ),
    (
        "LESS_THAN_OR_EQUAL",
        r"<=|≤|(?:is\s+)?(?:less|smaller|lower|fewer)\s+than\s+or\s+equal(?:\s+to)?"
        r"|(?:is\s+)?at\s+most|(?:is\s+)?(?:not|no)\s+(?:more|greater|higher|bigger)\s+than",
    ),
    (
        "NOT_EQUAL",
        r"!=|<>|≠|(?:is\s+)?not\s+equal(?:s|\s+to)?|is\s+not|isn't|isnt|(?:does\s+not|doesn'?t)\s+equal"
        r"|is\s+different\s+(?:from|than)",
    ),
    (
        "GREATER_THAN",
        r">|(?:is\s+)?(?:greater|more|bigger|larger|higher)\s+than|(?:is\s+)?(?:above|over)|exceeds",
    ),
    ("LESS_THAN", r"<|(?:is\s+)?(?:less|smaller|lower|fewer)\s+than|(?:is\s+)?(?:below|under)"),
    ("EQUAL_TO", r"===|==|=|equals|(?:is\s+)?equal\s+to|is"),
)
_OP = "|".join(rf"(?P<{op.lower()}>(?:{rx})(?![\w=<>]))" for op, rx in _OPS)
_NEGATE = {
    "EQUAL_TO": "NOT_EQUAL",
    "NOT_EQUAL": "EQUAL_TO",
    "GREATER_THAN": "LESS_THAN_OR_EQUAL",
    "LESS_THAN_OR_EQUAL": "GREATER_THAN",
    "LESS_THAN": "GREATER_THAN_OR_EQUAL",
    "GREATER_THAN_OR_EQUAL": "LESS_THAN",
}
_SIGN = {
    "EQUAL_TO": "==",
    "NOT_EQUAL": "!=",
    "GREATER_THAN": ">",
    "GREATER_THAN_OR_EQUAL": ">=",
    "LESS_THAN": "<",
    "LESS_THAN_OR_EQUAL": "<=",
}
_RIGHT = (
    rf"(?P<rref>{_REF})|(?P<rq>\"[^\"\n]*\"|'[^'\n]*')|(?P<rnum>-?\d+(?:\.\d+)?)(?!\w|\.\d)"
    r"|(?P<rword>[A-Za-z_][\w-]*)"
)
_LEAD = (
    r"\b(?P<lead>(?:but\s+)?only\s+(?:if|when)|if|when(?:ever)?|unless|in\s+case|as\s+long\s+as"
    r"|provided(?:\s+that)?|cond(?:ition)?\s*:|(?P<check>(?:check|verify|test|see)\s+(?:whether|if|that)))\s+"
)
_CONDITION = re.compile(rf"{_LEAD}(?P<left>{_SOURCE})\s*(?P<op>{_OP})\s*(?P<right>{_RIGHT})", re.I)
# Words that never name a value to compare ("if it fails", "when this is done").
_NOT_VALUES = {
    "it", "this", "that", "they", "there", "so", "not", "job", "run", "runs", "task", "tasks", "the", "a",
    "everything", "anything", "something", "nothing", "all", "any", "today", "time", "you", "we", "i",
}  # fmt: skip
# Right-hand words too vague to compare against as text ("if row_count is empty").
_VAGUE = {
    "empty", "null", "none", "nil", "missing", "blank", "set", "unset", "done", "finished", "ready", "late",
    "there", "present", "available", "the", "a", "an", "run", "then", "and", "not", "it", "this", "that",
    "ok", "fine", "good", "bad", "successful", "failed", "broken", "over", "high", "low",
}  # fmt: skip
_IF_SO = re.compile(
    r"^[\s,;:.-]*(?:and\s+|then\s+)?(?:only\s+then|if\s+(?:so|yes|true|it\s+(?:is|does|holds|passes)"
    r"|that'?s\s+(?:true|the\s+case))|when\s+(?:true|so)|in\s+that\s+case)\b[\s,:]*",
    re.I,
)
_ELSE = re.compile(
    r"^[\s,;:.-]*(?:and\s+|but\s+)?(?:othe?rwi[sz]e|else|or\s+else|if\s+not(?:\s+so)?"
    r"|if\s+(?:it'?s\s+)?(?:false|no)|when\s+(?:it'?s\s+)?(?:false|not)|in\s+the\s+other\s+case)\b[\s,:]*",
    re.I,
)
_NOTHING = re.compile(
    r"^\s*(?:do\s+nothing|nothing(?:\s+(?:runs|happens))?|skip(?:\s+(?:it|the\s+rest))?|stop(?:\s+there)?"
    r"|just\s+stop|end\s+there)\b",
    re.I,
)
_VERB = r"(?:(?:just\s+)?(?:run|execute|trigger|call|kick\s+off|launch|do)\s+)?(?:the\s+)?"
_NAMED = re.compile(
    rf"^[\s,:]*(?:then\s+)?{_VERB}(?P<name>{_NAME})(?:\s+(?:task|notebook|step|job))?\b", re.I
)
_NAMED_BEFORE = re.compile(
    rf"\b(?:run|execute|trigger|start|kick\s+off)\s+(?:the\s+)?(?P<name>{_NAME})(?:\s+(?:task|notebook|step))?"
    r"\s*,?\s*$",
    re.I,
)
_AFTER = re.compile(
    rf"\b(?:after|once|following)\s+(?:the\s+)?(?P<name>{_NAME})(?:\s+(?:task|notebook|step))?"
    r"(?:\s+(?:is\s+|has\s+)?(?:done|finish(?:es|ed)?|complete[sd]?|succeed(?:s|ed)?))?\s*[,:-]?\s*$",
    re.I,
)
_BOUNDARY = re.compile(r"[.;](?:\s|$)|\n")
_MEANINGFUL = {"if", "when", "once", "after", "before", "until", "till", "unless", "not", "no", "while"}

# Loops: "for each region in [us, eu]", "loop over {{tasks.list.values.files}}", "run X per region: us, eu".
_LIST_END = (
    r"run|runs|then|and|or|with|using|do|execute|call|every|each|up|at|in|on|for|to|max|concurrency|one|all"
    r"|sequentially|but|please|pls|daily|nightly|hourly|weekly"
)
_ITEM = rf"(?:\"[^\"\n]*\"|'[^'\n]*'|(?!(?:{_LIST_END})\b)[\w@:+-][\w.@:+-]*)"
_INPUTS = (
    rf"(?P<list>\[[^\]\n]*\]|\([^)\n]*\))|(?P<iref>{_REF})"
    rf"|(?:the\s+)?(?P<it>{_NAME}){_T}'s?\s+(?P<iv>{_NAME})(?:\s+(?:task\s+)?values?)?"
    rf"|(?:the\s+)?(?P<iv2>{_NAME})\s+(?:task\s+)?values?\s+{_FROM}(?P<it2>{_NAME}){_T}"
    rf"|(?:the\s+)?(?:job\s+)?param(?:eter)?\s+(?P<ip2>{_NAME})"
    rf"|(?:the\s+)?(?!job\b)(?P<ip>{_NAME})\s+(?:job\s+)?param(?:eter)?\b"
    rf"|(?P<items>{_ITEM}(?:\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*&\s*)\s*{_ITEM})+)"
)
_EACH = r"(?:for\s+(?:each|every|all)|foreach|per)"
_NAMED_AS = rf"(?:of\s+)?(?:the\s+)?(?P<name>{_NAME})(?:\s+(?:in|of|from)\s+|\s*[:=]\s*|\s*(?=[\[(]))"
_NAMED_AS2 = _NAMED_AS.replace("<name>", "<name2>")
# "for each" needs the value's name ("for each region in us, eu") unless a list or reference follows.
_LOOP = re.compile(
    rf"\b(?:{_EACH}\s+(?:{_NAMED_AS}|(?:of\s+)?(?=[\[({{]))"
    rf"|(?:loop(?:ing)?|iterat(?:e|ing))\s+(?:over|through|on)\s+(?:{_NAMED_AS2})?)"
    rf"(?P<inputs>{_INPUTS})",
    re.I,
)
_TIME_UNITS = r"(?:second|minute|hour|day|night|morning|evening|week|weekday|month|year|quarter|time|run)s?"
# "for each region run X" with no list: asked ("run X for each day" is a schedule, not a loop)
_LOOP_NO_LIST = re.compile(
    rf"\b(?:for\s+each|foreach|loop\s+over|iterate\s+over)\s+(?:the\s+)?(?!{_TIME_UNITS}\b)(?P<name>{_NAME})\b",
    re.I,
)
_CONCURRENCY = re.compile(
    rf"\b(?P<one>(?:one|1)\s+(?:at\s+a\s+time|after\s+(?:the\s+)?(?:other|another))|sequentially|in\s+sequence"
    rf"|serially|in\s+series)\b"
    rf"|\b(?:(?:up\s+to|at\s+most|max(?:imum)?(?:\s+of)?)\s+)?(?P<n>{NUM})\s+(?:(?:iterations?|at\s+a\s+time"
    rf"|at\s+once|in\s+parallel|concurrently|simultaneously|parallel|concurrent)\b"
    rf"(?:\s+(?:iterations?|at\s+a\s+time))?)"
    rf"|\b(?:with\s+)?(?:a\s+)?concurrency\s*(?:of|:|=|to|limit(?:\s+of)?)?\s*(?P<n2>\d+)"
    rf"|\b(?P<all>(?:all\s+)?in\s+parallel|all\s+at\s+once|concurrently|simultaneously)\b",
    re.I,
)
_NOT_NAMES = {"the", "a", "an", "of", "these", "those", "them", "it", "one"}
_MAX_CONCURRENCY = 100  # the Jobs API's limit for a for_each_task


@dataclass
class Source:
    """A value a condition compares or a loop goes over, as read; made into settings once keys are known."""

    said: str
    value: str = ""  # a literal, a {{…}} reference or a JSON array
    task: str = ""  # the task whose value it is ("count" in "count's row_count"), as written
    name: str = ""  # the task value's name; with no task, a bare name read from the task just before


@dataclass
class Branching:
    cond: Anchor
    left: Source
    op: str
    right: str
    then: list[Anchor] = field(default_factory=list)
    other: list[Anchor] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)  # a job's existing task named in words → outcome
    after: list[str] = field(default_factory=list)  # "after ingest, check whether …": what it waits for
    end: int = 0  # where the if/else ends in the text


@dataclass
class Loop:
    anchor: Anchor
    inputs: Source
    name: str
    concurrency: int | None
    parallel: bool = False  # "in parallel" with no number


@dataclass
class Flow:
    draft: Draft
    base_tasks: list[dict]
    open_names: bool
    branchings: list[Branching] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)  # (task, condition) → outcome

    def chain(self, anchors: list[Anchor], text: str, known: dict[str, str]) -> Chain:
        """The chain of the tasks outside any branch, each branch chained on its own under its condition."""
        inside = {id(a) for b in self.branchings for a in b.then + b.other}
        trunk = [a for a in anchors if id(a) not in inside]
        branch_keys = {a.key: a.key for a in anchors if id(a) in inside}  # "run /c after a" still names a
        out = build_chain(trunk, text, {**known, **branch_keys}, open_names=self.open_names)
        names = {**known, **{a.key: a.key for a in anchors}}
        for b in self.branchings:
            self._branches(b, trunk, out, text, known)
            self._condition(b, out, names)
        for loop in self.loops:
            self._loop(loop, out, names)
        return out

    def wire(self, tasks: list[dict]) -> None:
        """Branch edges carry their outcome; existing tasks named as branches are changed to wait for it."""
        have = {t["task_key"] for t in tasks}
        for key, cond in self.outcomes:
            if key not in have:
                tasks.append({"task_key": key, "depends_on": [{"task_key": cond}]})
                have.add(key)
        for t in tasks:
            for d in t.get("depends_on", []):
                outcome = self.outcomes.get((t["task_key"], d["task_key"]))
                if outcome:
                    d["outcome"] = outcome

    def _branches(self, b: Branching, trunk: list[Anchor], out: Chain, text: str, known: dict) -> None:
        key = b.cond.key
        sinks: dict[str, list[str]] = {}
        for outcome, arm in (("true", b.then), ("false", b.other)):
            if not arm:
                continue
            sub = build_chain(arm, text, known, open_names=self.open_names)
            keys = {a.key for a in arm}
            for a in arm:
                deps = sub.deps.get(a.key, [])
                if not keys & set(deps):  # first in its branch: waits for the condition
                    deps = [key, *deps]
                    self.outcomes[(a.key, key)] = outcome
                out.deps[a.key] = deps
            out.explicit |= keys
            out.read += sub.read
            out.notes += [n for n in sub.notes if n not in out.notes]
            for k, v in sub.before.items():
                out.before.setdefault(k, []).extend(v)
            waited = {d for k in keys for d in out.deps[k]}
            sinks[outcome] = [a.key for a in arm if a.key not in waited]
        for name, outcome in b.named.items():
            self.outcomes[(name, key)] = outcome
            sinks.setdefault(outcome, []).append(name)
        if not sinks:
            return
        joined = []
        inside = {a.key for a in b.then + b.other} | set(b.named)
        for a in trunk:  # a task after the if/else waits for whichever branch ran
            deps = out.deps.get(a.key, [])
            if a.start >= b.end and key in deps:  # the chain's "in the order written" no longer holds
                out.notes = [n for n in out.notes if f"({key} → {a.key})" not in n]
            if a.start >= b.end and key in deps and inside & set(deps):  # "run /c after a": a alone
                out.deps[a.key] = [d for d in deps if d != key]
            elif a.start >= b.end and key in deps:
                ends = sinks.get("true", []) + sinks.get("false", [key])
                if "false" not in sinks:
                    self.outcomes[(a.key, key)] = "false"
                out.deps[a.key] = list(
                    dict.fromkeys(d for k in out.deps[a.key] for d in (ends if k == key else [k]))
                )
                joined.append(a.key)
        if joined:
            self.draft.assume(
                f"{', '.join(joined)} {_runs(', '.join(joined))} after whichever branch of {key} ran "
                "(a branch not taken is skipped and counts as done)."
            )

    def _condition(self, b: Branching, out: Chain, names: dict[str, str]) -> None:
        key = b.cond.key
        deps = out.deps.setdefault(key, [])
        branch = {a.key for a in b.then + b.other} | set(b.named)
        if not deps and b.named:  # an existing task made conditional: the check takes its place
            old = [
                d["task_key"]
                for t in self.base_tasks
                if t["task_key"] in b.named
                for d in t.get("depends_on", [])
            ]
            deps += [k for k in dict.fromkeys(old) if k not in branch]
        deps += [k for k in b.after if k not in deps]
        left = b.left.value
        if b.left.name:
            task = self._producer(b.left, deps, names, b.cond)
            if task is None:
                return
            if task in branch or task == key:
                b.cond.missing.append(
                    f"{b.left.said} is set by {task}, which runs only after the check; "
                    "which task sets it before?"
                )
                return
            if task not in _ancestors(key, out.deps):
                deps.append(task)
            left = f"{{{{tasks.{task}.values.{b.left.name}}}}}"
            how = f'dbutils.jobs.taskValues.set(key="{b.left.name}", value=…)'
            if b.left.task:
                self.draft.assume(f"{task} must set the task value {b.left.name} with {how}.")
            else:
                self.draft.assume(
                    f"“{b.left.name}” is read as a task value of {task} ({left}): "
                    f"{task} must set it with {how}."
                )
        b.cond.body["condition_task"] = {"op": b.op, "left": left, "right": b.right}
        then = ", ".join([a.key for a in b.then] + [k for k, o in b.named.items() if o == "true"])
        other = ", ".join([a.key for a in b.other] + [k for k, o in b.named.items() if o == "false"])
        said = f"{key}: if {left} {_SIGN[b.op]} {b.right}, {then} {_runs(then)}; otherwise " + (
            f"{other} {_runs(other)}." if other else "nothing after it runs."
        )
        self.draft.assume(said)
        if b.op in ("EQUAL_TO", "NOT_EQUAL") and re.fullmatch(r"-?\d+(?:\.\d+)?", b.right):
            self.draft.assume(f"{_SIGN[b.op]} compares as text: “{b.right}.0” would not equal “{b.right}”.")

    def _producer(self, src: Source, deps: list[str], names: dict[str, str], holder: Anchor) -> str | None:
        """The task whose value `src` reads: the one named, or the single task just before."""
        if src.task:
            task = resolve(src.task, names) or (src.task if self.open_names else None)
            if task is None:
                holder.missing.append(
                    f"{src.said}: there is no task “{src.task}” in the job. Which task sets {src.name}?"
                )
            return task
        if len(deps) == 1:
            return deps[0]
        holder.missing.append(
            f"Which task sets {src.name}? Say e.g. “if the ingest task's value {src.name} > 0” "
            f"(that task must set it with dbutils.jobs.taskValues.set)."
            if not deps
            else f"Which task sets {src.name} ({' or '.join(deps)})? Say e.g. “{deps[0]}'s {src.name}”."
        )
        return None

    def _loop(self, loop: Loop, out: Chain, names: dict[str, str]) -> None:
        a = loop.anchor
        inputs = loop.inputs.value
        if loop.inputs.name:
            deps = out.deps.setdefault(a.key, [])
            task = self._producer(loop.inputs, deps, names, a)
            if task is None:
                return
            if task == a.key:
                a.missing.append(f"{a.label} cannot loop over a value it sets itself; which task sets it?")
                return
            if task not in _ancestors(a.key, out.deps):
                deps.append(task)
            inputs = f"{{{{tasks.{task}.values.{loop.inputs.name}}}}}"
            self.draft.assume(
                f"{task} must set the task value {loop.inputs.name} to a JSON array with "
                f'dbutils.jobs.taskValues.set(key="{loop.inputs.name}", value=[…]).'
            )
        count = len(json.loads(inputs)) if inputs.startswith("[") else None
        concurrency = loop.concurrency
        if loop.parallel:
            if count is None:
                a.missing.append(f"How many iterations of {a.label} may run at once? Say e.g. “5 at a time”.")
                return
            concurrency = min(count, _MAX_CONCURRENCY)
            self.draft.assume(f"“In parallel”: all {count} iterations at once (concurrency {concurrency}).")
        inner = {"task_key": f"{a.key}_iteration"[:100], **a.body}
        passed = _pass_input(inner, loop.name)
        if not passed:
            a.missing.append(
                f"{a.label} takes no parameters, so it cannot be given each {loop.name}; "
                "loop over a notebook, a Python file, a wheel, a SQL file or a job instead."
            )
            return
        a.body = {"for_each_task": {"inputs": inputs, "task": inner}}
        if concurrency is not None:
            a.body["for_each_task"]["concurrency"] = concurrency
        over = loop.inputs.said if count is None else ", ".join(str(v) for v in json.loads(inputs))
        pace = {None: "one at a time", 1: "one at a time"}.get(concurrency, f"{concurrency} at a time")
        self.draft.assume(
            f"{a.key} runs {a.label} once per {loop.name} ({over}), {pace}; each run gets its {loop.name} "
            f"{passed}."
        )
        if concurrency is None:
            self.draft.assume("No concurrency given for the loop: one iteration at a time.")


def hold(scan: Scan) -> list[tuple[int, int]]:
    """Hide comparisons typed with symbols ("if row_count >= 1") until `read_flow`: grammars that read
    before the tasks are found (libraries: "numpy>=1.26") would take them for their own."""
    held = []
    for m in _CONDITION.finditer(scan.masked):
        left, right = _source(m), _right(m)
        if not m.group("op")[0].isalpha() and left and right is not None and not _loose(m, left, right):
            held.append(m.span())
            scan.consume(*m.span())
    return held


def read_flow(
    scan: Scan,
    anchors: list[Anchor],
    draft: Draft,
    base_tasks: list[dict],
    known: dict[str, str],
    open_names: bool,
    held: list[tuple[int, int]],
) -> Flow:
    """Conditions and loops in the request; condition tasks are added to `anchors` in text order."""
    for start, end in held:  # shown again: read here, or reported as not acted on
        scan.masked = scan.masked[:start] + scan.text[start:end] + scan.masked[end:]
    flow = Flow(draft, base_tasks, open_names)
    names = {**known, **{a.key: a.key for a in anchors}}
    _loops(scan, anchors, flow)
    seen = scan.masked
    for m in _CONDITION.finditer(seen):
        if scan.masked[m.start() : m.end()] != seen[m.start() : m.end()]:
            continue  # partly read by an earlier condition
        b = _branching(scan, m, anchors, names, flow)
        if b is None:
            continue
        flow.branchings.append(b)
        anchors.append(b.cond)
        anchors.sort(key=lambda a: (a.start, a.end))
        assign_keys(
            [b.cond], {a.key for a in anchors if a is not b.cond} | {t["task_key"] for t in base_tasks}
        )
        draft.topic("condition", "dependencies")
    if flow.loops:
        draft.topic("for_each")
    return flow


def _branching(
    scan: Scan, m: re.Match[str], anchors: list[Anchor], names: dict, flow: Flow
) -> Branching | None:
    """One condition and its branches; None (nothing consumed) when no branch can be found."""
    op = next(op for op, _ in _OPS if m.group(op.lower()))
    left, right = _source(m), _right(m)
    if left is None or right is None:
        return None
    lead = " ".join(m.group("lead").lower().split())
    if _loose(m, left, right):
        return None  # "if the weather is nice": too loose to be a comparison
    if lead == "unless":
        op = _NEGATE[op]
    masked = scan.masked
    said = " ".join(scan.text[m.start("left") : m.end()].split())
    spans = [m.span()]
    at = m.end()
    so = _IF_SO.match(masked[at:])
    if so:
        at += len(so.group(0).rstrip())  # trailing blanks may be a (blanked) path
        spans.append((m.end(), at))
    elif m.group("check"):
        return None  # "check whether x > 0" says what to do only with "if so …"
    block = bool(re.match(r"\s*:", masked[m.end() :]))
    before = [] if so else _postfix(masked, anchors, m.start())
    then = [] if before and "only" in lead else _arm(masked, anchors, at, block)
    named: dict[str, str] = {}
    pos, end = m.start(), at
    if then:
        end = then[-1].end
    elif before:
        then, pos = before, before[0].start
    else:
        name = _named_after(masked, at, names, flow.open_names) or (
            None if so else _named_before(masked, m.start(), names, flow.open_names)
        )
        if name is None:
            return None
        named[name[0]] = "true"
        spans.append(name[1])
        end = max(end, name[1][1])
    other: list[Anchor] = []
    rest = _ELSE.match(masked[end:])
    if rest:
        at = end + len(rest.group(0).rstrip())
        nothing = _NOTHING.match(masked[at:])
        other = [] if nothing else _arm(masked, anchors, at, block or masked[end:at].rstrip().endswith(":"))
        name = None if nothing or other else _named_after(masked, at, names, flow.open_names)
        if nothing or other or name:
            spans.append((end, at))
        if nothing:
            spans.append((at, at + nothing.end()))
            end = at + nothing.end()
        elif other:
            end = other[-1].end
        elif name:
            named[name[0]] = "false"
            spans.append(name[1])
            end = name[1][1]
        else:
            flow.draft.ask(
                f"What should run when “{said}” is false? A branch must be a task "
                "(e.g. “otherwise run /Repos/team/etl/alert”); “otherwise” is not acted on."
            )
    after = _AFTER.search(masked[max(0, m.start() - 60) : m.start()])
    waits = _known(after.group("name"), names, flow.open_names) if after else None
    if waits:
        spans.append((max(0, m.start() - 60) + after.start(), m.start()))
    for s in spans:
        scan.consume(*s)
    slug = left.name or left.value.strip("{} ").rsplit(".", 1)[-1]
    slug = re.sub(r"\W+", "_", slug).strip("_").lower() or "condition"
    cond_end = pos if pos != m.start() else m.end()  # after a task ("run X only if …"): just before it
    cond = Anchor(
        "condition", pos, cond_end, {"condition_task": {}}, f"check_{slug}"[:100], f"the check “{said}”"
    )
    return Branching(cond, left, op, right, then, other, named, [waits] if waits else [], end)


def _loose(m: re.Match[str], left: Source, right: str) -> bool:
    """A bare word "is" a word: read as a comparison only for a name like row_count or a plain value."""
    if not m.group("op")[0].isalpha() or left.task or left.value or re.search(r"[_\d]", left.name):
        return False
    return not (m.group("rnum") or m.group("rq") or m.group("rref") or right in ("true", "false"))


def _source(m: re.Match[str]) -> Source | None:
    said = " ".join(m.group("left").split())
    if m.group("ref"):
        ref = re.sub(r"\s+", "", m.group("ref"))
        parts = re.fullmatch(r"\{\{tasks\.([\w-]+)\.values\.([\w-]+)\}\}", ref)
        if parts:
            return Source(said, task=parts.group(1), name=parts.group(2))
        return Source(said, value=ref)
    for t, v in (("t1", "v1"), ("t2", "v2"), ("t3", "v3"), ("t4", "v4")):
        if m.group(t):
            if m.group(t).lower() in _NOT_VALUES:
                return None
            return Source(said, task=m.group(t), name=m.group(v))
    param = m.group("p1") or m.group("p2")
    if param:
        return Source(said, value=f"{{{{job.parameters.{param}}}}}")
    named = m.group("v5") or m.group("v6") or m.group("v7")
    if named:
        return Source(said, name=named)
    bare = m.group("bare")
    if bare.lower() in _NOT_VALUES or bare.lower() in FILLER:
        return None
    return Source(said, name=bare)


def _right(m: re.Match[str]) -> str | None:
    """The right operand as the settings hold it; None when it is no value ("if row_count is empty")."""
    if m.group("rref"):
        return re.sub(r"\s+", "", m.group("rref"))
    if m.group("rq"):
        return m.group("rq")[1:-1]
    if m.group("rnum"):
        return m.group("rnum")
    word = m.group("rword")
    if word.lower() in _VAGUE and (m.group("op")[0].isalpha() or word.lower() in FILLER):
        return None
    n = integer(word) if re.fullmatch(NUM, word, re.I) else None
    if n is not None:
        return str(n)
    return word.lower() if word.lower() in ("true", "false") else word


def _arm(masked: str, anchors: list[Anchor], start: int, block: bool) -> list[Anchor]:
    """Anchors from `start` on joined only by filler ("run", "then", "and"); a sentence end stops them."""
    out: list[Anchor] = []
    at = start
    for a in anchors:
        if a.start < start or a.kind == "condition":
            continue
        gap = masked[at : a.start]
        if not _bridge(gap, block) or (not out and re.match(r"^[\s,]*and\b", gap, re.I)):
            break
        out.append(a)
        at = a.end
    return out


def _bridge(gap: str, block: bool) -> bool:
    """Whether two tasks belong to one branch: only filler between them, in one sentence (or block)."""
    if re.search(r"[.;](?:\s|$)", gap) or ("\n" in gap and not block):
        return False
    words = re.findall(r"[A-Za-z][\w']*", gap)
    return all(w.lower() in FILLER and w.lower() not in _MEANINGFUL for w in words)


def _postfix(masked: str, anchors: list[Anchor], at: int) -> list[Anchor]:
    """ "run /x only if …": the task just before the condition is its branch."""
    before = [a for a in anchors if a.end <= at and a.kind != "condition"]
    if before and re.fullmatch(r"[\s,]*(?:but\s+)?", masked[before[-1].end : at]):
        return [before[-1]]
    return []


def _named_after(masked: str, at: int, names: dict, open_names: bool) -> tuple[str, tuple[int, int]] | None:
    """ "if so publish": a task of the job named in words as a branch (never a new task: no path)."""
    m = _NAMED.match(masked[at:])
    if not m or m.group("name").lower() in FILLER:
        return None
    key = _known(m.group("name"), names, open_names)
    return (key, (at + m.start("name"), at + m.end())) if key else None


def _named_before(masked: str, at: int, names: dict, open_names: bool) -> tuple[str, tuple[int, int]] | None:
    """ "only run transform when …": a task of the job named just before the condition."""
    lo = max(0, at - 60)
    m = _NAMED_BEFORE.search(masked[lo:at])
    key = _known(m.group("name"), names, open_names) if m else None
    return (key, (lo + m.start("name"), lo + m.end("name"))) if key else None


def _known(name: str, names: dict, open_names: bool) -> str | None:
    """A task key for a name, or the name itself when the job's tasks are not at hand (a named update)."""
    return resolve(name, names) or (name if open_names and name.lower() not in FILLER else None)


def _loops(scan: Scan, anchors: list[Anchor], flow: Flow) -> None:
    """ "for each region in [us, eu] run X, 3 at a time" → X wrapped in a for_each_task (made in `chain`)."""
    for m in scan.find(_LOOP):
        anchor = _loop_anchor(scan.masked, anchors, m)
        if anchor is None or any(lp.anchor is anchor for lp in flow.loops):
            continue
        inputs = _inputs(m)
        if inputs is None:
            continue
        scan.consume(*m.span())
        name = m.group("name") or m.group("name2")
        name = name if name and name.lower() not in _NOT_NAMES else None
        if name is None:
            name = "input"
            flow.draft.assume("No name for the loop value: each run gets it as the parameter “input”.")
        lo, hi = min(m.start(), anchor.start), max(m.end(), anchor.end)
        stop = _BOUNDARY.search(scan.masked, hi)
        start = max([b.end() for b in _BOUNDARY.finditer(scan.masked, 0, lo)] or [0])
        pace = _CONCURRENCY.search(scan.masked, start, stop.start() if stop else len(scan.masked))
        concurrency, parallel = None, False
        if pace:
            scan.consume(*pace.span())
            if pace.group("one"):
                concurrency = 1
            elif pace.group("all"):
                parallel = True
            else:
                concurrency = integer(pace.group("n") or pace.group("n2"))
                if concurrency is not None and concurrency > _MAX_CONCURRENCY:
                    flow.draft.assume(f"Concurrency {concurrency} is over the limit of 100: 100 at a time.")
                    concurrency = _MAX_CONCURRENCY
        flow.loops.append(Loop(anchor, inputs, name, concurrency, parallel))
    for m in scan.find(_LOOP_NO_LIST):
        anchor = _loop_anchor(scan.masked, anchors, m)
        if anchor is None or any(lp.anchor is anchor for lp in flow.loops):
            continue
        scan.consume(*m.span())
        anchor.missing.append(
            f"What should {anchor.label} loop over for each {m.group('name')}? List the values "
            f"(e.g. “for each {m.group('name')} in [a, b, c]”) or name a task value "
            "(e.g. {{tasks.list_files.values.files}})."
        )
        flow.draft.topic("for_each")


def _loop_anchor(masked: str, anchors: list[Anchor], m: re.Match[str]) -> Anchor | None:
    """The task a loop phrase runs: the next one ("for each … run X") or the one just before ("X per …")."""
    after = next((a for a in anchors if a.start >= m.end()), None)
    if after and _bridge(masked[m.end() : after.start], False):
        return after
    before = [a for a in anchors if a.end <= m.start()]
    if before and re.fullmatch(r"[\s,]*(?:once\s+)?", masked[before[-1].end : m.start()]):
        return before[-1]
    return None


def _inputs(m: re.Match[str]) -> Source | None:
    said = " ".join(m.group("inputs").split())
    if m.group("list"):
        body = m.group("list")
        try:
            values = json.loads(body) if body.startswith("[") else None
        except ValueError:
            values = None
        if not isinstance(values, list):
            values = [v.strip().strip("\"'") for v in re.split(r",|\band\b|\bor\b", body[1:-1])]
        values = [v for v in values if v != ""]
        return Source(said, value=json.dumps(values, separators=(",", ":"))) if values else None
    if m.group("items"):
        values = [
            v.strip().strip("\"'").rstrip(".") for v in re.split(r",|\band\b|\bor\b|&", m.group("items"))
        ]
        return Source(said, value=json.dumps([v for v in values if v], separators=(",", ":")))
    if m.group("iref"):
        ref = re.sub(r"\s+", "", m.group("iref"))
        parts = re.fullmatch(r"\{\{tasks\.([\w-]+)\.values\.([\w-]+)\}\}", ref)
        return Source(said, task=parts.group(1), name=parts.group(2)) if parts else Source(said, value=ref)
    task, name = m.group("it") or m.group("it2"), m.group("iv") or m.group("iv2")
    if task and task.lower() not in _NOT_VALUES:
        return Source(said, task=task, name=name)
    param = m.group("ip") or m.group("ip2")
    if param:
        return Source(said, value=f"{{{{job.parameters.{param}}}}}")
    return None


def _pass_input(task: dict, name: str) -> str:
    """Give the loop's inner task each input as a parameter named `name`; how it is passed, or ""."""
    value = "{{input}}"
    if value in json.dumps(task):  # already passed as typed ("--country {{input}}")
        return "as typed"
    for kind, key in (
        ("notebook_task", "base_parameters"),
        ("sql_task", "parameters"),
        ("run_job_task", "job_parameters"),
        ("python_wheel_task", "named_parameters"),
    ):
        if kind in task:
            if kind == "python_wheel_task" and task[kind].get("parameters"):
                task[kind]["parameters"] += [f"--{name}={value}"]
                return f"as the argument --{name}=<{name}>"
            task[kind].setdefault(key, {})[name] = value
            return f"as the parameter “{name}”"
    if "spark_python_task" in task:
        task["spark_python_task"].setdefault("parameters", []).extend([f"--{name}", value])
        return f"as the arguments --{name} <{name}>"
    return ""


def _runs(keys: str) -> str:
    return "run" if "," in keys else "runs"


def _ancestors(key: str, deps: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(deps.get(key, []))
    while todo:
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo += deps.get(k, [])
    return seen
