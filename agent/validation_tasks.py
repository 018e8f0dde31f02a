"""Task-level checks: one task type, its body, dependencies, compute and clusters."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk.service.jobs import Task

from agent.validation_cluster import cluster_problems, library_problems
from agent.validation_job import dicts, notification_problems, section

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
# On serverless these need an environment (Task.environment_key); notebooks use their own.
NEEDS_ENVIRONMENT = ("spark_python_task", "python_wheel_task", "dbt_task", "spark_jar_task")
COMPUTE = ("existing_cluster_id", "new_cluster", "job_cluster_key", "environment_key")
TASK_KEY = re.compile(r"^[\w\-.]{1,100}$", re.ASCII)
URI = re.compile(r"^[a-z][a-z0-9+.-]*:/", re.IGNORECASE)
SQL_PARTS = ("query", "file", "dashboard", "alert")
MAX_DBT_COMMANDS, MAX_FOR_EACH_CONCURRENCY = 10, 100


@dataclass
class JobContext:
    """What a task may refer to in its job."""

    keys: set[str] = field(default_factory=set)
    kinds: dict[str, str | None] = field(default_factory=dict)  # task key → task type
    job_clusters: set[str] = field(default_factory=set)
    environments: set[str] = field(default_factory=set)
    git: bool = False


def task_types(task: dict[str, Any]) -> list[str]:
    return [k for k in TASK_TYPES if task.get(k) is not None]


def task_problems(task: dict[str, Any], job: JobContext, *, inner_of: str = "") -> list[str]:
    """Every problem of one task; `inner_of` names the for_each task a nested task runs in."""
    key = task.get("task_key") if isinstance(task.get("task_key"), str) else ""
    name = f"Task {key!r}" if key else "A task"
    if inner_of:
        name = f"The inner task of for_each task {inner_of!r}"
    out: list[str] = []
    if not key:
        out.append(f"{name} has no task_key.")
    elif not TASK_KEY.match(key):
        out.append(f"{name}: task keys may use letters, digits, '_', '-' and '.', up to 100 characters.")
    kinds = task_types(task)
    if not kinds:
        out.append(f"{name} has nothing to run: give it exactly one task type (e.g. notebook_task).")
    elif len(kinds) > 1:
        out.append(f"{name} has {len(kinds)} task types ({', '.join(kinds)}); exactly one is allowed.")
    for kind in kinds:
        if isinstance(task[kind], dict):
            out.extend(_body_problems(kind, task[kind], job, name, key, inner_of))
    if not inner_of:
        out.extend(_dependency_problems(task, key, name, job))
    out.extend(_compute_problems(task, kinds, name, job))
    for number, minimum, what in (
        ("max_retries", -1, "-1 (retry forever) or more"),
        ("timeout_seconds", 0, "0 (no timeout) or more"),
        ("min_retry_interval_millis", 0, "0 or more"),
    ):
        value = task.get(number)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < minimum:
            out.append(f"{name}: {number} must be {what}.")
    out.extend(library_problems(task, name))
    out.extend(notification_problems(task, name))
    return out


def _dependency_problems(task: dict[str, Any], key: str, name: str, job: JobContext) -> list[str]:
    out = []
    for dep in dicts(task.get("depends_on")):
        target = dep.get("task_key")
        if not isinstance(target, str) or not target:
            continue  # a missing task_key is a missing required field; another type, a type problem
        if target not in job.keys:
            out.append(f"{name} depends on {target!r}, which is not a task of this job.")
            continue
        if target == key:
            out.append(f"{name} depends on itself.")
        outcome = dep.get("outcome")
        if outcome is None:
            continue
        if job.kinds.get(target) != "condition_task":
            out.append(
                f"{name} waits for outcome {outcome!r} of {target!r}, but only a condition task has an "
                "outcome. Remove the outcome, or depend on a condition_task."
            )
        elif outcome not in ("true", "false"):
            out.append(
                f'{name}: the outcome of condition task {target!r} is "true" or "false", not {outcome!r}.'
            )
    return out


def _body_problems(
    kind: str, body: dict[str, Any], job: JobContext, name: str, key: str, inner_of: str
) -> list[str]:
    out: list[str] = []
    nested: list[str] = []
    if body.get("source") == "GIT" and not job.git:
        out.append(f"{kind}.source is GIT but the job has no git_source: add git_source, or use WORKSPACE.")
    if kind in ("notebook_task", "spark_python_task"):
        attr = "notebook_path" if kind == "notebook_task" else "python_file"
        out.extend(
            _path_problems(kind, attr, body.get(attr), body.get("source"), job, kind != "notebook_task")
        )
    elif kind == "sql_task":
        parts = [p for p in SQL_PARTS if body.get(p)]
        if len(parts) != 1:
            got = f" (it has {' and '.join(parts)})" if parts else ""
            out.append(f"sql_task needs exactly one of query, file, dashboard or alert{got}.")
        sql_file = section(body.get("file"))
        out.extend(_path_problems("sql_task", "file.path", sql_file.get("path"), sql_file.get("source"), job))
    elif kind == "spark_jar_task" and not body.get("main_class_name"):
        out.append(
            "spark_jar_task needs main_class_name: the class with the main method (e.g. com.acme.Main), "
            "in a jar listed in the task's libraries."
        )
    elif kind == "dbt_task":
        commands = body.get("commands")
        if isinstance(commands, list) and len(commands) > MAX_DBT_COMMANDS:
            out.append(f"dbt_task has {len(commands)} commands; at most {MAX_DBT_COMMANDS} are allowed.")
        for command in commands if isinstance(commands, list) else []:
            if isinstance(command, str) and not command.strip().startswith("dbt"):
                out.append(f"dbt_task command {command!r} must start with 'dbt' (e.g. 'dbt run').")
    elif kind == "for_each_task":
        inner = body.get("task")
        if isinstance(inner, dict) and inner.get("for_each_task") is not None:
            out.append("a for_each_task cannot run another for_each_task; flatten the loop into one.")
        elif isinstance(inner, dict) and not inner_of:
            nested = task_problems(inner, job, inner_of=key or "?")
        concurrency = body.get("concurrency")
        if isinstance(concurrency, int) and not 1 <= concurrency <= MAX_FOR_EACH_CONCURRENCY:
            out.append(f"for_each_task.concurrency must be between 1 and {MAX_FOR_EACH_CONCURRENCY}.")
    return [f"{name}: {p}" for p in out] + nested


def _path_problems(
    kind: str, attr: str, path: Any, source: Any, job: JobContext, uri_ok: bool = False
) -> list[str]:
    """Workspace paths are absolute, Git paths relative to the repository (NotebookTask.notebook_path,
    SparkPythonTask.python_file and SqlTaskFile.path docstrings). Without `source`, a job with a
    git_source reads from the repository."""
    if not isinstance(path, str) or not path or (uri_ok and URI.match(path)):
        return []
    if source == "GIT" and not job.git:
        return []  # reported as a GIT source without git_source
    from_git = source == "GIT" or (source is None and job.git)
    if from_git and path.startswith("/"):
        return [
            f"{kind}.{attr} {path!r} comes from the Git repository (git_source), so it must be relative "
            f"to the repository root: write {path.lstrip('/')!r}, or set source to WORKSPACE to run "
            "the workspace copy."
        ]
    if from_git or path.startswith("/"):
        return []
    why = "source is WORKSPACE" if source == "WORKSPACE" else "the job has no git_source"
    return [
        f"{kind}.{attr} {path!r} is relative, but {why}: give the absolute workspace path "
        "(starting with /), or add git_source to run it from a repository."
    ]


def _compute_problems(task: dict[str, Any], kinds: list[str], name: str, job: JobContext) -> list[str]:
    out = []
    given = [c for c in COMPUTE if task.get(c)]
    if len(given) > 1:
        out.append(f"{name} names more than one compute ({', '.join(given)}); choose one.")
    cluster_key, env_key = task.get("job_cluster_key"), task.get("environment_key")
    if isinstance(cluster_key, str) and cluster_key and cluster_key not in job.job_clusters:
        out.append(f"{name} uses job cluster {cluster_key!r}, which job_clusters does not define.")
    if isinstance(env_key, str) and env_key and env_key not in job.environments:
        out.append(f"{name} uses environment {env_key!r}, which environments does not define.")
    kind = kinds[0] if len(kinds) == 1 else None
    if kind == "spark_submit_task" and given != ["new_cluster"]:
        out.append(
            f"{name}: spark_submit_task runs only on a new_cluster; give the task its own new_cluster."
        )
    elif kind in NEEDS_ENVIRONMENT and not given:
        out.append(
            f"{name} runs {kind} on serverless compute without an environment: set environment_key to "
            "an entry of environments (with spec.environment_version), or give the task a cluster."
        )
    if isinstance(task.get("new_cluster"), dict):
        out.extend(f"{name}: {p}" for p in cluster_problems(task["new_cluster"]))
    return out
