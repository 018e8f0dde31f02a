"""Task-level checks: one task type with its required fields, compute, dependencies and cycles."""

from __future__ import annotations

import re
from typing import Any

from standins.databricks.errors import invalid, malformed
from standins.databricks.params import as_int
from standins.databricks.validation_common import (
    KEY_PATTERN,
    check_cluster_spec,
    check_emails,
    check_health,
    check_types,
    check_webhooks,
    non_negative,
)

TASK_TYPES = (
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "spark_jar_task",
    "spark_submit_task",
    "sql_task",
    "dbt_task",
    "pipeline_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
    "clean_rooms_notebook_task",
    "dashboard_task",
    "alert_task",
    "power_bi_task",
    "gen_ai_compute_task",
    "dbt_cloud_task",
    "dbt_platform_task",
    "ai_function_task",
    "ai_runtime_task",
    "python_operator_task",
)
# Tasks that run code on Spark: classic compute, or serverless through an environment.
CLUSTER_TASKS = {"spark_python_task", "python_wheel_task", "spark_jar_task", "spark_submit_task", "dbt_task"}
# Notebooks may name compute, or run on serverless notebook compute when they name none.
MAX_TASKS = 1000
COMPUTE_FIELDS = ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key")
REQUIRED_FIELDS = {
    "notebook_task": ("notebook_path",),
    "spark_python_task": ("python_file",),
    "python_wheel_task": ("package_name", "entry_point"),
    "spark_jar_task": ("main_class_name",),
    "pipeline_task": ("pipeline_id",),
    "run_job_task": ("job_id",),
    "condition_task": ("op", "left", "right"),
    "for_each_task": ("inputs", "task"),
    "sql_task": ("warehouse_id",),
    "dbt_task": ("commands",),
}
# Enum values (run_if, condition_task.op, notebook/python/sql file source, ...) are checked against
# the SDK's Enum classes by schema.read_settings before these rules run.
TASK_TYPES_OF_FIELDS: dict[str, type | tuple[type, ...]] = {
    "task_key": str,
    "description": str,
    "depends_on": list,
    "existing_cluster_id": str,
    "new_cluster": dict,
    "job_cluster_key": str,
    "environment_key": str,
    "libraries": list,
    "max_retries": int,
    "min_retry_interval_millis": int,
    "retry_on_timeout": bool,
    "timeout_seconds": int,
    "run_if": str,
    "email_notifications": dict,
    "webhook_notifications": dict,
    "notification_settings": dict,
    "disabled": bool,
    "health": dict,
    **{t: dict for t in TASK_TYPES},
}


