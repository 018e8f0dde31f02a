"""How a stored run looks through runs/get and runs/list: state, status, timings and task runs.

Kept apart from `runs.py` so the progress rules and the wire shape can change independently.
"""

from __future__ import annotations

import copy
from typing import Any

from standins.databricks.runs import stages
from standins.databricks.seed import WORKSPACE_ID

INTERNAL = {"polls", "steps", "outcome", "queued", "skipped", "cancelled", "idempotency_token"}
V2_STATE = {
    "QUEUED": "QUEUED",
    "PENDING": "PENDING",
    "RUNNING": "RUNNING",
    "BLOCKED": "BLOCKED",
    "TERMINATED": "TERMINATED",
    "SKIPPED": "TERMINATED",
    "INTERNAL_ERROR": "TERMINATED",
}


def life_cycle(run: dict[str, Any]) -> str:
    if run.get("skipped"):
        return "SKIPPED"
    if run.get("cancelled"):
        return "TERMINATED"
    if run.get("queued"):
        return "QUEUED"
    seq = stages(run["steps"])
    return seq[min(run["polls"], len(seq) - 1)]


def page_url(base_url: str, job_id: int, run_id: int) -> str:
    return f"{base_url}/jobs/{job_id}/runs/{run_id}?o={WORKSPACE_ID}"


def render_run(run: dict[str, Any], base_url: str, *, include_tasks: bool = True) -> dict[str, Any]:
    lc = life_cycle(run)
    outcome = run["outcome"]["run"]
    out = {
        k: copy.deepcopy(v)
        for k, v in run.items()
        if k not in INTERNAL and k not in ("tasks", "job_clusters")
    }
    terminal = lc in ("TERMINATED", "SKIPPED")
    end = run.get("end_time", 0) if terminal else 0
    state: dict[str, Any] = {"life_cycle_state": lc, "user_cancelled_or_timedout": bool(run.get("cancelled"))}
    status: dict[str, Any] = {"state": V2_STATE[lc]}
    if lc == "QUEUED":
        state["queue_reason"] = "Queued due to reaching maximum concurrent runs of the job."
        state["state_message"] = state["queue_reason"]
        status["queue_details"] = {"code": "MAX_CONCURRENT_RUNS_REACHED", "message": state["queue_reason"]}
    elif lc == "SKIPPED":
        state["state_message"] = run["skipped"]
        status["termination_details"] = {
            "code": "MAX_CONCURRENT_RUNS_EXCEEDED",
            "type": "CLIENT_ERROR",
            "message": run["skipped"],
        }
    elif run.get("cancelled"):
        state.update(result_state="CANCELED", state_message="Run cancelled.")
        status["termination_details"] = {"code": "CANCELED", "type": "SUCCESS", "message": "Run cancelled."}
    elif lc == "TERMINATED":
        state.update(result_state=outcome["result_state"], state_message=outcome["message"])
        status["termination_details"] = {
            "code": outcome["code"],
            "type": "SUCCESS" if outcome["result_state"] == "SUCCESS" else "CLIENT_ERROR",
            "message": outcome["message"],
        }
    else:
        state["state_message"] = "Waiting for cluster" if lc == "PENDING" else "In run"
    out.update(
        state=state,
        status=status,
        end_time=end,
        setup_duration=0,
        execution_duration=0,
        cleanup_duration=0,
        run_duration=max(0, end - run["start_time"]) if terminal else 0,
        queue_duration=run.get("queue_duration", 0),
        run_page_url=page_url(base_url, run["job_id"], run["run_id"]),
    )
    if not out.get("job_parameters"):
        out.pop("job_parameters", None)
    if not out.get("overriding_parameters"):
        out.pop("overriding_parameters", None)
    if include_tasks:
        out["tasks"] = [_render_task(run, t, lc, end, base_url) for t in run["tasks"]]
        if run.get("job_clusters"):
            out["job_clusters"] = copy.deepcopy(run["job_clusters"])
    elif len(run["tasks"]) > 100 or len(run.get("job_clusters") or []) > 100:
        out["has_more"] = True
    return out


def _render_task(run: dict, task: dict, run_lc: str, end: int, base_url: str) -> dict[str, Any]:
    out = copy.deepcopy(task)
    result = run["outcome"]["tasks"].get(task["task_key"], {"result_state": "SUCCESS", "message": ""})
    has_deps = bool(task.get("depends_on"))
    if run_lc in ("QUEUED", "PENDING"):
        lc = "BLOCKED" if has_deps else "PENDING"
    elif run_lc == "RUNNING":
        lc = "BLOCKED" if has_deps else "RUNNING"
    elif run_lc == "SKIPPED":
        lc = "SKIPPED"
    else:
        lc = "TERMINATED"
    state: dict[str, Any] = {"life_cycle_state": lc, "user_cancelled_or_timedout": bool(run.get("cancelled"))}
    if lc == "TERMINATED":
        state["result_state"] = "CANCELED" if run.get("cancelled") else result["result_state"]
        state["state_message"] = "Run cancelled." if run.get("cancelled") else result["message"]
    else:
        state["state_message"] = ""
    out.update(
        state=state,
        status={"state": V2_STATE.get(lc, lc)},
        attempt_number=0,
        start_time=run["start_time"] if lc not in ("PENDING", "BLOCKED", "SKIPPED") else 0,
        end_time=end if lc in ("TERMINATED", "SKIPPED") else 0,
        setup_duration=0,
        execution_duration=max(0, end - run["start_time"]) if lc == "TERMINATED" else 0,
        cleanup_duration=0,
        run_page_url=page_url(base_url, run["job_id"], task["run_id"]),
    )
    return out
