"""One plain-English sentence per plan, for a reviewer to check against the request at a glance.

"Creates nightly-ingest: ingest → transform, weekdays 02:30 Europe/Berlin, 2 × i3.xlarge, retries 2,
e-mails data-eng@example.com on failure; next run Tue 02:30." The sentence only restates what the
settings say (it never fills a gap with a guess); the field-by-field diff stays the whole truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agent.diff import KEYED_LISTS
from agent.models import FieldChange, Plan
from agent.quartz import describe as describe_cron
from agent.quartz import next_fire_times

TASK_KINDS = (  # what a task runs: its kind in words, and the field that names it
    ("notebook_task", "", "notebook_path"),
    ("spark_python_task", "Python file ", "python_file"),
    ("python_wheel_task", "wheel entry point ", "entry_point"),
    ("pipeline_task", "pipeline ", "pipeline_id"),
    ("run_job_task", "job ", "job_id"),
    ("spark_jar_task", "JAR class ", "main_class_name"),
    ("dbt_task", "dbt in ", "project_directory"),
    ("sql_task", "SQL task ", None),
    ("spark_submit_task", "spark-submit task ", None),
    ("condition_task", "condition ", None),
    ("for_each_task", "for-each loop ", None),
)
EMAIL_EVENTS = (
    ("on_failure", "on failure"),
    ("on_success", "on success"),
    ("on_start", "on start"),
    ("on_duration_warning_threshold_exceeded", "when a run is slow"),
    ("on_streaming_backlog_exceeded", "on streaming backlog"),
)
MAX_PHRASES = 6  # changes named in an update's sentence; the diff lists them all


def describe(plan: Plan, wanted: dict[str, Any], now: datetime | None = None) -> str:
    """The sentence for `plan` (whose changes turn `plan.base` into `wanted`)."""
    name = wanted.get("name") or plan.job_name or "the job"
    if plan.action == "create":
        parts = [p for p in (_work(wanted), _when(wanted), *_how(wanted)) if p]
        sentence = f"Creates {name}: " + ", ".join(parts)
        touches_schedule = True
    else:
        phrases = _update_phrases(plan.changes, plan.base or {}, wanted)
        if not phrases:
            return f"No changes to job {plan.job_id} {name}: it already matches."
        shown = phrases[:MAX_PHRASES]
        if len(phrases) > len(shown):
            shown.append(f"{len(phrases) - len(shown)} more change(s) in the details")
        sentence = f"Updates job {plan.job_id} {name}: " + "; ".join(shown)
        touches_schedule = any(c.path.startswith("schedule") for c in plan.changes)
    upcoming = _next_run(wanted, now) if touches_schedule else ""
    return sentence + (f"; next run {upcoming}" if upcoming else "") + "."


# -- a whole job -------------------------------------------------------------------------------------


def _work(settings: dict[str, Any]) -> str:
    """What runs: one task's notebook/file, or the task graph in dependency order."""
    tasks = settings.get("tasks") or []
    if not tasks:
        return "no tasks"
    if len(tasks) == 1:
        return "runs " + _runs(tasks[0])
    levels = _levels(tasks)
    if len(tasks) > 8:
        return f"{len(tasks)} tasks, from {' + '.join(levels[0])} to {' + '.join(levels[-1])}"
    return " → ".join(" + ".join(level) for level in levels)


def _runs(task: dict[str, Any]) -> str:
    for kind, words, field_name in TASK_KINDS:
        if kind in task:
            value = (task[kind] or {}).get(field_name) if field_name else None
            return f"{words}{value if value is not None else task.get('task_key', '?')}"
    return f"task {task.get('task_key', '?')}"


def _levels(tasks: list[dict[str, Any]]) -> list[list[str]]:
    """Task keys grouped by depth in the dependency graph (a cycle or unknown key lands last)."""
    deps = {t["task_key"]: [d.get("task_key") for d in t.get("depends_on") or []] for t in tasks}
    depth: dict[str, int] = {}

    def level(key: str, seen: frozenset[str] = frozenset()) -> int:
        if key not in depth:
            parents = [p for p in deps.get(key, []) if p in deps and p not in seen]
            depth[key] = 1 + max((level(p, seen | {key}) for p in parents), default=-1)
        return depth[key]

    for key in deps:
        level(key)
    out: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for key in deps:
        out[depth[key]].append(key)
    return out


