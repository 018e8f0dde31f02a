"""What the job runs: every notebook, file, wheel, SQL, dbt, pipeline or job named becomes an anchor.

An anchor remembers where it sits in the text, so `chain` can read the words between anchors
("then", "in parallel", "after both") and `args` can read what follows each one (its parameters).
"""

from __future__ import annotations

import re

from agent.techlead.anchor import Anchor
from agent.techlead.naming import RUN_VERBS
from agent.techlead.scan import Entity, Scan, basename
from agent.techlead.sqltasks import find_sql_objects
from agent.techlead.wheel import find_wheels

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


def find_anchors(scan: Scan) -> tuple[list[Anchor], list[str]]:
    """All task anchors in text order, plus assumptions made while reading them."""
    notes: list[str] = []
    anchors: list[Anchor] = []
    anchors += _run_jobs(scan)
    anchors += _pipelines(scan, notes)
    anchors += _dbt(scan, notes)
    anchors += find_wheels(scan, notes)
    anchors += _queries(scan)
    anchors += _paths(scan, notes)
    anchors += find_sql_objects(scan, anchors)
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


_PIPE_VERB = r"(?:refresh|update|run|trigger|start|kick\s+off)"
_PIPE_KIND = r"(?:dlt|lakeflow|delta\s+live\s+tables?|sdp|ldp|declarative|spark\s+declarative)"
_PIPELINE = re.compile(
    r"(?P<full>\bfull(?:y)?[\s-]+refresh(?:es|ing)?\s+(?:of\s+)?)?(?:\b(?P<verb>" + _PIPE_VERB + r")\s+)?"
    r"(?:the\s+(?:[a-z][\w-]*\s+(?=pipeline))?)?"  # "the ingest pipeline": a label, read with it
    r"(?:\b(?P<kind>" + _PIPE_KIND + r")\s+)?(?<![\w-])pipeline(?![\w-])\s*(?P<idw>id\s*)?"
    r"[:=#]?\s*(?:(?P<q>[`'\"])(?P<qid>[^`'\"\s]{1,64})(?P=q)|(?P<id>[\w-]+))"
    r"(?P<full2>\s*(?:\(|,|-|\band\b)?\s*(?:with\s+(?:a\s+)?|as\s+a\s+|in\s+|do\s+a\s+)?full[\s_-]+refresh"
    r"(?:\s+mode)?(?:\s*[:=]\s*(?P<flag>true|false|yes|no))?\s*\)?)?",  # "(full refresh)", "…=true"
    re.I,
)


def _pipelines(scan: Scan, notes: list[str]) -> list[Anchor]:
    """ "refresh pipeline 1234-abcd": an id is taken when quoted or id-like (digits, dashes), never a
    plain word ("first") nor the "pipeline" inside a hyphenated name ("orders-pipeline")."""
    out: list[Anchor] = []
    for m in scan.find(_PIPELINE):
        pid = m.group("qid") or m.group("id")
        refresh = bool(m.group("verb") or m.group("kind") or m.group("full") or m.group("idw"))
        named = False  # a pipeline named in words: its id is asked for
        if m.group("id") and (
            pid.lower() in _STOP_IDS
            or not re.search(r"\d", pid)
            and not (refresh and re.search(r"[a-z]-[a-z0-9]", pid, re.I))
        ):
            if not refresh or pid.lower() in _STOP_IDS or pid.lower() in _NOT_PIPELINES:
                continue
            named = True
        scan.consume(*m.span())
        asked = next((a for a in out if a.missing), None)
        if asked and not named and re.search(r"(?:^|\n)[ \t]*$", scan.text[: m.start()]):
            asked.body["pipeline_task"]["pipeline_id"] = asked.source = pid  # the answer on its own line
            asked.missing, asked.label = [], f"pipeline {pid}"
            continue
        body: dict = {"pipeline_id": pid}
        if m.group("full") or m.group("full2"):
            body["full_refresh"] = (m.group("flag") or "true").lower() in ("true", "yes")
        if not re.search(r"\d", pid) and not named:
            notes.append(f"Took “{pid}” as the pipeline id (pipeline_task needs the id, not the name).")
        ask = [f"What is the id of the pipeline “{pid}”? pipeline_task needs the id, not the name."]
        out.append(
            Anchor(
                "pipeline",
                m.start(),
                m.end(),
                {"pipeline_task": body},
                "pipeline",
                f"pipeline {pid}",
                missing=ask if named else [],
                source=pid,
            )
        )
    return out


_NOT_PIPELINES = {"every", "daily", "nightly", "hourly", "weekly", "each", "at", "on", "first", "too", "also"}


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
        rf"(?P<lead>\b(?:with|using|running)\s+(?:the\s+)?(?:commands?|steps?)\s*[:=]?\s*(?=dbt\b))?"
        rf"\b(?:(?:run|execute)\s+)?(?:the\s+)?dbt(?:\s+(?:(?:with|using|running)\s+(?:the\s+)?)?(?:commands?"
        rf"|steps?))?\s*[:=]?\s*(?P<cmds>{cmd}(?:\s*(?:,|and|then|&|\+|followed\s+by|;)\s*{cmd})*)?"
        r"(?:\s+(?:project|models?))?"
    )
    defaulted: Anchor | None = None  # "run dbt in the project X …": its commands may come later
    unsaid: list[Anchor] = []
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
        if (
            cmds
            and defaulted is not None
            and (m.group("lead") or not re.search(r"[.;\n]|\bthen\b|->|→", scan.text[defaulted.end : start]))
            and not any(0 <= e.start - end <= 40 for e in scan.of("path"))
        ):  # the commands of the dbt task just named: one task, not a second one
            defaulted.body["dbt_task"]["commands"] = cmds[:10]
            defaulted = None
            continue
        body: dict = {}
        body["commands"] = cmds[:10] or ["dbt deps", "dbt run"]
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
        if not cmds:
            defaulted = out[-1]
            unsaid.append(defaulted)
    if any(a.body["dbt_task"]["commands"] == ["dbt deps", "dbt run"] for a in unsaid):
        notes.append("No dbt commands given: dbt deps, then dbt run.")
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
            continue  # no JAR tasks yet: left unread, so it is reported (see `unsupported`)
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
    for i, a in enumerate(anchors):
        if a.key:
            continue
        same = next((b for b in anchors[:i] if b.key and _same(a, b)), None)
        if same is not None:  # the same source with the same settings named again: the same task
            a.key = same.key
            continue
        key = re.sub(r"[^\w\-.]", "_", a.hint)[:100] or "task"
        candidate, n = key, 2
        while candidate in used:
            candidate = f"{key[:95]}_{n}"
            n += 1
        a.key = candidate
        used.add(candidate)


def _same(a: Anchor, b: Anchor) -> bool:
    return a.kind == b.kind and a.kind != "condition" and a.body == b.body and a.source == b.source


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
