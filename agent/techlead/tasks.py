"""What the job runs: every notebook, file, wheel, SQL, dbt, pipeline or job named becomes an anchor.

An anchor remembers where it sits in the text, so `chain` can read the words between anchors
("then", "in parallel", "after both") and `args` can read what follows each one (its parameters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.techlead.naming import RUN_VERBS
from agent.techlead.scan import Entity, Scan, basename

_STOP_IDS = {
    "then",
    "and",
    "every",
    "with",
    "after",
    "before",
    "on",
    "at",
    "in",
    "to",
    "the",
    "that",
    "which",
    "it",
    "id",
    "daily",
    "nightly",
    "hourly",
    "weekly",
    "called",
    "named",
    "for",
    "full",
    "refresh",
    "task",
    "job",
}
_WORKSPACE = re.compile(r"(?i)^/(?:Repos|Workspace|Users|Shared)/")
_DBT_CMDS = (
    r"(?:deps|run-operation\s+[\w.-]+|run|test|build|seed|snapshot|compile|docs\s+generate|source\s+freshness"
    r"|clean|debug|parse|ls|list)"
)
_FLAGS = (
    r"(?:\s+--?[\w-]+(?:[\s=]+(?!dbt\b|then\b|and\b|on\b|in\b|with\b|every\b|at\b|using\b)"
    r"[^\s,;-][^\s,;]*)?)*"
)


@dataclass
class Anchor:
    kind: str  # notebook | python | wheel | sql | dbt | pipeline | run_job
    start: int
    end: int
    body: dict  # task fields other than task_key, depends_on and compute
    hint: str  # task key before de-duplication
    label: str  # how to name it in a sentence
    key: str = ""
    missing: list[str] = field(default_factory=list)  # questions for required pieces not given
    source: str = ""  # what identifies it in an existing job (path, pipeline id, job id)


def find_anchors(scan: Scan) -> tuple[list[Anchor], list[str]]:
    """All task anchors in text order, plus assumptions made while reading them."""
    notes: list[str] = []
    anchors: list[Anchor] = []
    anchors += _run_jobs(scan)
    anchors += _pipelines(scan, notes)
    anchors += _dbt(scan, notes)
    anchors += _wheels(scan, notes)
    anchors += _queries(scan)
    anchors += _paths(scan, notes)
    anchors.sort(key=lambda a: a.start)
    return anchors, notes


def _run_jobs(scan: Scan) -> list[Anchor]:
    out = []
    for m in scan.find(
        rf"\b{RUN_VERBS}\s+(?P<rest>(?:the\s+|another\s+|other\s+|downstream\s+|a\s+)?(?:\w+\s+)?"
        r"job(?:[\s_-]*id)?\s*#?\s*(?P<id>\d{1,19})\b)|(?P<rest2>\brun_job\s*[:=]?\s*(?P<id2>\d+))"
    ):
        start = m.start("rest") if m.group("rest") else m.start("rest2")
        scan.consume(start, m.end())
        job_id = int(m.group("id") or m.group("id2"))
        out.append(
            Anchor(
                "run_job",
                start,
                m.end(),
                {"run_job_task": {"job_id": job_id}},
                f"run_job_{job_id}",
                f"job {job_id}",
                source=str(job_id),
            )
        )
    return out


def _pipelines(scan: Scan, notes: list[str]) -> list[Anchor]:
    out = []
    rx = (
        r"(?P<full>\bfull(?:y)?[\s-]+refresh(?:es|ing)?\s+(?:of\s+)?)?(?:\b(?:refresh|update|run|trigger"
        r"|start)\s+)?(?:the\s+)?"
        r"(?:\b(?:dlt|lakeflow|delta\s+live\s+tables?|sdp|ldp|declarative"
        r"|spark\s+declarative)\s+)?\bpipeline\s*(?:id\s*)?"
        r"[:=#]?\s*[`'\"]?(?P<id>[\w-]+)[`'\"]?"
        r"(?P<full2>\s+(?:with\s+(?:a\s+)?|as\s+a\s+|in\s+)?full[\s-]+refresh(?:\s+mode)?)?"
    )
    for m in scan.find(rx):
        pid = m.group("id")
        if pid.lower() in _STOP_IDS:
            continue
        scan.consume(*m.span())
        body: dict = {"pipeline_id": pid}
        if m.group("full") or m.group("full2"):
            body["full_refresh"] = True
        if not re.search(r"\d", pid):
            notes.append(f"Took “{pid}” as the pipeline id (pipeline_task needs the id, not the name).")
        out.append(
            Anchor(
                "pipeline",
                m.start(),
                m.end(),
                {"pipeline_task": body},
                "pipeline",
                f"pipeline {pid}",
                source=pid,
            )
        )
    return out


def _queries(scan: Scan) -> list[Anchor]:
    out = []
    for m in scan.take(
        r"\b(?:sql\s+)?(?:saved\s+)?query\s*(?:id\s*)?[:=#]?\s*[`'\"]?(?P<id>[0-9a-f]{4,}(?:-[0-9a-f]+)*|"
        r"[\w-]*\d[\w-]*)[`'\"]?"
    ):
        qid = m.group("id")
        out.append(
            Anchor(
                "sql",
                m.start(),
                m.end(),
                {"sql_task": {"query": {"query_id": qid}}},
                f"query_{qid[:40]}",
                f"query {qid}",
                source=qid,
            )
        )
    return out


def _dbt(scan: Scan, notes: list[str]) -> list[Anchor]:
    out = []
    cmd = rf"(?:dbt\s+)?{_DBT_CMDS}{_FLAGS}"
    rx = (
        rf"\b(?:(?:run|execute)\s+)?(?:the\s+)?dbt(?:\s+(?:commands?"
        rf"|steps?))?\s*[:=]?\s*(?P<cmds>{cmd}(?:\s*(?:,|and|then|&|\+|followed\s+by|;)\s*{cmd})*)?"
        r"(?:\s+(?:project|models?))?"
    )
    for m in scan.find(rx):
        if not m.group(0).strip():
            continue
        text = m.group("cmds") or ""
        cmds = [
            f"dbt {c.strip()}"
            for c in re.split(
                r"\s*(?:,|\band\b|\bthen\b|&|\+|\bfollowed\s+by\b|;)\s*(?:dbt\s+)?",
                re.sub(r"^dbt\s+", "", text.strip()),
            )
            if c.strip()
        ]
        start, end = m.start(), m.end()
        scan.consume(start, end)
        body: dict = {}
        if not cmds:
            cmds = ["dbt deps", "dbt run"]
            notes.append("No dbt commands given: dbt deps, then dbt run.")
        body["commands"] = cmds[:10]
        project = _nearby_path(
            scan,
            start,
            end,
            r"(?:project|dir(?:ectory)?|folder|repo|in|from|at)\s*(?:dir(?:ectory)?|folder)?\s*(?:is|:"
            r"|=)?\s*$",
        )
        if project:
            start, end = min(start, project.start), max(end, project.end)
        else:  # e.g. "project /Repos/x" on a line of its own, answering the question below
            project = _introduced_path(
                scan, r"\b(?:dbt\s+)?project(?:\s+(?:dir(?:ectory)?|folder|path))?\s*(?:is|:|=|at|in)?\s*$"
            )
        missing = []
        if project:
            body["project_directory"] = project.value
        else:
            missing.append(
                "Where is the dbt project? Reply with its workspace path, e.g. “project /Repos/team/dbt”."
            )
        for name in ("catalog", "schema"):
            v = scan.take_one(rf"\b{name}\s*(?:[:=]|is)?\s*[`'\"]?(?P<v>[A-Za-z_][\w-]*)")
            if v:
                body[name] = v.group("v")
        base = basename(project.value) if project else ""
        hint = base if "dbt" in base.lower() else (f"dbt_{base}" if base else "dbt")
        out.append(
            Anchor(
                "dbt",
                start,
                end,
                {"dbt_task": body},
                hint,
                "the dbt project",
                missing=missing,
                source=project.value if project else "dbt",
            )
        )
    return out


def _introduced_path(scan: Scan, before_rx: str) -> Entity | None:
    """An unused path anywhere that `before_rx` introduces ("project /Repos/x" answering a question)."""
    for e in scan.of("path"):
        if re.search(before_rx, scan.masked[max(0, e.start - 30) : e.start], re.I):
            e.used = True
            return e
    return None


def _nearby_path(scan: Scan, start: int, end: int, before_rx: str) -> Entity | None:
    """The unused path right after a span (a few words on), or one `before_rx` introduces just before it."""
    for e in scan.of("path"):
        if end <= e.start <= end + 40 and re.fullmatch(r"[\s\w:,-]*", scan.masked[end : e.start]):
            e.used = True
            return e
    for e in scan.of("path"):
        if (
            e.end <= start
            and start - e.end <= 40
            and re.search(before_rx, scan.masked[max(0, e.start - 30) : e.start], re.I)
        ):
            e.used = True
            return e
    return None


def _wheels(scan: Scan, notes: list[str]) -> list[Anchor]:
    out = []
    files = [e for e in scan.of("path") + scan.of("url") if e.value.lower().endswith(".whl")]
    for m in scan.find(r"\b(?:python\s+)?(?:wheel|whl)\b|\bentry[\s_-]?point\b"):
        if any(a.start <= m.start() < a.end for a in out) or not scan.masked[m.start() : m.end()].strip():
            continue
        lo, hi = max(0, m.start() - 60), m.end() + 120
        window = scan.masked[lo:hi]
        cut = re.search(r"[.;\n]|\bthen\b|->|→", window[m.start() - lo :])
        if cut:
            window = window[: m.start() - lo + cut.start()]
        pkg = re.search(
            r"\bpackage(?:[\s_-]*name)?\s*(?:=|:|is|called|named)?\s*[`'\"]?(?P<p>[A-Za-z][\w.-]*)",
            window,
            re.I,
        ) or re.search(
            r"\b(?:wheel|whl)\s+(?:package\s+)?[`'\"]?"
            r"(?P<p>(?!package\b|task\b|with\b|entry\b|file\b)[A-Za-z][\w.-]*?)"
            r"[`'\"]?(?=[:\s,;.]|$)",
            window,
            re.I,
        )
        entry = re.search(
            r"\bentry[\s_-]?point\s*(?:=|:|is|called|named|of|function)?\s*[`'\"]?(?P<e>[A-Za-z_][\w.]*)",
            window,
            re.I,
        ) or re.search(
            r"\b(?:wheel|whl)\s+(?:package\s+)?[`'\"]?[A-Za-z][\w-]*[:](?P<e>[A-Za-z_]\w*)", window, re.I
        )
        file = next((f for f in files if lo - 40 <= f.start <= hi and not f.used), None)
        spans = [(lo + x.start(), lo + x.end()) for x in (pkg, entry) if x] + [(m.start(), m.end())]
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        if not entry:  # the answer to an earlier question may stand on a line of its own
            entry = scan.take_one(
                r"(?<![\w-])entry[\s_-]?point\s*(?:=|:|is|called|named|of|function)?\s*[`'\"]?(?P<e>[A-Za-z_][\w.]*)"
            )
        body: dict = {}
        package = pkg.group("p") if pkg else (basename(file.value).split("-")[0] if file else None)
        missing = []
        if package:
            body["package_name"] = package
        else:
            missing.append("Which Python package does the wheel task run (its package_name)?")
        if entry:
            body["entry_point"] = entry.group("e")
        else:
            missing.append(f"Which entry point of the wheel{' ' + package if package else ''} should run?")
        anchor = Anchor(
            "wheel",
            start,
            end,
            {"python_wheel_task": body},
            package or "wheel",
            f"wheel {package or ''}".strip(),
            missing=missing,
            source=package or "",
        )
        if file:
            file.used = True
            anchor.body["libraries"] = [{"whl": file.value}]
            anchor.end = max(anchor.end, file.end)
        scan.consume(anchor.start, anchor.end)
        out.append(anchor)
    for f in files:
        if not f.used:  # a bare .whl path: the package is its file name's first part
            f.used = True
            package = basename(f.value).split("-")[0]
            out.append(
                Anchor(
                    "wheel",
                    f.start,
                    f.end,
                    {"python_wheel_task": {"package_name": package}, "libraries": [{"whl": f.value}]},
                    package,
                    f"wheel {package}",
                    missing=[f"Which entry point of the wheel {package} should run?"],
                    source=package,
                )
            )
    return out


def _paths(scan: Scan, notes: list[str]) -> list[Anchor]:
    out = []
    for e in scan.of("path") + scan.of("url"):
        value, low = e.value, e.value.lower()
        before = scan.masked[max(0, e.start - 25) : e.start].lower()
        if low.endswith(".sql"):
            out.append(
                Anchor(
                    "sql",
                    e.start,
                    e.end,
                    {"sql_task": {"file": {"path": value}}},
                    basename(value),
                    value,
                    source=value,
                )
            )
        elif low.endswith(".py") and "notebook" not in before:
            out.append(
                Anchor(
                    "python",
                    e.start,
                    e.end,
                    {"spark_python_task": {"python_file": value}},
                    basename(value),
                    value,
                    source=value,
                )
            )
        elif low.endswith(".jar"):
            notes.append(f"{value}: JAR tasks are not supported by this parser; left out.")
        elif _WORKSPACE.match(value) and not re.search(r"\.(ya?ml|json|txt|csv|parquet|whl|md)$", low):
            out.append(
                Anchor(
                    "notebook",
                    e.start,
                    e.end,
                    {"notebook_task": {"notebook_path": value}},
                    basename(value),
                    value,
                    source=value,
                )
            )
        else:
            continue
        e.used = True
    return out


def assign_keys(anchors: list[Anchor], taken: set[str]) -> None:
    """Task keys from basenames, unique and within [\\w\\-.]{1,100}."""
    used = set(taken)
    for a in anchors:
        if a.key:
            continue
        key = re.sub(r"[^\w\-.]", "_", a.hint)[:100] or "task"
        candidate, n = key, 2
        while candidate in used:
            candidate = f"{key[:95]}_{n}"
            n += 1
        a.key = candidate
        used.add(candidate)


def find_warehouses(scan: Scan) -> list[tuple[int, str]]:
    """(position, warehouse id) for every warehouse named."""
    found = []
    stop = {"the", "a", "sql", "serverless", "pro", "shared", "id", "and", "then", "every", "with", "on"}
    for m in scan.find(
        r"\b(?:sql\s+|serverless\s+|pro\s+)?warehouse(?:[\s_-]*id)?\s*(?:[:=]|is)?\s*"
        r"[`'\"]?(?P<w>[\w-]+)[`'\"]?"
        r"|\b(?:on|using|via|against|in)\s+(?:the\s+)?[`'\"]?(?P<w2>[\w-]+)[`'\"]?\s+(?:sql\s+)?warehouse\b"
    ):
        w = m.group("w") or m.group("w2")
        if w.lower() in stop:
            continue
        scan.consume(*m.span())
        found.append((m.start(), w))
    return found