def check_tasks(tasks: list, cluster_keys: set[str], env_keys: set[str], git: bool) -> None:
    if len(tasks) > MAX_TASKS:
        raise invalid(f"A job can have at most {MAX_TASKS} tasks, got {len(tasks)}.")
    by_key: dict[str, dict] = {}
    for i, task in enumerate(tasks):
        check_task(task, f"tasks[{i}]", cluster_keys, env_keys, git)
        if task["task_key"] in by_key:
            raise invalid(f"Duplicate task_key {task['task_key']!r}: task keys must be unique within a job.")
        by_key[task["task_key"]] = task
    for key, task in by_key.items():
        for dep in task.get("depends_on") or []:
            target = by_key.get(dep["task_key"])
            if target is None:
                raise invalid(
                    f"Task {key!r} depends on {dep['task_key']!r}, which is not a task of this job."
                )
            if dep.get("outcome") is not None and "condition_task" not in target:
                raise invalid(
                    f"Task {key!r}: an outcome can only be set on a dependency on a condition task."
                )
    cycle = find_cycle({k: [d["task_key"] for d in t.get("depends_on") or []] for k, t in by_key.items()})
    if cycle:
        raise invalid(f"The task dependencies form a cycle: {' → '.join(cycle)}.")


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, ..., a], or None (iterative DFS, stable order)."""
    state: dict[str, int] = {}
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            deps = graph.get(node, [])
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if state.get(nxt) == 1:
                    return path[path.index(nxt) :] + [nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def check_task(task: Any, where: str, cluster_keys: set[str], env_keys: set[str], git: bool) -> None:
    if not isinstance(task, dict):
        raise malformed(f"Could not parse request object: {where} must be an object")
    check_types(task, TASK_TYPES_OF_FIELDS, f"{where}.")
    key = task.get("task_key")
    if not key:
        raise invalid(f"Missing required field: {where}.task_key")
    if not KEY_PATTERN.match(key):
        raise invalid(f"Invalid task_key {key!r}: use 1-100 letters, digits, '_', '-' or '.'.")
    kinds = [t for t in TASK_TYPES if task.get(t) is not None]
    if not kinds:
        raise invalid(f"Task {key!r} has no task type: set exactly one of {', '.join(TASK_TYPES[:11])}, ...")
    if len(kinds) > 1:
        raise invalid(f"Task {key!r} sets more than one task type ({', '.join(kinds)}); set exactly one.")
    kind = kinds[0]
    _check_task_body(key, kind, task[kind], git, cluster_keys, env_keys)
    _check_compute(task, key, kind, cluster_keys, env_keys)
    for i, dep in enumerate(task.get("depends_on") or []):
        if not isinstance(dep, dict) or not isinstance(dep.get("task_key"), str) or not dep["task_key"]:
            raise invalid(f"Task {key!r}: depends_on[{i}] needs a task_key.")
        if dep["task_key"] == key:
            raise invalid(f"The task dependencies form a cycle: {key} → {key}.")
        if dep.get("outcome") not in (None, "true", "false"):
            raise invalid(f"Task {key!r}: depends_on outcome must be 'true' or 'false'.")
    retries = task.get("max_retries")
    if retries is not None and retries < -1:
        raise invalid(f"Task {key!r}: max_retries must be -1 (retry forever) or more, got {retries}.")
    non_negative(task, "min_retry_interval_millis", f"Task {key!r}: ")
    non_negative(task, "timeout_seconds", f"Task {key!r}: ")
    check_emails(task.get("email_notifications"), f"tasks[{key}].email_notifications")
    check_webhooks(task.get("webhook_notifications"), f"tasks[{key}].webhook_notifications")
    check_health(task.get("health"), f"tasks[{key}].health")
    for i, lib in enumerate(task.get("libraries") or []):
        if not isinstance(lib, dict) or len([v for v in lib.values() if v]) != 1:
            raise invalid(
                f"Task {key!r}: libraries[{i}] must name exactly one library (whl, jar, pypi, ...)."
            )


def _check_task_body(
    key: str, kind: str, body: dict, git: bool, cluster_keys: set[str], env_keys: set[str]
) -> None:
    for field in REQUIRED_FIELDS.get(kind, ()):
        if body.get(field) in (None, "", [], {}):
            raise invalid(f"Task {key!r}: missing required field {kind}.{field}.")
    if kind in ("notebook_task", "spark_python_task"):
        field = "notebook_path" if kind == "notebook_task" else "python_file"
        path = body[field]
        if not isinstance(path, str):
            raise malformed(f"Could not parse request object: {kind}.{field} must be a string")
        from_git = body.get("source") == "GIT" or (git and body.get("source") != "WORKSPACE")
        is_uri = re.match(r"^[a-z0-9]+:/", path) is not None
        if body.get("source") == "GIT" and not git:
            raise invalid(f"Task {key!r} uses source GIT but the job has no git_source.")
        if not from_git and not is_uri and not path.startswith("/"):
            raise invalid(f"Task {key!r}: {kind}.{field} must be an absolute workspace path, got {path!r}.")
        # SDK docstrings of NotebookTask.notebook_path and SparkPythonTask.python_file: "For notebooks
        # [files] stored in a remote repository, the path must be relative."
        if from_git and path.startswith("/"):
            raise invalid(
                f"Task {key!r}: {kind}.{field} comes from the git repository, so it must be relative to "
                f"the repository root, got {path!r}."
            )
    elif kind == "sql_task":
        parts = [p for p in ("query", "file", "dashboard", "alert") if body.get(p)]
        if len(parts) != 1:
            raise invalid(f"Task {key!r}: sql_task needs exactly one of query, file, dashboard or alert.")
        needed = {"query": "query_id", "file": "path", "dashboard": "dashboard_id", "alert": "alert_id"}[
            parts[0]
        ]
        if not body[parts[0]].get(needed):
            raise invalid(f"Task {key!r}: missing required field sql_task.{parts[0]}.{needed}.")
    elif kind == "dbt_task":
        commands = body["commands"]
        if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
            raise malformed("Could not parse request object: dbt_task.commands must be an array of strings")
        if len(commands) > 10 or not all(c.strip().startswith("dbt") for c in commands):
            raise invalid(f"Task {key!r}: dbt_task needs 1-10 commands, each starting with 'dbt'.")
    elif kind == "run_job_task":
        as_int(body["job_id"], "run_job_task.job_id")
    elif kind == "for_each_task":
        inner = body["task"]
        if isinstance(inner, dict) and inner.get("for_each_task") is not None:
            raise invalid(f"Task {key!r}: a for_each_task cannot contain another for_each_task.")
        check_task(inner, f"tasks[{key}].for_each_task.task", cluster_keys, env_keys, git)
        concurrency = body.get("concurrency")
        if concurrency is not None and not (isinstance(concurrency, int) and 1 <= concurrency <= 100):
            raise invalid(f"Task {key!r}: for_each_task.concurrency must be between 1 and 100.")


def _check_compute(task: dict, key: str, kind: str, cluster_keys: set[str], env_keys: set[str]) -> None:
    given = [f for f in COMPUTE_FIELDS if task.get(f)]
    if len(given) > 1:
        raise invalid(f"Task {key!r} sets {' and '.join(given)}; a task can use only one kind of compute.")
    if kind in CLUSTER_TASKS and not given:
        raise invalid(
            f"Task {key!r} needs compute: set one of existing_cluster_id, new_cluster, job_cluster_key, "
            "or environment_key for serverless."
        )
    if kind == "spark_submit_task" and given and given[0] != "new_cluster":
        raise invalid(f"Task {key!r}: spark_submit_task can only run on a new_cluster.")
    if task.get("job_cluster_key") and task["job_cluster_key"] not in cluster_keys:
        raise invalid(
            f"Task {key!r} refers to job cluster {task['job_cluster_key']!r}, which is not defined "
            "in job_clusters."
        )
    if task.get("environment_key") and task["environment_key"] not in env_keys:
        raise invalid(
            f"Task {key!r} refers to environment {task['environment_key']!r}, which is not defined "
            "in environments."
        )
    if task.get("new_cluster"):
        check_cluster_spec(task["new_cluster"], f"tasks[{key}].new_cluster")
