"""Job runs that move forward one step per runs/get poll, so tests and demos are deterministic.

A run's outcome is decided when it starts, from what the real service would only find out then:
a notebook or file that does not exist, an unknown cluster, node type, Spark version, warehouse or
job, or a notebook/file path containing "fail" (a deliberate failure for demos). Downstream tasks of
a failed task end UPSTREAM_FAILED. Polls then walk PENDING -> RUNNING -> TERMINATED over
`run_steps` polls. A run started while `max_concurrent_runs` runs are active waits QUEUED (or is
SKIPPED when queueing is off); polling a queued run also advances the runs ahead of it, so nobody
waits on a run that no one polls.
"""

from __future__ import annotations

import copy
from typing import Any

from standins.databricks.errors import invalid
from standins.databricks.seed import NODE_TYPES, SPARK_VERSIONS
from standins.databricks.state import Store, now_ms
from standins.databricks.task_validation import TASK_TYPES
from standins.databricks.workspace_files import lookup

NODE_TYPE_IDS = {n["node_type_id"] for n in NODE_TYPES}
SPARK_VERSION_KEYS = {v["key"] for v in SPARK_VERSIONS}
TERMINAL = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}


def stages(steps: int) -> list[str]:
    """Life-cycle states seen after 0, 1, 2, ... polls; the last one repeats."""
    if steps <= 0:
        return ["TERMINATED"]
    if steps == 1:
        return ["PENDING", "TERMINATED"]
    return ["PENDING"] * (steps - 1) + ["RUNNING", "TERMINATED"]


# -- starting a run ----------------------------------------------------------------------------------


