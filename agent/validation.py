"""The Worker's own checks: `JobSettings.from_dict` accepts anything, so validation is ours.

`settings_problems` is pure (shape, keys, graph, schedule, the service's limits and the team's);
`workspace_problems` asks the workspace whether what the settings point at exists; `unknown_fields`
says what the SDK would drop. All return every problem, not just the first. The rules live by subject
in `validation_schema` (the SDK's dataclasses as a schema), `validation_job`, `validation_tasks` and
`validation_schedule`; the team's sanity limits (JOBAGENT_MAX_*) in `limits`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.limits import Limits, limit_problems
from agent.validation_cluster import cluster_problems
from agent.validation_job import dicts, job_problems
from agent.validation_schedule import schedule_problems
from agent.validation_schema import missing_required, unknown_fields
from agent.validation_tasks import (
    NEEDS_COMPUTE,
    TASK_KEY,
    TASK_TYPES,
    JobContext,
    task_problems,
    task_types,
)

if TYPE_CHECKING:
    from agent.workspace import Workspace

__all__ = [
    "NEEDS_COMPUTE",
    "TASK_KEY",
    "TASK_TYPES",
    "cluster_problems",
    "find_cycle",
    "settings_problems",
    "task_type",
    "unknown_fields",
    "workspace_problems",
]
MAX_TASKS = 1000


def task_type(task: dict[str, Any]) -> str | None:
    kinds = task_types(task)
    return kinds[0] if len(kinds) == 1 else None


def settings_problems(s: dict[str, Any], limits: Limits | None = None) -> list[str]:
    """Everything in these settings the Jobs API would refuse (or that cannot run), and what goes over
    the team's `limits` (default: read from the environment on each call, so plan and apply both check
    them; ConfigError if a variable is bad), each said with what to change. Works on raw settings too:
    values of the wrong type are left to `unknown_fields`."""
    if not isinstance(s, dict):
        return ["The job settings must be an object."]
    problems = job_problems(s)
    tasks = dicts(s.get("tasks"))
    if not tasks:
        problems.append(
            "The job has no tasks: say what to run (a notebook path, a Python file, a wheel, SQL…)."
        )
    if len(tasks) > MAX_TASKS:
        problems.append(f"The job has {len(tasks)} tasks; Databricks allows at most {MAX_TASKS}.")
    keys = [t.get("task_key") for t in tasks if isinstance(t.get("task_key"), str)]
    for dup in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"Task key {dup!r} is used more than once; task keys must be unique.")
    job = JobContext(
        keys=set(keys),
        kinds={t["task_key"]: task_type(t) for t in tasks if t.get("task_key") in keys},
        job_clusters=_keys(s.get("job_clusters"), "job_cluster_key"),
        environments=_keys(s.get("environments"), "environment_key"),
        git=bool(s.get("git_source")),
    )
    for cluster in dicts(s.get("job_clusters")):
        if isinstance(cluster.get("new_cluster"), dict):
            name = f"Job cluster {cluster.get('job_cluster_key')!r}"
            problems.extend(f"{name}: {p}" for p in cluster_problems(cluster["new_cluster"]))
    for task in tasks:
        problems.extend(task_problems(task, job))
    cycle = find_cycle(tasks)
    if cycle:
        problems.append("Tasks depend on each other in a cycle: " + " → ".join(cycle) + ".")
    problems.extend(schedule_problems(s))
    mcr = s.get("max_concurrent_runs")
    if _number(mcr) and not 0 <= mcr <= 1000:
        problems.append(f"max_concurrent_runs is {mcr}; the Jobs API allows between 0 and 1000.")
    if _number(s.get("timeout_seconds")) and s["timeout_seconds"] < 0:
        problems.append("timeout_seconds cannot be negative.")
    problems.extend(limit_problems(s, Limits.from_env() if limits is None else limits))
    problems.extend(missing_required(s))
    return list(dict.fromkeys(problems))


def _keys(items: Any, key_name: str) -> set[str]:
    return {i[key_name] for i in dicts(items) if isinstance(i.get(key_name), str)}


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def find_cycle(tasks: list[dict[str, Any]]) -> list[str]:
    """A dependency cycle as a list of task keys (first key repeated at the end), or []."""
    graph = {
        t["task_key"]: [d["task_key"] for d in dicts(t.get("depends_on")) if _is_str(d.get("task_key"))]
        for t in dicts(tasks)
        if isinstance(t.get("task_key"), str)
    }
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


def workspace_problems(s: dict[str, Any], ws: Workspace, *, paths: bool = True) -> list[str]:
    """Do the notebooks, files, node types, Spark versions, clusters and warehouses exist? (`paths`:
    check notebooks and files too; one call each.)

    The Jobs API refuses a cluster whose Spark version the workspace does not have; that list is the
    workspace's, so only this check (not `settings_problems`) can see it.
    """
    out: list[str] = []
    clusters = [c.get("new_cluster") for c in dicts(s.get("job_clusters"))]
    for task in _all_tasks(s):
        key = task.get("task_key")
        notebook = _section(task, "notebook_task")
        nb = notebook.get("notebook_path")
        if paths and _workspace_path(nb, notebook.get("source"), s) and not ws.path_exists(nb):
            out.append(f"Task {key!r}: notebook {nb} does not exist in the workspace. Check the path.")
        python = _section(task, "spark_python_task")
        py = python.get("python_file")
        if paths and _workspace_path(py, python.get("source"), s) and not ws.path_exists(py):
            out.append(f"Task {key!r}: Python file {py} does not exist in the workspace.")
        sql_file = _section(_section(task, "sql_task"), "file")
        path = sql_file.get("path")
        if paths and _workspace_path(path, sql_file.get("source"), s) and not ws.path_exists(path):
            out.append(f"Task {key!r}: SQL file {path} does not exist in the workspace.")
        cluster_id = task.get("existing_cluster_id")
        if isinstance(cluster_id, str) and cluster_id and not ws.cluster_exists(cluster_id):
            out.append(f"Task {key!r}: cluster {cluster_id} does not exist.")
        for kind in ("sql_task", "dbt_task"):
            wh = _section(task, kind).get("warehouse_id")
            if isinstance(wh, str) and wh and not ws.warehouse_exists(wh):
                out.append(f"Task {key!r}: SQL warehouse {wh} does not exist.")
        clusters.append(task.get("new_cluster"))
    for c in (c for c in clusters if isinstance(c, dict)):
        node = c.get("node_type_id")
        if node and not ws.has_node_type(node):
            out.append(
                f"Node type {node!r} is not available in this workspace (try: {_some(ws.node_types)})."
            )
        version = c.get("spark_version")
        if version and not ws.has_spark_version(version):
            out.append(
                f"Spark version {version!r} is not available in this workspace, so Databricks would "
                f"refuse the cluster (try: {_some(ws.spark_versions)})."
            )
    return list(dict.fromkeys(out))


def _all_tasks(s: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's tasks and the inner task of each for_each task."""
    tasks = dicts(s.get("tasks"))
    inner = [_section(t, "for_each_task").get("task") for t in tasks]
    return tasks + [t for t in inner if isinstance(t, dict)]


def _section(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = obj.get(name)
    return value if isinstance(value, dict) else {}


def _workspace_path(path: Any, source: Any, s: dict[str, Any]) -> bool:
    """An absolute path read from the workspace (not from git_source, not a cloud URI)."""
    from_git = source == "GIT" or (source is None and bool(s.get("git_source")))
    return isinstance(path, str) and path.startswith("/") and not from_git


def _some(values: set[str], n: int = 4) -> str:
    return ", ".join(sorted(values)[:n])
