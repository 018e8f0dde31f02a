"""Field-level diff between the job as it is and the job as wanted, rendered like `terraform plan`.

Tasks, job clusters, environments and job parameters are matched by their key (never by position),
and values the service fills in by itself are ignored when the desired settings do not mention them —
the two classic sources of perpetual false diffs.
"""

from __future__ import annotations

import hashlib
import json
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

# Values the Jobs service fills in on its own; equal to these and absent from the wanted settings
# means "no change".
SERVER_DEFAULTS: dict[str, Any] = {
    "email_notifications": {},
    "webhook_notifications": {},
    "notification_settings": {},
    "timeout_seconds": 0,
    "max_concurrent_runs": 1,
    "format": "MULTI_TASK",
    "queue": {"enabled": True},
    "run_as": None,
    "edit_mode": None,
    "deployment": None,
}
TASK_DEFAULTS: dict[str, Any] = {
    "run_if": "ALL_SUCCESS",
    "timeout_seconds": 0,
    "email_notifications": {},
    "webhook_notifications": {},
    "notification_settings": {},
    "max_retries": 0,
    "retry_on_timeout": False,
    "min_retry_interval_millis": 0,
    "disable_auto_optimization": False,
}
SERVER_ONLY = {"run_as", "edit_mode", "deployment", "format"}


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
                    out[path] = sorted(i[item_key] for i in child)
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


def drop_defaults(settings: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """A copy without values equal to the service's defaults (they count as unset), and without
    server-only fields unless the wanted settings mention them."""
    settings = json.loads(json.dumps(settings))
    for key, default in SERVER_DEFAULTS.items():
        if settings.get(key) == default or (key in SERVER_ONLY and key not in wanted):
            settings.pop(key, None)
    for task in settings.get("tasks", []):
        for key, default in TASK_DEFAULTS.items():
            if task.get(key) == default:
                task.pop(key, None)
    return settings


def diff_settings(remote: dict[str, Any] | None, wanted: dict[str, Any]) -> list[FieldChange]:
    """Changes that turn `remote` (None for a new job) into `wanted`, in a stable order.

    For an update both sides are compared without default values, so setting a timeout reads
    `+ timeout_seconds`, and spelling out a default is no change; a new job shows all it sets.
    """
    old = flatten(drop_defaults(remote, wanted)) if remote else {}
    new = flatten(drop_defaults(wanted, wanted)) if remote else flatten(wanted)
    changes: list[FieldChange] = []
    for path in sorted(set(old) | set(new), key=_sort_key):
        if path not in old:
            changes.append(FieldChange("+", path, None, new[path]))
        elif path not in new:
            changes.append(FieldChange("-", path, old[path], None))
        elif old[path] != new[path]:
            changes.append(FieldChange("~", path, old[path], new[path]))
    return changes


def _sort_key(path: str) -> tuple[int, str]:
    # name first, tasks next, then the rest alphabetically: reads like the request.
    order = 0 if path == "name" else 1 if path.startswith("tasks") else 2
    return (order, path)


def fingerprint(remote: dict[str, Any] | None) -> str:
    """A short hash of the remote job's settings; apply compares it to refuse stale plans."""
    payload = json.dumps(remote, sort_keys=True, default=str) if remote is not None else "absent"
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _fmt(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


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
