"""Jobs API 2.2 (and 2.1 aliases): create, get, list, reset, update, delete, run-now and runs.

Behaviour mirrors the service where clients can tell: server-filled defaults on stored settings,
list pages that omit tasks unless `expand_tasks`, get pages of 100 array items with
`next_page_token`, update merging tasks / job_clusters by key, idempotent run-now, and an unknown
job answered with 400 INVALID_PARAMETER_VALUE "Job <id> does not exist." — which the SDK itself
turns into `ResourceDoesNotExist` for jobs/get and runs/get. Every call is checked against the job's
permissions (job_acl) and every run_as a caller chooses against run_as's rules.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from standins.databricks import job_acl, run_as, runs
from standins.databricks.errors import invalid, malformed
from standins.databricks.job_validation import validate_settings
from standins.databricks.params import Request, as_int, type_name
from standins.databricks.permissions import caller
from standins.databricks.run_view import render_run
from standins.databricks.schema import read_settings
from standins.databricks.state import Store, now_ms

PAGE = 100  # array items per jobs/get page
ARRAYS = ("tasks", "job_clusters", "parameters", "environments")
MERGED = {"tasks": "task_key", "job_clusters": "job_cluster_key"}
TASK_DEFAULTS = {
    "run_if": "ALL_SUCCESS",
    "timeout_seconds": 0,
    "email_notifications": {},
    "webhook_notifications": {},
}


def job_not_found(job_id: Any) -> Exception:
    return invalid(f"Job {job_id} does not exist.")


def _job(store: Store, req: Request, need: str) -> dict[str, Any]:
    """The job, once the caller is known to hold `need` on it (checked first, see job_acl.require)."""
    job_id = req.int_arg("job_id", required=True)
    job = store.data["jobs"].get(str(job_id))
    job_acl.require(store, caller(store, req), job_id, job, need)
    if job is None:
        raise job_not_found(job_id)
    return job


def _settings_arg(req: Request, name: str, required: bool) -> dict[str, Any] | None:
    value = req.body.get(name)
    if value is None:
        if required:
            raise invalid(f"Missing required field: {name}")
        return None
    if not isinstance(value, dict):
        raise malformed(f"Could not parse request object: {name} must be an object, got {type_name(value)}")
    return copy.deepcopy(value)


def with_defaults(
    settings: dict[str, Any], default_run_as: dict[str, str], queue_default: bool
) -> dict[str, Any]:
    """The settings as the service stores them: ignored fields dropped, defaults filled in (run_as: the
    owner's identity, see run_as.for_owner)."""
    out = copy.deepcopy(settings)
    out["format"] = "MULTI_TASK"
    out.setdefault("name", "Untitled")
    out.setdefault("email_notifications", {})
    out.setdefault("webhook_notifications", {})
    out.setdefault("timeout_seconds", 0)
    out.setdefault("max_concurrent_runs", 1)
    out.setdefault("run_as", copy.deepcopy(default_run_as))
    if queue_default:
        out.setdefault("queue", {"enabled": True})
    for task in out.get("tasks") or []:
        for key, value in TASK_DEFAULTS.items():
            task.setdefault(key, copy.deepcopy(value))
    return out


def _queue_default(req: Request) -> bool:
    return req.path.startswith("/api/2.2/")


# -- job CRUD --------------------------------------------------------------------------------------


def create(store: Store, req: Request) -> dict[str, Any]:
    # The body is the job settings plus access_control_list (applied as permissions, never stored);
    # `format` is the service's to set; anything else unknown is dropped (see schema.read_settings).
    body = {k: v for k, v in req.body.items() if k not in ("access_control_list", "format")}
    settings = read_settings(body)
    validate_settings(settings)
    who = caller(store, req)
    grants = job_acl.initial(store, who, req.body.get("access_control_list"))
    run_as.check(store, who, settings.get("run_as"), None)
    owner = next(job_acl.entry_ref(g) for g in grants if g["permission_level"] == "IS_OWNER")
    stored = with_defaults(settings, run_as.for_owner(owner), _queue_default(req))
    job_id = store.next_id("job")
    store.data["jobs"][str(job_id)] = {
        "job_id": job_id,
        "creator_user_name": who.name,
        "run_as_user_name": run_as.user_name_of(stored["run_as"]),
        "created_time": now_ms(),
        "settings": stored,
    }
    job_acl.save(store, job_id, grants, implicit="run_as" not in settings)
    store.mark_dirty()
    return {"job_id": job_id}


def get(store: Store, req: Request) -> dict[str, Any]:
    job = _job(store, req, "CAN_VIEW")
    page = _decode_token(req.str_arg("page_token"), "page") if req.arg("page_token") else 0
    out = copy.deepcopy(job)
    settings = out["settings"]
    more = False
    for name in ARRAYS:
        items = settings.get(name)
        if items is None:
            continue
        settings[name] = items[page * PAGE : (page + 1) * PAGE]
        more = more or len(items) > (page + 1) * PAGE
    if page:
        out["settings"] = {k: settings.get(k, []) for k in ARRAYS}
    if more:
        out["next_page_token"] = _encode_token({"page": page + 1})
    return out


def list_jobs(store: Store, req: Request) -> dict[str, Any]:
    limit = req.int_arg("limit", default=20)
    if not 1 <= limit <= 100:
        raise invalid(f"limit must be greater than 0 and at most 100, got {limit}.")
    offset = req.int_arg("offset", default=0)
    if req.arg("page_token"):
        offset = _decode_token(req.str_arg("page_token"), "offset")
    if offset < 0:
        raise invalid("offset must not be negative.")
    name = req.str_arg("name")
    expand = req.bool_arg("expand_tasks")
    who = caller(store, req)
    jobs = [j for j in store.data["jobs"].values() if job_acl.visible(store, who, j)]  # only viewable jobs
    jobs.sort(key=lambda j: (j["created_time"], j["job_id"]), reverse=True)
    if name is not None:
        jobs = [j for j in jobs if (j["settings"].get("name") or "").casefold() == name.casefold()]
    page = jobs[offset : offset + limit]
    out: dict[str, Any] = {"has_more": offset + limit < len(jobs)}
    if page:
        out["jobs"] = [_list_entry(j, expand) for j in page]
    if out["has_more"]:
        out["next_page_token"] = _encode_token({"offset": offset + limit})
    if offset > 0:
        out["prev_page_token"] = _encode_token({"offset": max(0, offset - limit)})
    return out


def _list_entry(job: dict[str, Any], expand: bool) -> dict[str, Any]:
    entry = {k: copy.deepcopy(v) for k, v in job.items() if k != "run_as_user_name"}
    settings = entry["settings"]
    if not expand:
        settings.pop("tasks", None)
        settings.pop("job_clusters", None)
    else:
        for name in ("tasks", "job_clusters"):
            if len(settings.get(name) or []) > PAGE:
                settings[name] = settings[name][:PAGE]
                entry["has_more"] = True
    return entry


def reset(store: Store, req: Request) -> dict[str, Any]:
    job = _job(store, req, "CAN_MANAGE")
    new = _settings_arg(req, "new_settings", required=True)
    new.pop("format", None)
    new = read_settings(new)
    validate_settings(new)
    previous = job["settings"].get("run_as")
    explicit = "run_as" in new or not job_acl.implicit_run_as(store, job["job_id"])
    if "run_as" in new:
        run_as.check(store, caller(store, req), new["run_as"], previous)
    elif previous is not None:
        # A reset that leaves run_as out keeps it (Source: CLI acceptance bundle/run_as/job_default,
        # Cloud: 'Badness = "run_as is still set even though it's not in bundle and not in reset request"').
        new["run_as"] = previous
    _store_settings(store, job, new, explicit_run_as=explicit, req=req)
    return {}


def update(store: Store, req: Request) -> dict[str, Any]:
    job = _job(store, req, "CAN_MANAGE")
    new = _settings_arg(req, "new_settings", required=False) or {}
    new.pop("format", None)
    new = read_settings(new)
    removals = req.body.get("fields_to_remove") or []
    if not isinstance(removals, list) or not all(isinstance(f, str) for f in removals):
        raise malformed("Could not parse request object: fields_to_remove must be an array of strings")
    merged = copy.deepcopy(job["settings"])
    for field in removals:
        _remove(merged, field)
    for key, value in new.items():
        if key in MERGED and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = _merge_by_key(merged[key], value, MERGED[key])
        else:
            merged[key] = value
    validate_settings(merged)
    if "run_as" in new:
        run_as.check(store, caller(store, req), new["run_as"], job["settings"].get("run_as"))
    implicit = job_acl.implicit_run_as(store, job["job_id"])
    explicit = "run_as" in new or ("run_as" not in removals and not implicit)
    _store_settings(store, job, merged, explicit_run_as=explicit, req=req)
    return {}


def _store_settings(
    store: Store, job: dict[str, Any], settings: dict[str, Any], *, explicit_run_as: bool, req: Request
) -> None:
    """Keep `settings` with the service's defaults; a job whose run_as is left unset runs as its owner."""
    owner = job_acl.owner(store, job["job_id"], job)
    job["settings"] = with_defaults(settings, run_as.for_owner(owner), _queue_default(req))
    job["run_as_user_name"] = run_as.user_name_of(job["settings"]["run_as"])
    grants = job_acl.grants(store, job["job_id"], job)
    job_acl.save(store, job["job_id"], grants, implicit=not explicit_run_as)
    store.mark_dirty()


def _remove(settings: dict[str, Any], field: str) -> None:
    if "/" in field:
        array, _, key = field.partition("/")
        if array not in MERGED or not key or "/" in key:
            raise invalid(
                f"Cannot remove {field!r}: only top-level fields, tasks/<task_key> and "
                "job_clusters/<job_cluster_key> can be removed."
            )
        settings[array] = [item for item in settings.get(array) or [] if item.get(MERGED[array]) != key]
        return
    if "." in field:
        raise invalid(f"Cannot remove {field!r}: removing nested fields is not supported.")
    if field in ("format", "name"):
        raise invalid(f"The field {field!r} cannot be removed.")
    settings.pop(field, None)


def _merge_by_key(current: list[dict], incoming: list[Any], key: str) -> list[dict]:
    merged = list(current)
    for item in incoming:
        if not isinstance(item, dict) or not item.get(key):
            merged.append(item)  # validation reports it
            continue
        index = next(
            (i for i, old in enumerate(merged) if isinstance(old, dict) and old.get(key) == item[key]), None
        )
        if index is None:
            merged.append(item)
        else:
            merged[index] = item
    return merged


def delete(store: Store, req: Request) -> dict[str, Any]:
    # Jobs ACL docs: "Delete job" needs CAN MANAGE or IS OWNER (the service says "Admin or Owner").
    job = _job(store, req, "CAN_MANAGE")
    del store.data["jobs"][str(job["job_id"])]
    store.mark_dirty()
    return {}


# -- runs ------------------------------------------------------------------------------------------


def run_now(store: Store, req: Request, run_steps: int) -> dict[str, Any]:
    job = _job(store, req, "CAN_MANAGE_RUN")  # Jobs ACL docs: "Run now" needs CAN MANAGE RUN
    token = req.str_arg("idempotency_token")
    if token is not None:
        if len(token) > 64:
            raise invalid("idempotency_token must be at most 64 characters.")
        existing = store.data["idempotency"].get(token)
        if existing is not None:
            return {"run_id": existing, "number_in_job": existing}
    params: dict[str, Any] = {}
    for name in ("job_parameters", "notebook_params", "python_named_params", "sql_params"):
        value = req.body.get(name)
        if value is not None and (
            not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
        ):
            raise malformed(f"Could not parse request object: {name} must be a map of strings")
        params[name] = value
    for name in ("python_params", "jar_params", "spark_submit_params", "dbt_commands", "only"):
        value = req.body.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise malformed(f"Could not parse request object: {name} must be an array of strings")
        params[name] = value
    run = runs.start_run(store, job, run_steps, req.user, params)
    if token is not None:
        run["idempotency_token"] = token
        store.data["idempotency"][token] = run["run_id"]
    return {"run_id": run["run_id"], "number_in_job": run["run_id"]}


def _run(store: Store, req: Request, need: str) -> dict[str, Any]:
    """The run, once the caller holds `need` on its job (Jobs ACL docs: viewing results needs CAN VIEW,
    cancelling a run CAN MANAGE RUN; the denial's wording for runs is *unconfirmed*, the job's is used)."""
    run_id = req.int_arg("run_id", required=True)
    run = store.data["runs"].get(str(run_id))
    if run is None:
        raise invalid(f"Run {run_id} does not exist.")
    job = store.data["jobs"].get(str(run["job_id"]))
    job_acl.require(store, caller(store, req), run["job_id"], job, need)
    return run


def runs_get(store: Store, req: Request) -> dict[str, Any]:
    run = _run(store, req, "CAN_VIEW")
    job = store.data["jobs"].get(str(run["job_id"]))
    runs.advance(store, run, job["settings"] if job else None)
    return render_run(run, req.base_url)


def runs_cancel(store: Store, req: Request) -> dict[str, Any]:
    runs.cancel(store, _run(store, req, "CAN_MANAGE_RUN"))
    return {}


def runs_list(store: Store, req: Request) -> dict[str, Any]:
    active, completed = req.bool_arg("active_only"), req.bool_arg("completed_only")
    if active and completed:
        raise invalid("active_only and completed_only cannot both be true.")
    limit = req.int_arg("limit", default=20)
    if not 0 <= limit <= 25:
        raise invalid(f"limit must be between 1 and 25, got {limit}.")
    limit = limit or 25
    offset = (
        _decode_token(req.str_arg("page_token"), "offset")
        if req.arg("page_token")
        else (req.int_arg("offset", default=0))
    )
    job_id = req.int_arg("job_id")
    who = caller(store, req)
    if job_id is not None:
        job_acl.require(store, who, job_id, store.data["jobs"].get(str(job_id)), "CAN_VIEW")
    start_from, start_to = req.int_arg("start_time_from"), req.int_arg("start_time_to")
    viewable: dict[int, bool] = {}
    selected = []
    for run in sorted(
        store.data["runs"].values(), key=lambda r: (r["start_time"], r["run_id"]), reverse=True
    ):
        terminal = runs.is_terminal(run)
        if (
            (job_id is not None and run["job_id"] != job_id)
            or (active and terminal)
            or (completed and not terminal)
        ):
            continue
        if (start_from and run["start_time"] < start_from) or (start_to and run["start_time"] > start_to):
            continue
        if run["job_id"] not in viewable:  # only runs of jobs the caller may view
            job = store.data["jobs"].get(str(run["job_id"]))
            rank = job_acl.level(store, who, run["job_id"], job)
            viewable[run["job_id"]] = rank >= job_acl.RANK["CAN_VIEW"]
        if viewable[run["job_id"]]:
            selected.append(run)
    page = selected[offset : offset + limit]
    out: dict[str, Any] = {"has_more": offset + limit < len(selected)}
    if page:
        out["runs"] = [render_run(r, req.base_url, include_tasks=req.bool_arg("expand_tasks")) for r in page]
    if out["has_more"]:
        out["next_page_token"] = _encode_token({"offset": offset + limit})
    if offset > 0:
        out["prev_page_token"] = _encode_token({"offset": max(0, offset - limit)})
    return out


# -- page tokens -----------------------------------------------------------------------------------


def _encode_token(value: dict[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str | None, field: str) -> int:
    try:
        padded = (token or "") + "=" * (-len(token or "") % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return as_int(value[field], "page_token")
    except Exception as exc:
        raise invalid(f"Invalid page_token {token!r}.") from exc
