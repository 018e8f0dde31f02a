"""Apply a request's partial settings (a patch) to a job's current settings.

Patch conventions, so a follow-up can say "change" without restating the job:

- a field in ``touched`` but absent from the patch is removed ("remove the schedule");
- tasks merge by ``task_key`` (as the Jobs API update does); a patch task with only ``task_key``
  removes that task (its dependants inherit its dependencies); a patch task with **no** ``task_key`` is a
  template applied to every task ("retry 3 times" → ``max_retries`` everywhere);
- compute in a patch replaces compute everywhere: ``job_clusters`` (a partial cluster is merged into
  the current cluster), a template ``existing_cluster_id``, or serverless (``job_clusters`` touched and
  absent, ``environments`` given);
- schedule / trigger / continuous merge as dicts (so ``{"pause_status": "PAUSED"}`` pauses whichever the
  job has); e-mail lists are added to, and an address written ``-a@b.c`` is taken off its list; tags and
  parameters are merged by name.
"""

from __future__ import annotations

import copy
from typing import Any

from agent.techlead.compute import apply
from agent.techlead.defaults import ParserDefaults
from agent.validation import TASK_TYPES

CLUSTER_TYPES = (
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "dbt_task",
    "spark_jar_task",
    "spark_submit_task",
)
ENV_TYPES = ("spark_python_task", "python_wheel_task", "dbt_task")
COMPUTE = ("job_cluster_key", "existing_cluster_id", "new_cluster", "environment_key")
TRIGGER_KINDS = ("file_arrival", "table_update", "periodic", "job_completion", "model", "sql_condition")


def needs_cluster(task: dict) -> bool:
    if (task.get("notebook_task") or {}).get("warehouse_id"):
        return False
    return any(t in task for t in CLUSTER_TYPES)


def needs_environment(task: dict) -> bool:
    return any(t in task for t in ENV_TYPES)


def merge_settings(
    base: dict | None, patch: Any, touched: set[str] | None = None, *, defaults: ParserDefaults | None = None
) -> dict:
    """``base`` with the patch applied (see the module docstring); neither argument is modified.

    ``patch`` is a settings dict or anything with ``.settings`` and ``.touched`` (a ParsedRequest).
    """
    if hasattr(patch, "settings"):
        touched = set(touched) if touched is not None else set(getattr(patch, "touched", set()))
        patch = patch.settings or {}
    patch = copy.deepcopy(patch or {})
    touched = set(touched) if touched is not None else set(patch)
    out = copy.deepcopy(base or {})
    defaults = defaults or ParserDefaults()
    keyless = [t for t in patch.get("tasks", []) if not t.get("task_key")]
    template: dict = {}
    for t in keyless:
        template.update(t)
    keyed = [t for t in patch.get("tasks", []) if t.get("task_key")]
    if "tasks" in touched:
        out["tasks"] = _merge_tasks(
            out.get("tasks", []), keyed, {k: v for k, v in template.items() if k not in COMPUTE}
        )
    _compute(out, patch, touched, template, defaults)
    _fill_compute(out)
    for key in sorted(touched - {"tasks", "job_clusters", "environments"}):
        if key not in patch:
            out.pop(key, None)
            continue
        new, old = patch[key], out.get(key)
        if key in ("schedule", "trigger", "continuous"):
            _merge_timing(out, key, new)
        elif key == "email_notifications":
            _merge_emails(out, new)
        elif key in ("tags", "notification_settings") and isinstance(old, dict):
            out[key] = {**old, **new}
        elif key == "parameters" and isinstance(old, list):
            names = {p["name"] for p in new}
            out[key] = [p for p in old if p.get("name") not in names] + new
        else:
            out[key] = new
    if not out.get("tasks"):
        out.pop("tasks", None)
    return out


def _merge_emails(out: dict, new: dict) -> None:
    """Addresses are added to each list; an address written "-a@b.c" is removed from it."""
    emails = out.setdefault("email_notifications", {})
    for ev, value in new.items():
        if not isinstance(value, list):
            emails[ev] = value
            continue
        gone = {v[1:] for v in value if v.startswith("-")}
        kept = [
            v for v in dict.fromkeys([*emails.get(ev, []), *value]) if not v.startswith("-") and v not in gone
        ]
        if kept:
            emails[ev] = kept
        else:
            emails.pop(ev, None)
    if not emails:
        out.pop("email_notifications")


def _merge_tasks(tasks: list[dict], keyed: list[dict], template: dict) -> list[dict]:
    tasks = copy.deepcopy(tasks)
    for p in keyed:
        key = p["task_key"]
        current = next((t for t in tasks if t.get("task_key") == key), None)
        if set(p) == {"task_key"}:
            if current is not None:
                tasks = _remove(tasks, current)
        elif current is None:
            tasks.append(p)
        else:
            if any(t in p for t in TASK_TYPES):
                for t in TASK_TYPES:
                    if t not in p:
                        current.pop(t, None)
            _deep_merge(current, p)
            if current.get("depends_on") == []:
                current.pop("depends_on")
    for t in tasks:
        _deep_merge(t, copy.deepcopy(template))
    return tasks


def _remove(tasks: list[dict], gone: dict) -> list[dict]:
    """Drop a task; whoever waited for it now waits for what it waited for."""
    key, inherited = gone["task_key"], gone.get("depends_on", [])
    kept = [t for t in tasks if t is not gone]
    for t in kept:
        deps = t.get("depends_on") or []
        if any(d.get("task_key") == key for d in deps):
            new = [d for d in deps if d.get("task_key") != key]
            for d in inherited:
                if all(x.get("task_key") != d.get("task_key") for x in new):
                    new.append(dict(d))
            if new:
                t["depends_on"] = new
            else:
                t.pop("depends_on", None)
    return kept


