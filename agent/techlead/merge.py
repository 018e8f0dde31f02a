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
  job has); e-mail lists are added to, and an address written ``-a@b.c`` is taken off its list (so are
  webhook destination ids, ``{"id": "-<id>"}``); tags and parameters are merged by name, health rules by
  metric.
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


def runnable(tasks: list[dict]) -> list[dict]:
    """The tasks that run code: a for_each_task's inner task stands for it (the loop has no compute)."""
    return [t["for_each_task"]["task"] if "task" in (t.get("for_each_task") or {}) else t for t in tasks]


def dependency(lib: dict) -> str | None:
    """A task library as a serverless environment dependency (a pip requirement line); None for JAR/Maven."""
    if lib.get("requirements"):
        return f"-r {lib['requirements']}"
    return lib.get("whl") or (lib.get("pypi") or {}).get("package")


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
        elif key == "webhook_notifications":
            _merge_webhooks(out, new)
        elif key in ("tags", "notification_settings") and isinstance(old, dict):
            out[key] = {**old, **new}
        elif key == "parameters" and isinstance(old, list):
            names = {p["name"] for p in new}
            out[key] = [p for p in old if p.get("name") not in names] + new
        elif key == "health" and isinstance(old, dict):  # one rule per metric: a new one replaces its own
            metrics = {r["metric"] for r in new.get("rules", [])}
            kept = [r for r in old.get("rules", []) if r.get("metric") not in metrics]
            out[key] = {"rules": kept + new.get("rules", [])}
        else:
            out[key] = new
    _libraries_to_environments(out, defaults)
    _workspace_sources(out)
    if not out.get("tasks"):
        out.pop("tasks", None)
    return out


def _libraries_to_environments(out: dict, defaults: ParserDefaults) -> None:
    """A task on serverless takes its libraries as its environment's dependencies."""
    for t in out.get("tasks", []):
        if t.get("environment_key") and t.get("libraries"):
            env = _env(out.setdefault("environments", []), t["environment_key"], defaults)
            deps = env["spec"].setdefault("dependencies", [])
            libs = t.pop("libraries")
            deps += [d for d in dict.fromkeys(map(dependency, libs)) if d and d not in deps]
            kept = [lib for lib in libs if dependency(lib) is None]  # JAR / Maven: left for the API to refuse
            if kept:
                t["libraries"] = kept


def _workspace_sources(out: dict) -> None:
    """With a git_source, a task with no source reads from Git: one with a workspace path keeps WORKSPACE."""
    if not out.get("git_source"):
        return
    for t in out.get("tasks", []):
        for field, key in (
            ("notebook_task", "notebook_path"),
            ("spark_python_task", "python_file"),
            ("dbt_task", "project_directory"),
        ):
            body = t.get(field) or {}
            if str(body.get(key, "")).startswith("/") and "source" not in body:
                body["source"] = "WORKSPACE"
        file = (t.get("sql_task") or {}).get("file") or {}
        if str(file.get("path", "")).startswith("/") and "source" not in file:
            file["source"] = "WORKSPACE"


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


def _merge_webhooks(out: dict, new: dict) -> None:
    """Destination ids are added to each event's list; an id written "-<id>" is taken off it."""
    hooks = out.setdefault("webhook_notifications", {})
    for ev, value in new.items():
        ids = [w["id"] for w in value]
        gone = {i[1:] for i in ids if i.startswith("-")}
        current = [w["id"] for w in hooks.get(ev, [])]
        kept = [i for i in dict.fromkeys(current + ids) if not i.startswith("-") and i not in gone]
        if kept:
            hooks[ev] = [{"id": i} for i in kept]
        else:
            hooks.pop(ev, None)
    if not hooks:
        out.pop("webhook_notifications")


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
            elif "libraries" in p:  # libraries named for a task are added to what it has
                p = {**p, "libraries": _added(current.get("libraries", []), p["libraries"])}
            _deep_merge(current, p)
            if current.get("depends_on") == []:
                current.pop("depends_on")
    libraries = template.pop("libraries", None)
    for t in tasks:
        _deep_merge(t, copy.deepcopy(template))
        if libraries and needs_cluster(t):  # libraries for every task: the ones that run code
            t["libraries"] = _added(t.get("libraries", []), libraries)
    return tasks


def _added(current: list[dict], new: list[dict]) -> list[dict]:
    return copy.deepcopy(current) + [copy.deepcopy(lib) for lib in new if lib not in current]


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
                        dep = dependency(lib)
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
    tasks = runnable(out.get("tasks", []))
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
