"""Field-level diff between the job as it is and the job as wanted, rendered like `terraform plan`.

Tasks, job clusters, environments and job parameters are matched by their key (never by position),
and a value the service fills in by itself counts as unset on both sides — the two classic sources of
perpetual false diffs. Nothing else is ignored: a field the wanted settings leave out is a removal, and
the plan shows it, because the update that follows removes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from agent.models import FieldChange

# Lists whose items are identified by a key field.
KEYED_LISTS = {
    "tasks": "task_key",
    "job_clusters": "job_cluster_key",
    "environments": "environment_key",
    "parameters": "name",
    "depends_on": "task_key",
}

# Values the Jobs service fills in on its own (besides empty collections): equal to these counts as unset.
SERVER_DEFAULTS: dict[str, Any] = {
    "timeout_seconds": 0,
    "max_concurrent_runs": 1,
    "format": "MULTI_TASK",
    "queue": {"enabled": True},
}
TASK_DEFAULTS: dict[str, Any] = {
    "run_if": "ALL_SUCCESS",
    "timeout_seconds": 0,
    "max_retries": 0,
    "retry_on_timeout": False,
    "min_retry_interval_millis": 0,
    "disable_auto_optimization": False,
}
# Top-level lists that `jobs/update` merges item by item (PLATFORM-FACTS: Jobs API update semantics).
MERGED_LISTS = {"tasks": "task_key", "job_clusters": "job_cluster_key"}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a settings tree keyed by a readable path; keyed lists become `tasks["ingest"]`."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        if not value and prefix:
            out[prefix] = {}
        for key in sorted(value):
            path = f"{prefix}.{key}" if prefix else key
            child = value[key]
            item_key = KEYED_LISTS.get(key)
            if (
                item_key
                and isinstance(child, list)
                and all(isinstance(i, dict) and item_key in i for i in child)
            ):
                if key == "depends_on":
                    out[path] = sorted(_dependency(i) for i in child)
                    continue
                for item in child:
                    rest = {k: v for k, v in item.items() if k != item_key}
                    ipath = f'{path}["{item[item_key]}"]'
                    out.update(flatten(rest, ipath) if rest else {ipath: {}})
            else:
                out.update(flatten(child, path))
    else:
        out[prefix] = value
    return out


def _dependency(dep: dict[str, Any]) -> str:
    """`check` or `check (outcome true)`: a condition branch's outcome is part of the dependency."""
    outcome = dep.get("outcome")
    return f"{dep['task_key']} (outcome {outcome})" if outcome is not None else dep["task_key"]


def drop_defaults(settings: dict[str, Any], owner: str | None = None) -> dict[str, Any]:
    """A copy as the service would store it, minus what it fills in by itself: empty collections and
    service defaults count as unset, and an unset `run_as` is the owner (`owner`), which is what the
    service stores when run_as is left out — so any other identity is a setting whose removal shows."""
    settings = _prune(settings)
    for key, default in SERVER_DEFAULTS.items():
        if settings.get(key) == default:
            settings.pop(key, None)
    if owner:
        settings.setdefault("run_as", {"user_name": owner})
    for task in settings.get("tasks", []):
        for key, default in TASK_DEFAULTS.items():
            if task.get(key) == default:
                task.pop(key, None)
    return settings


def _prune(value: Any) -> Any:
    """A deep copy without None and empty collections (the SDK never sends them; the API ignores them)."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def diff_settings(
    remote: dict[str, Any] | None, wanted: dict[str, Any], owner: str | None = None
) -> list[FieldChange]:
    """Changes that turn `remote` (None for a new job) into `wanted`, in a stable order.

    For an update both sides are compared without server-filled values, so setting a timeout reads
    `+ timeout_seconds`, spelling out a default is no change, and leaving a field out is `-`; a new job
    shows all it sets. `owner` is the job's creator, the identity it runs as when run_as is unset.
    """
    old = flatten(drop_defaults(remote, owner)) if remote is not None else {}
    new = flatten(drop_defaults(wanted, owner)) if remote is not None else flatten(_prune(wanted))
    changes: list[FieldChange] = []
    for path in sorted(set(old) | set(new), key=_sort_key):
        if path not in old:
            changes.append(FieldChange("+", path, None, new[path]))
        elif path not in new:
            changes.append(FieldChange("-", path, old[path], None))
        elif old[path] != new[path]:
            changes.append(FieldChange("~", path, old[path], new[path]))
    return changes


@dataclass
class Update:
    """A `jobs/update` call: whole top-level fields to set (tasks and job clusters only those that
    change) and fields to remove; everything it does not name stays as it is on the job."""

    new_settings: dict[str, Any] = field(default_factory=dict)
    fields_to_remove: list[str] = field(default_factory=list)

    def describe(self) -> str:
        sets = [
            f'{k}["{item[MERGED_LISTS[k]]}"]' if k in MERGED_LISTS else k
            for k, v in self.new_settings.items()
            for item in (v if k in MERGED_LISTS else [None])
        ]
        parts = [f"sets {', '.join(sets)}"] if sets else []
        if self.fields_to_remove:
            parts.append(f"removes {', '.join(self.fields_to_remove)}")
        return "; ".join(parts) or "no change"


def update_for(changes: list[FieldChange], wanted: dict[str, Any]) -> Update:
    """The partial update that makes exactly `changes`: a changed field is sent whole, a field the
    wanted settings leave out (or empty) is removed, and a changed task or job cluster is sent alone."""
    update = Update()
    for root in dict.fromkeys(_root(c.path) for c in changes):
        top, _, item = root.partition("/")
        if item:
            key = MERGED_LISTS[top]
            match = [i for i in wanted.get(top) or [] if i.get(key) == item]
            if match:
                update.new_settings.setdefault(top, []).append(match[0])
            else:
                update.fields_to_remove.append(root)
        elif _prune({top: wanted.get(top)}):
            update.new_settings[top] = wanted[top]
        else:
            update.fields_to_remove.append(top)
    return update


def _root(path: str) -> str:
    """`tasks["a"].max_retries` → `tasks/a` (the unit jobs/update replaces); `schedule.x` → `schedule`."""
    m = re.match(r'^(\w+)\["((?:[^"\\]|\\.)*)"\]', path)
    if m and m.group(1) in MERGED_LISTS:
        return f"{m.group(1)}/{m.group(2)}"
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _sort_key(path: str) -> tuple[int, str]:
    # name first, tasks next, then the rest alphabetically: reads like the request.
    order = 0 if path == "name" else 1 if path.startswith("tasks") else 2
    return (order, path)


def fingerprint(remote: dict[str, Any] | None) -> str:
    """A short hash of the remote job's settings; apply compares it to refuse stale plans."""
    payload = json.dumps(remote, sort_keys=True, default=str) if remote is not None else "absent"
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _fmt(value: Any) -> str:
    """The whole value: a reviewer approves what they see, so nothing is ever cut."""
    return json.dumps(value, default=str, ensure_ascii=False)


def render_changes(changes: list[FieldChange], indent: str = "      ") -> list[str]:
    lines = []
    for c in changes:
        if c.op == "+":
            lines.append(f"{indent}+ {c.path} = {_fmt(c.new)}")
        elif c.op == "-":
            lines.append(f"{indent}- {c.path} = {_fmt(c.old)}")
        else:
            lines.append(f"{indent}~ {c.path}: {_fmt(c.old)} → {_fmt(c.new)}")
    return lines