def _when(settings: dict[str, Any]) -> str:
    schedule, trigger = settings.get("schedule"), settings.get("trigger")
    if schedule and schedule.get("quartz_cron_expression"):
        text = f"{describe_cron(schedule['quartz_cron_expression'])} {schedule.get('timezone_id') or 'UTC'}"
        return text + (" (paused)" if schedule.get("pause_status") == "PAUSED" else "")
    if settings.get("continuous"):
        paused = (settings["continuous"] or {}).get("pause_status") == "PAUSED"
        return "runs continuously" + (" (paused)" if paused else "")
    if trigger:
        return _trigger(trigger) + (" (paused)" if trigger.get("pause_status") == "PAUSED" else "")
    return "no schedule (runs only when started)"


def _trigger(trigger: dict[str, Any]) -> str:
    if trigger.get("file_arrival"):
        return f"when files arrive in {trigger['file_arrival'].get('url', '?')}"
    if trigger.get("table_update") or trigger.get("table"):
        tables = (trigger.get("table_update") or trigger.get("table") or {}).get("table_names") or []
        return f"when {', '.join(tables) or 'tables'} change"
    if trigger.get("periodic"):
        periodic = trigger["periodic"]
        return f"every {periodic.get('interval')} {str(periodic.get('unit', '')).lower()}"
    kind = next((k for k in trigger if k != "pause_status"), "trigger")
    return f"on a {kind.replace('_', ' ')} trigger"


def _how(settings: dict[str, Any]) -> list[str]:
    """Compute, retries, notifications and the few limits a reviewer checks, in that order."""
    parts = [_compute(settings), _retries(settings.get("tasks") or [])]
    parts += _emails(settings.get("email_notifications") or {})
    hooks = [event for event, _ in EMAIL_EVENTS if (settings.get("webhook_notifications") or {}).get(event)]
    if hooks:
        parts.append("notifies webhooks " + ", ".join(dict(EMAIL_EVENTS)[e] for e in hooks))
    if settings.get("timeout_seconds"):
        parts.append(f"times out after {_duration(settings['timeout_seconds'])}")
    if (settings.get("max_concurrent_runs") or 1) > 1:
        parts.append(f"up to {settings['max_concurrent_runs']} runs at once")
    params = [p.get("name") for p in settings.get("parameters") or []]
    if params:
        parts.append("parameters " + ", ".join(map(str, params)))
    run_as = settings.get("run_as") or {}
    who = run_as.get("user_name") or run_as.get("service_principal_name")
    if who:
        parts.append(f"runs as {who}")
    return [p for p in parts if p]


def _compute(settings: dict[str, Any]) -> str:
    clusters = {
        c.get("job_cluster_key"): c.get("new_cluster") or {} for c in settings.get("job_clusters") or []
    }
    seen: list[str] = []
    for task in settings.get("tasks") or []:
        inner = (task.get("for_each_task") or {}).get("task") or task
        if inner.get("job_cluster_key") in clusters:
            text = _cluster(clusters[inner["job_cluster_key"]])
        elif inner.get("new_cluster"):
            text = _cluster(inner["new_cluster"])
        elif inner.get("existing_cluster_id"):
            text = f"existing cluster {inner['existing_cluster_id']}"
        elif (inner.get("sql_task") or {}).get("warehouse_id") or (inner.get("notebook_task") or {}).get(
            "warehouse_id"
        ):
            text = "a SQL warehouse"
        elif any(kind in inner for kind in ("notebook_task", "spark_python_task", "python_wheel_task")):
            text = "serverless"
        else:
            continue
        if text not in seen:
            seen.append(text)
    return " + ".join(seen)


def _cluster(spec: dict[str, Any]) -> str:
    node = spec.get("node_type_id") or (
        f"pool {spec['instance_pool_id']}" if spec.get("instance_pool_id") else "policy default nodes"
    )
    auto = spec.get("autoscale") or {}
    if auto:
        return f"{auto.get('min_workers', 1)}–{auto.get('max_workers', '?')} × {node}"
    workers = spec.get("num_workers") or 0
    return f"single-node {node}" if workers == 0 else f"{workers} × {node}"


def _retries(tasks: list[dict[str, Any]]) -> str:
    counts = {t.get("task_key"): t.get("max_retries") or 0 for t in tasks}
    if not any(counts.values()):
        return ""
    words = {-1: "without limit"}
    if len(set(counts.values())) == 1:
        (n,) = set(counts.values())
        return f"retries {words.get(n, n)}"
    return "retries " + ", ".join(f"{k} {words.get(n, n)}" for k, n in counts.items() if n)


