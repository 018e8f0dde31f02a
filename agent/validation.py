"""The Worker's own checks: `JobSettings.from_dict` accepts anything, so validation is ours.

`settings_problems` is pure (shape, keys, graph, schedule, limits); `workspace_problems` asks the
workspace whether what the settings point at exists. Both return every problem, not just the first.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from databricks.sdk.service.jobs import Task

from agent.quartz import quartz_error, timezone_error
from agent.workspace import Workspace

# Every `*_task` field of the SDK's Task: a task must set exactly one of them.
TASK_TYPES = tuple(f.name for f in dataclasses.fields(Task) if f.name.endswith("_task"))
NEEDS_COMPUTE = {
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "spark_jar_task",
    "spark_submit_task",
    "dbt_task",
}
REQUIRED = {
    "notebook_task": ("notebook_path",),
    "spark_python_task": ("python_file",),
    "python_wheel_task": ("package_name", "entry_point"),
    "spark_jar_task": ("main_class_name",),
    "sql_task": ("warehouse_id",),
    "dbt_task": ("commands",),
    "pipeline_task": ("pipeline_id",),
    "run_job_task": ("job_id",),
}
TASK_KEY = re.compile(r"^[\w\-.]{1,100}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TASKS = 1000


def task_type(task: dict[str, Any]) -> str | None:
    kinds = [k for k in TASK_TYPES if k in task]
    return kinds[0] if len(kinds) == 1 else None


def settings_problems(s: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if not (s.get("name") or "").strip():
        problems.append("The job has no name. Give it one (e.g. “called nightly-ingest”).")
    elif len(s["name"]) > 4096:
        problems.append("The job name is longer than 4096 characters.")
    tasks = s.get("tasks") or []
    if not tasks:
        problems.append(
            "The job has no tasks: say what to run (a notebook path, a Python file, a wheel, SQL…)."
        )
    if len(tasks) > MAX_TASKS:
        problems.append(f"The job has {len(tasks)} tasks; Databricks allows at most {MAX_TASKS}.")
    job_clusters = {c.get("job_cluster_key") for c in s.get("job_clusters") or []}
    environments = {e.get("environment_key") for e in s.get("environments") or []}
    keys: list[str] = [t.get("task_key", "") for t in tasks]
    for dup in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"Task key {dup!r} is used more than once; task keys must be unique.")
    for task in tasks:
        problems.extend(_task_problems(task, set(keys), job_clusters, environments))
    cycle = find_cycle(tasks)
    if cycle:
        problems.append("Tasks depend on each other in a cycle: " + " → ".join(cycle) + ".")
    problems.extend(_schedule_problems(s))
    mcr = s.get("max_concurrent_runs")
    if mcr is not None and not (0 <= int(mcr) <= 1000):
        problems.append(f"max_concurrent_runs is {mcr}; it must be between 0 and 1000.")
    if (s.get("timeout_seconds") or 0) < 0:
        problems.append("timeout_seconds cannot be negative.")
    if len(s.get("tags") or {}) > 25:
        problems.append("A job can carry at most 25 tags.")
    for when, addresses in (s.get("email_notifications") or {}).items():
        if isinstance(addresses, list):
            problems.extend(
                f"{a!r} in email_notifications.{when} is not an email address."
                for a in addresses
                if not EMAIL.match(str(a))
            )
    return problems


def _task_problems(
    task: dict[str, Any], keys: set[str], job_clusters: set[str], environments: set[str]
) -> list[str]:
    key = task.get("task_key") or ""
    name = f"Task {key!r}" if key else "A task"
    out: list[str] = []
    if not key:
        out.append("A task has no task_key.")
    elif not TASK_KEY.match(key):
        out.append(f"{name}: task keys may use letters, digits, '_', '-' and '.', up to 100 characters.")
    kinds = [k for k in TASK_TYPES if k in task]
    if not kinds:
        out.append(f"{name} has nothing to run: give it exactly one task type (e.g. notebook_task).")
    elif len(kinds) > 1:
        out.append(f"{name} has {len(kinds)} task types ({', '.join(kinds)}); exactly one is allowed.")
    for kind in kinds:
        for req in REQUIRED.get(kind, ()):
            if task[kind].get(req) in (None, "", []):
                out.append(f"{name}: {kind}.{req} is required.")
    for dep in task.get("depends_on") or []:
        if dep.get("task_key") not in keys:
            out.append(f"{name} depends on {dep.get('task_key')!r}, which is not a task of this job.")
        elif dep.get("task_key") == key:
            out.append(f"{name} depends on itself.")
    compute = [
        c for c in ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key") if task.get(c)
    ]
    if len(compute) > 1:
        out.append(f"{name} names more than one compute ({', '.join(compute)}); choose one.")
    if task.get("job_cluster_key") and task["job_cluster_key"] not in job_clusters:
        out.append(
            f"{name} uses job cluster {task['job_cluster_key']!r}, which job_clusters does not define."
        )
    if task.get("environment_key") and task["environment_key"] not in environments:
        out.append(
            f"{name} uses environment {task['environment_key']!r}, which environments does not define."
        )
    if task.get("new_cluster"):
        out.extend(f"{name}: {p}" for p in cluster_problems(task["new_cluster"]))
    if (task.get("max_retries") or 0) < -1:
        out.append(f"{name}: max_retries must be -1 (forever) or more.")
    return out


def cluster_problems(c: dict[str, Any]) -> list[str]:
    out = []
    if not c.get("spark_version"):
        out.append("new_cluster.spark_version is required.")
    if not (c.get("node_type_id") or c.get("instance_pool_id")):
        out.append("new_cluster needs node_type_id (or instance_pool_id).")
    auto = c.get("autoscale")
    if auto and c.get("num_workers") not in (None, 0):
        out.append("new_cluster sets both num_workers and autoscale; use one.")
    if auto and int(auto.get("min_workers", 0)) > int(auto.get("max_workers", 0)):
        out.append("autoscale.min_workers is larger than autoscale.max_workers.")
    return out


def _schedule_problems(s: dict[str, Any]) -> list[str]:
    out = []
    sched = s.get("schedule")
    if sched:
        err = quartz_error(sched.get("quartz_cron_expression") or "")
        if err:
            out.append(f"Schedule {sched.get('quartz_cron_expression')!r} is not valid Quartz cron: {err}")
        tz_err = timezone_error(sched.get("timezone_id") or "")
        if tz_err:
            out.append(f"Time zone {sched.get('timezone_id')!r}: {tz_err}")
        if sched.get("pause_status") not in (None, "PAUSED", "UNPAUSED"):
            out.append("schedule.pause_status must be PAUSED or UNPAUSED.")
    trigger = s.get("trigger")
    if trigger:
        kinds = [k for k in ("periodic", "file_arrival", "table_update", "table") if trigger.get(k)]
        if len(kinds) != 1:
            out.append("A trigger needs exactly one of periodic, file_arrival or table_update.")
        if trigger.get("file_arrival") and not trigger["file_arrival"].get("url"):
            out.append("trigger.file_arrival.url is required (a volume or external location).")
    return out


def find_cycle(tasks: list[dict[str, Any]]) -> list[str]:
    """A dependency cycle as a list of task keys (first key repeated at the end), or []."""
    graph = {t.get("task_key"): [d.get("task_key") for d in t.get("depends_on") or []] for t in tasks}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def workspace_problems(s: dict[str, Any], ws: Workspace) -> list[str]:
    """Do the notebooks, files, node types, Spark versions, clusters and warehouses exist?"""
    out: list[str] = []
    clusters = [c.get("new_cluster", {}) for c in s.get("job_clusters") or []]
    for task in s.get("tasks") or []:
        key = task.get("task_key")
        nb = (task.get("notebook_task") or {}).get("notebook_path")
        if (
            nb
            and (task["notebook_task"].get("source") or "WORKSPACE") == "WORKSPACE"
            and not ws.path_exists(nb)
        ):
            out.append(f"Task {key!r}: notebook {nb} does not exist in the workspace. Check the path.")
        py = (task.get("spark_python_task") or {}).get("python_file")
        if py and py.startswith("/") and not ws.path_exists(py):
            out.append(f"Task {key!r}: Python file {py} does not exist in the workspace.")
        sql_file = ((task.get("sql_task") or {}).get("file") or {}).get("path")
        if sql_file and sql_file.startswith("/") and not ws.path_exists(sql_file):
            out.append(f"Task {key!r}: SQL file {sql_file} does not exist in the workspace.")
        cluster_id = task.get("existing_cluster_id")
        if cluster_id and not ws.cluster_exists(cluster_id):
            out.append(f"Task {key!r}: cluster {cluster_id} does not exist.")
        for section in ("sql_task", "dbt_task"):
            wh = (task.get(section) or {}).get("warehouse_id")
            if wh and not ws.warehouse_exists(wh):
                out.append(f"Task {key!r}: SQL warehouse {wh} does not exist.")
        if task.get("new_cluster"):
            clusters.append(task["new_cluster"])
    for c in clusters:
        node = c.get("node_type_id")
        if node and node not in ws.node_types:
            out.append(
                f"Node type {node!r} is not available in this workspace (try: {_some(ws.node_types)})."
            )
        version = c.get("spark_version")
        if version and version not in ws.spark_versions:
            out.append(f"Spark version {version!r} is not available (try: {_some(ws.spark_versions)}).")
    return list(dict.fromkeys(out))


def _some(values: set[str], n: int = 4) -> str:
    return ", ".join(sorted(values)[:n])


def unknown_fields(raw: dict[str, Any], parsed: dict[str, Any], path: str = "") -> list[str]:
    """Keys that `JobSettings.from_dict` silently dropped (typos, wrong nesting), with suggestions."""
    import difflib

    out = []
    for key, value in raw.items():
        here = f"{path}.{key}" if path else key
        if key not in parsed:
            guess = difflib.get_close_matches(key, list(parsed) + _known_keys(path), n=1)
            tip = f" Did you mean {guess[0]!r}?" if guess else ""
            out.append(f"Unknown field {here!r} (Databricks would ignore it).{tip}")
        elif (
            isinstance(value, dict)
            and isinstance(parsed[key], dict)
            and key not in ("tags", "base_parameters", "named_parameters")
        ):
            out.extend(unknown_fields(value, parsed[key], here))
        elif isinstance(value, list) and isinstance(parsed[key], list):
            for i, (r, p) in enumerate(zip(value, parsed[key], strict=False)):
                if isinstance(r, dict) and isinstance(p, dict):
                    out.extend(unknown_fields(r, p, f"{here}[{i}]"))
    return out


def _known_keys(path: str) -> list[str]:
    from dataclasses import fields

    from databricks.sdk.service.jobs import JobSettings, Task

    if path == "":
        return [f.name for f in fields(JobSettings)]
    if path.startswith("tasks[") and path.count(".") == 0:
        return [f.name for f in fields(Task)]
    return []