def _deep_merge(target: dict, change: dict) -> None:
    for k, v in change.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict) and k != "new_cluster":
            _deep_merge(target[k], v)
        else:
            target[k] = v


def _compute(out: dict, patch: dict, touched: set[str], template: dict, defaults: ParserDefaults) -> None:
    tasks = out.get("tasks", [])
    if patch.get("job_clusters"):
        pc = patch["job_clusters"][0]
        current = out.get("job_clusters") or []
        keys = [jc["job_cluster_key"] for jc in current]
        per_task = [t for t in tasks if t.get("new_cluster")]
        if current:
            for jc in current:
                if jc["job_cluster_key"] == pc["job_cluster_key"] or pc["job_cluster_key"] not in keys:
                    jc["new_cluster"] = apply(jc.get("new_cluster") or {}, pc.get("new_cluster") or {})
            target = pc["job_cluster_key"] if pc["job_cluster_key"] in keys else keys[0]
        elif per_task:
            for t in per_task:
                t["new_cluster"] = apply(t["new_cluster"], pc.get("new_cluster") or {})
            return
        else:
            full = apply(defaults.cluster(), pc.get("new_cluster") or {})
            out["job_clusters"] = [{"job_cluster_key": pc["job_cluster_key"], "new_cluster": full}]
            target = pc["job_cluster_key"]
        keys = {jc["job_cluster_key"] for jc in out["job_clusters"]}
        for t in tasks:
            if needs_cluster(t) and not (t.get("job_cluster_key") in keys or t.get("new_cluster")):
                _strip(t)
                t["job_cluster_key"] = target
        if not any(t.get("environment_key") for t in tasks):
            out.pop("environments", None)
    elif template.get("existing_cluster_id"):
        for t in tasks:
            if needs_cluster(t):
                _strip(t)
                t["existing_cluster_id"] = template["existing_cluster_id"]
        out.pop("job_clusters", None)
        out.pop("environments", None)
    elif "job_clusters" in touched or patch.get("environments") or template.get("environment_key"):
        envs = _merge_envs(out.get("environments") or [], patch.get("environments") or [])
        env_key = template.get("environment_key") or (
            envs[0]["environment_key"] if envs else defaults.environment_key
        )
        for t in tasks:
            _strip(t)
            if needs_environment(t):
                t["environment_key"] = env_key
                libs = t.pop("libraries", [])
                if libs:
                    env = _env(envs, env_key, defaults)
                    deps = env["spec"].setdefault("dependencies", [])
                    for lib in libs:
                        dep = lib.get("whl") or (lib.get("pypi") or {}).get("package")
                        if dep and dep not in deps:
                            deps.append(dep)
        out.pop("job_clusters", None)
        if any(t.get("environment_key") for t in tasks):
            _env(envs, env_key, defaults)
            out["environments"] = envs
        else:
            out.pop("environments", None)


def _strip(task: dict) -> None:
    for k in COMPUTE:
        task.pop(k, None)


def _merge_envs(current: list[dict], new: list[dict]) -> list[dict]:
    out = copy.deepcopy(current)
    for env in new:
        found = next((e for e in out if e["environment_key"] == env["environment_key"]), None)
        if found is None:
            out.append(copy.deepcopy(env))
        else:
            _deep_merge(found, copy.deepcopy(env))
    return out


def _env(envs: list[dict], key: str, defaults: ParserDefaults) -> dict:
    found = next((e for e in envs if e["environment_key"] == key), None)
    if found is None:
        found = {"environment_key": key, "spec": {"environment_version": defaults.environment_version}}
        envs.append(found)
    found.setdefault("spec", {"environment_version": defaults.environment_version})
    return found


def _fill_compute(out: dict) -> None:
    """New tasks that need compute and name none share what their siblings use."""
    tasks = out.get("tasks", [])
    donor = next((t for t in tasks if needs_cluster(t) and any(t.get(k) for k in COMPUTE[:3])), None)
    for t in tasks:
        if needs_cluster(t) and not any(t.get(k) for k in COMPUTE):
            if donor is not None:
                for k in COMPUTE[:3]:
                    if donor.get(k):
                        t[k] = copy.deepcopy(donor[k])
            elif out.get("job_clusters"):
                t["job_cluster_key"] = out["job_clusters"][0]["job_cluster_key"]
            elif out.get("environments") and needs_environment(t):
                t["environment_key"] = out["environments"][0]["environment_key"]


def _merge_timing(out: dict, key: str, new: dict) -> None:
    old = out.get(key)
    main = {"schedule": ("quartz_cron_expression",), "trigger": TRIGGER_KINDS, "continuous": ()}[key]
    partial = key != "continuous" and not any(k in new for k in main)
    if partial and old is None:
        for other in ("schedule", "trigger", "continuous"):  # "pause it" applies to whatever the job has
            if isinstance(out.get(other), dict) and "pause_status" in new:
                out[other]["pause_status"] = new["pause_status"]
        return
    if not isinstance(old, dict):
        out[key] = new
        return
    if key == "trigger" and not partial:
        old = {k: v for k, v in old.items() if k not in TRIGGER_KINDS}
    out[key] = {**old, **new}