def _emails(notifications: dict[str, Any]) -> list[str]:
    return [
        f"e-mails {', '.join(notifications[event])} {words}"
        for event, words in EMAIL_EVENTS
        if notifications.get(event)
    ]


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _next_run(settings: dict[str, Any], now: datetime | None) -> str:
    schedule = settings.get("schedule") or {}
    expr = schedule.get("quartz_cron_expression")
    if not expr or schedule.get("pause_status") == "PAUSED":
        return ""
    now = now or datetime.now(UTC)
    try:
        times = next_fire_times(expr, schedule.get("timezone_id") or "UTC", 1, now)
    except ValueError:
        return ""
    if not times:
        return ""
    at = times[0]
    near = (at - now).days < 6
    return at.strftime("%a %H:%M" if near else "%a %d %b %Y %H:%M")


# -- an update -------------------------------------------------------------------------------------


def _update_phrases(changes: list[FieldChange], base: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """One phrase per changed part of the job (a task, a cluster, the schedule…), in diff order."""
    phrases: list[str] = []
    for unit, group in _units(changes):
        top, _, key = unit.partition("/")
        phrase = PHRASES.get(top)
        text = phrase(key, group, base, wanted) if phrase else None
        phrases.append(text or _generic(unit, group))
    return phrases


def _units(changes: list[FieldChange]) -> list[tuple[str, list[FieldChange]]]:
    """Changes grouped by what a reviewer thinks of as one thing: `tasks/ingest`, `schedule`, `name`."""
    groups: dict[str, list[FieldChange]] = {}
    for change in changes:
        top = change.path.split(".")[0].split("[")[0]
        key = ""
        if top in KEYED_LISTS and change.path.startswith(f'{top}["'):
            key = change.path[len(top) + 2 :].split('"]')[0]
        groups.setdefault(f"{top}/{key}" if key else top, []).append(change)
    return list(groups.items())


def _item(settings: dict[str, Any], top: str, key: str) -> dict[str, Any] | None:
    field_name = KEYED_LISTS[top]
    return next((i for i in settings.get(top) or [] if str(i.get(field_name)) == key), None)


def _task_phrase(key: str, group: list[FieldChange], base: dict, wanted: dict) -> str | None:
    old, new = _item(base, "tasks", key), _item(wanted, "tasks", key)
    if old is None and new is not None:
        return f"adds task {key} (runs {_runs(new)})"
    if new is None:
        return f"removes task {key}"
    return f"task {key}: " + ", ".join(_leaf_change(c, f'tasks["{key}"].') for c in group)


def _cluster_phrase(key: str, group: list[FieldChange], base: dict, wanted: dict) -> str | None:
    old, new = _item(base, "job_clusters", key), _item(wanted, "job_clusters", key)
    if old is None or new is None:
        return f"{'adds' if old is None else 'removes'} cluster {key}" + (
            f" ({_cluster(new.get('new_cluster') or {})})" if new else ""
        )
    before, after = _cluster(old.get("new_cluster") or {}), _cluster(new.get("new_cluster") or {})
    if before != after:
        return f"cluster {key}: {before} → {after}"
    return None


def _schedule_phrase(key: str, group: list[FieldChange], base: dict, wanted: dict) -> str | None:
    had, has = bool(base.get("schedule")), bool(wanted.get("schedule"))
    if not has:
        return "removes the schedule (" + _when(base) + ")"
    if not had:
        return "adds the schedule " + _when(wanted)
    return f"schedule {_when(base)} → {_when(wanted)}"


def _email_phrase(key: str, group: list[FieldChange], base: dict, wanted: dict) -> str | None:
    before = _emails(base.get("email_notifications") or {})
    after = _emails(wanted.get("email_notifications") or {})
    if not after:
        return "stops the e-mails (" + "; ".join(before) + ")"
    return "; ".join(after) + (" (was: " + "; ".join(before) + ")" if before else "")


PHRASES: dict[str, Callable[[str, list[FieldChange], dict, dict], str | None]] = {
    "tasks": _task_phrase,
    "job_clusters": _cluster_phrase,
    "schedule": _schedule_phrase,
    "email_notifications": _email_phrase,
}


def _leaf_change(change: FieldChange, prefix: str = "") -> str:
    path = change.path.removeprefix(prefix)
    if change.op == "+":
        return f"sets {path} {_short(change.new)}"
    if change.op == "-":
        return f"removes {path}"
    return f"{path} {_short(change.old)} → {_short(change.new)}"


def _generic(unit: str, group: list[FieldChange]) -> str:
    if len(group) == 1:
        return _leaf_change(group[0])
    return f"changes {unit.replace('/', ' ')} ({len(group)} fields)"


def _short(value: Any) -> str:
    """A value as the sentence quotes it; long ones are named, not cut (the diff has them whole)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else "(a new value, see the diff)"