def start_run(
    store: Store, job: dict[str, Any], steps: int, user: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Create the run record for run-now; caller holds the lock and has validated `params`."""
    settings = job["settings"]
    tasks = copy.deepcopy(settings.get("tasks") or [])
    only = params.get("only")
    if only:
        unknown = sorted(set(only) - {t["task_key"] for t in tasks})
        if unknown:
            raise invalid(f"Tasks {', '.join(unknown)} in 'only' are not tasks of job {job['job_id']}.")
        tasks = [t for t in tasks if t["task_key"] in only]
    run_id = store.next_id("run")
    now = now_ms()
    run: dict[str, Any] = {
        "run_id": run_id,
        "job_id": job["job_id"],
        "number_in_job": run_id,
        "original_attempt_run_id": run_id,
        "attempt_number": 0,
        "creator_user_name": user,
        "run_name": settings.get("name") or "Untitled",
        "run_type": "JOB_RUN",
        "trigger": "ONE_TIME",
        "format": "MULTI_TASK",
        "start_time": now,
        "polls": 0,
        "steps": steps,
        "tasks": [{**t, "run_id": store.next_id("run")} for t in tasks],
        "job_clusters": copy.deepcopy(settings.get("job_clusters") or []),
        "job_parameters": _job_parameters(settings, params.get("job_parameters") or {}),
        "overriding_parameters": {k: v for k, v in params.items() if k.endswith("_params") and v is not None},
        "outcome": _outcome(store, tasks, settings.get("job_clusters") or []),
    }
    limit = settings.get("max_concurrent_runs", 1)
    active = [r for r in store.data["runs"].values() if r["job_id"] == job["job_id"] and not is_terminal(r)]
    if limit == 0 or len(active) >= limit:
        queue = (settings.get("queue") or {}).get("enabled", False)
        if queue and limit > 0:
            run["queued"] = True
        else:
            run["skipped"] = (
                f"Skipping this run because the limit of {limit} maximum concurrent runs has been reached."
            )
            run["end_time"] = now
    if is_terminal(run):
        run.setdefault("end_time", max(now, run["start_time"] + 1))
    store.data["runs"][str(run_id)] = run
    store.mark_dirty()
    return run


def _job_parameters(settings: dict, given: dict[str, str]) -> list[dict[str, str]]:
    out = []
    for p in settings.get("parameters") or []:
        entry = {"name": p["name"], "default": p.get("default", "")}
        entry["value"] = given.get(p["name"], entry["default"])
        out.append(entry)
    known = {p["name"] for p in out}
    out += [{"name": k, "value": v} for k, v in given.items() if k not in known]
    return out


def _outcome(store: Store, tasks: list[dict], job_clusters: list[dict]) -> dict[str, Any]:
    results: dict[str, dict[str, str]] = {}
    by_key = {t["task_key"]: t for t in tasks}
    for key in _topological(by_key):
        task = by_key[key]
        deps = [d["task_key"] for d in task.get("depends_on") or [] if d["task_key"] in results]
        failed_dep = [d for d in deps if results[d]["result_state"] in ("FAILED", "UPSTREAM_FAILED")]
        if task.get("disabled"):
            results[key] = {
                "result_state": "DISABLED",
                "code": "DISABLED",
                "message": "This task is disabled.",
            }
        elif failed_dep and task.get("run_if", "ALL_SUCCESS") == "ALL_SUCCESS":
            results[key] = {
                "result_state": "UPSTREAM_FAILED",
                "code": "RUN_EXECUTION_ERROR",
                "message": f"Upstream task {failed_dep[0]!r} failed.",
            }
        else:
            problem = task_problem(store, task, job_clusters)
            results[key] = (
                {"result_state": "FAILED", "code": problem[0], "message": problem[1]}
                if problem
                else {"result_state": "SUCCESS", "code": "SUCCESS", "message": ""}
            )
    failures = [r for r in results.values() if r["result_state"] == "FAILED"]
    if failures:
        overall = {"result_state": "FAILED", "code": failures[0]["code"], "message": failures[0]["message"]}
    else:
        overall = {"result_state": "SUCCESS", "code": "SUCCESS", "message": ""}
    return {"run": overall, "tasks": results}


def _topological(by_key: dict[str, dict]) -> list[str]:
    order: list[str] = []
    done: set[str] = set()
    pending = list(by_key)
    while pending:
        progressed = False
        for key in list(pending):
            deps = {d["task_key"] for d in by_key[key].get("depends_on") or []} & set(by_key)
            if deps <= done:
                order.append(key)
                done.add(key)
                pending.remove(key)
                progressed = True
        if not progressed:  # cannot happen for validated settings; keep going anyway
            order += pending
            break
    return order


def task_problem(store: Store, task: dict[str, Any], job_clusters: list[dict]) -> tuple[str, str] | None:
    """Why this task would fail when it runs, as (termination code, message), or None."""
    kind = next((t for t in TASK_TYPES if task.get(t) is not None), None)
    body = task.get(kind) or {}
    cluster = task.get("new_cluster")
    if task.get("job_cluster_key"):
        cluster = next(
            (
                c.get("new_cluster")
                for c in job_clusters
                if c.get("job_cluster_key") == task["job_cluster_key"]
            ),
            None,
        )
    if task.get("existing_cluster_id") and task["existing_cluster_id"] not in store.data["clusters"]:
        return "CLUSTER_ERROR", f"Cluster {task['existing_cluster_id']} does not exist"
    if cluster:
        if cluster.get("node_type_id") and cluster["node_type_id"] not in NODE_TYPE_IDS:
            return "INVALID_CLUSTER_REQUEST", f"Node type {cluster['node_type_id']} is not supported."
        if cluster.get("spark_version") and cluster["spark_version"] not in SPARK_VERSION_KEYS:
            return "INVALID_CLUSTER_REQUEST", f"Invalid spark version {cluster['spark_version']}."
    path = body.get("notebook_path") or body.get("python_file")
    if path:
        if "fail" in path.lower():
            return "RUN_EXECUTION_ERROR", f"Workload failed: {path} raised an exception."
        in_workspace = path.startswith("/") and body.get("source") != "GIT"
        if in_workspace and lookup(store, path) is None:
            what = "notebook" if kind == "notebook_task" else "file"
            return "RESOURCE_NOT_FOUND", f"Unable to access the {what} {path!r}: it does not exist."
    if kind == "sql_task" and body.get("warehouse_id") not in store.data["warehouses"]:
        return "RESOURCE_NOT_FOUND", f"SQL warehouse {body.get('warehouse_id')} does not exist."
    if kind == "run_job_task" and str(body.get("job_id")) not in store.data["jobs"]:
        return "RESOURCE_NOT_FOUND", f"Job {body.get('job_id')} does not exist."
    return None


# -- progress --------------------------------------------------------------------------------------


def is_terminal(run: dict[str, Any]) -> bool:
    return bool(run.get("skipped") or run.get("cancelled")) or (
        not run.get("queued") and run["polls"] >= len(stages(run["steps"])) - 1
    )


def advance(store: Store, run: dict[str, Any], settings: dict | None) -> None:
    """One poll's worth of progress; caller holds the lock."""
    if is_terminal(run):
        return
    if run.get("queued"):
        limit = (settings or {}).get("max_concurrent_runs", 1) or 1
        for attempt in range(2):
            earlier = [
                r
                for r in store.data["runs"].values()
                if r["job_id"] == run["job_id"] and r["run_id"] < run["run_id"] and not is_terminal(r)
            ]
            blocked = len(earlier) >= limit or any(r.get("queued") for r in earlier)
            if not blocked:
                break
            if attempt == 0:
                for other in earlier:  # time passes for the runs ahead of this one too
                    advance(store, other, settings)
        if blocked:
            store.mark_dirty()
            return
        run["queued"] = False
        run["queue_duration"] = now_ms() - run["start_time"]
    run["polls"] += 1
    if is_terminal(run):
        run["end_time"] = max(now_ms(), run["start_time"] + 1)
    store.mark_dirty()


def cancel(store: Store, run: dict[str, Any]) -> None:
    if not is_terminal(run):
        run["cancelled"] = True
        run["end_time"] = max(now_ms(), run["start_time"] + 1)
        store.mark_dirty()
