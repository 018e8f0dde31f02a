"""What a reviewer reads first and what waits behind "details": one sorting of a task's plan that the
Slack message, the CLI and the size report share.

First: the one-sentence synopsis, outside changes (drift), what was not acted on, assumptions and the
notes that apply to this plan. Behind details: the whole diff (whole values, never cut), documentation
sentences about fields every Databricks user knows, documented limits (validation enforces the real
ones), previews and planner bookkeeping. A note this module does not recognise is shown, never hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.diff import render_changes
from agent.models import Plan
from agent.state import TaskRecord

# Fields whose documentation sentence tells a Databricks user nothing new (last path segment).
WELL_KNOWN = frozenset(
    {
        "name",
        "description",
        "tasks",
        "task_key",
        "notebook_path",
        "python_file",
        "depends_on",
        "job_clusters",
        "job_cluster_key",
        "new_cluster",
        "existing_cluster_id",
        "node_type_id",
        "driver_node_type_id",
        "num_workers",
        "autoscale",
        "min_workers",
        "max_workers",
        "spark_version",
        "schedule",
        "quartz_cron_expression",
        "timezone_id",
        "pause_status",
        "email_notifications",
        "on_failure",
        "on_success",
        "on_start",
        "max_retries",
        "tags",
        "parameters",
        "timeout_seconds",
    }
)
_FIELD_NOTE = re.compile(
    r"^(?P<limit>⚠ )?(?P<leaf>[a-z_]+(?:\[\])?(?:\.[a-z_]+(?:\[\])?)*): (?P<text>.+)$", re.S
)
_BACKGROUND = (
    "next runs",
    "tool ",
    "planned by the model",
    "Documentation index unavailable",
    "Unity Catalog tools:",
)
NOT_FOUND = "not found in the API reference"
_GENERIC = re.compile(r'\["(?:[^"\\]|\\.)*"\]')  # tasks["ingest"] → tasks[]


@dataclass
class Review:
    task_id: str
    title: str  # 'create job "nightly-ingest"'
    synopsis: str
    counts: str  # "18 to add, 0 to change, 0 to remove"
    diff: list[str]  # the requested changes, one line each, values whole
    drift: list[str] = field(default_factory=list)  # changes made outside jobagent, values whole
    drift_since: str = ""
    unused: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # apply to this plan: shown first
    explained: list[str] = field(default_factory=list)  # doc sentences about less familiar fields
    background: list[str] = field(default_factory=list)  # behind details
    citations: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    offline: bool = False  # the workspace was not checked when planning
    full_text: str = ""  # the whole plan as text (the attachment / details)


def review(record: TaskRecord) -> Review:
    plan = Plan.from_dict({"action": record.action, **record.plan}) if record.plan else None
    title = _title(record, plan)
    changed = {_GENERIC.sub("[]", c.path) for c in (plan.changes if plan else [])}
    notes, explained, background = sort_notes(list(record.meta.get("notes") or []), changed)
    counts = plan.summary.removeprefix("Plan: ").rstrip(".") if plan else ""
    since = plan.drift_since if plan else None
    return Review(
        task_id=record.id,
        title=title,
        synopsis=(plan.synopsis if plan else "") or title[0].upper() + title[1:] + ".",
        counts=counts,
        diff=[line.strip() for line in render_changes(plan.changes, indent="")] if plan else [],
        drift=[line.strip() for line in render_changes(plan.drift, indent="")] if plan else [],
        drift_since=f"task {since.get('task')} applied it ({since.get('at', '')[:16].replace('T', ' ')} UTC)"
        if since
        else "",
        unused=list(record.unused),
        assumptions=list(record.assumptions),
        notes=notes,
        explained=explained,
        background=background,
        citations=[(_label(c), str(c.get("url", ""))) for c in record.citations],
        offline=bool(plan and plan.checked_at is None and record.action == "create"),
        full_text=full_text(record),
    )


def sort_notes(notes: list[str], changed: set[str]) -> tuple[list[str], list[str], list[str]]:
    """(shown, explained, background): see the module docstring for what goes where. A field is
    explained only when the plan changes it or a field below it (`changed`: paths, list keys as `[]`)."""
    shown, explained, background = [], [], []
    for note in notes:
        m = _FIELD_NOTE.match(note)
        if note.startswith(_BACKGROUND):
            background.append(note)
        elif m and NOT_FOUND in note:
            shown.append(note)
        elif m and m["limit"]:
            background.append(f"From the docs, {m['leaf']}: {m['text']}")
        elif m:
            leaf = m["leaf"].rsplit(".", 1)[-1].removesuffix("[]")
            touched = any(path == m["leaf"] or path.startswith(m["leaf"] + ".") for path in changed)
            (explained if touched and leaf not in WELL_KNOWN else background).append(note)
        else:
            shown.append(note)
    return shown, explained, background


def full_text(record: TaskRecord) -> str:
    """The whole plan as text: the synopsis, the plan as the Worker rendered it, every note and
    assumption, and the documentation — what "details" and the attachment hold."""
    plan = record.plan or {}
    parts = [plan.get("synopsis") or "", plan.get("text") or ""]
    if record.unused:
        parts.append("Not acted on:\n" + "\n".join(f"  - “{u}”" for u in record.unused))
    if record.assumptions:
        parts.append("Assumptions:\n" + "\n".join(f"  - {a}" for a in record.assumptions))
    if record.meta.get("notes"):
        parts.append("Notes:\n" + "\n".join(f"  - {n}" for n in record.meta["notes"]))
    if record.citations:
        parts.append(
            "Documentation:\n"
            + "\n".join(
                f"  [{i}] {_label(c)} — {c.get('url', '')}" for i, c in enumerate(record.citations, 1)
            )
        )
    return "\n\n".join(p for p in parts if p).strip() + "\n"


def as_text(record: TaskRecord) -> str:
    """The plan for a terminal (CLI, demo), in the Slack message's order: synopsis, what it did not
    act on, the plan (drift first, the whole diff), notes that apply, less familiar fields explained,
    assumptions, documentation. Background notes stay in the record (`jobagent status TASK --json`)."""
    r = review(record)
    parts = [r.synopsis]
    if r.unused:
        listed = "\n".join(f"  - “{u}”" for u in r.unused)
        parts.append(
            f"⚠ I did not act on:\n{listed}\n  Nothing in this plan does what these ask. "
            "Reply to rephrase them, or approve without them."
        )
    parts.append((record.plan or {}).get("text") or "")
    for title, items in (("Notes", r.notes), ("Good to know", r.explained), ("Assumed", r.assumptions)):
        if items:
            parts.append(f"{title}:\n" + "\n".join(f"  - {item}" for item in items))
    if r.citations:
        parts.append(
            "Documentation:\n"
            + "\n".join(f"  [{i}] {label} — {url}" for i, (label, url) in enumerate(r.citations, 1))
        )
    return "\n\n".join(p for p in parts if p)


def _title(record: TaskRecord, plan: Plan | None) -> str:
    name = (plan.job_name if plan else "") or (record.settings or {}).get("name") or "unnamed job"
    if record.action == "update":
        return f'update job {(plan.job_id if plan else None) or record.job_id} "{name}"'
    return f'create job "{name}"'


def _label(citation: dict[str, Any]) -> str:
    """ "CronSchedule.quartz_cron_expression (schedule.quartz_cron_expression)" → the field path."""
    title = str(citation.get("title", "source"))
    inner = re.search(r"\(([^()]+)\)\s*$", title)
    return inner.group(1) if inner else title
