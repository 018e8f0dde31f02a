"""Field-by-field comparison of planned job settings with the expected ones, grouped by field family.

Only what the expected settings state is checked (a row names the fields its request is about).
List items are paired by their key (``task_key``, ``job_cluster_key``, …) when the expected item
gives one, else with the actual item that matches best; Quartz crons compare by their next fire times,
so ``0 0 2 * * ?`` equals ``0 0 2 ? * *``; recipient lists compare as sets. Job parameters and
notebook ``base_parameters`` both reach the notebook as widgets, so expected job ``parameters`` are also
met by the same names and values in the notebook tasks' base_parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FAMILIES = ("tasks", "schedule", "cluster", "notifications", "retries", "parameters", "options")
ITEM_KEYS = ("task_key", "job_cluster_key", "environment_key", "name")
UNORDERED = {
    "on_failure",
    "on_success",
    "on_start",
    "on_duration_warning_threshold_exceeded",
    "on_streaming_backlog_exceeded",
    "depends_on",
    "libraries",
}
PARAM_KEYS = {
    "base_parameters",
    "parameters",
    "named_parameters",
    "job_parameters",
    "python_named_params",
    "python_params",
    "jar_params",
    "notebook_params",
    "sql_params",
}
TASK_COMPUTE = ("new_cluster", "existing_cluster_id", "job_cluster_key", "environment_key", "compute")
RETRY_KEYS = {"max_retries", "min_retry_interval_millis", "retry_on_timeout"}
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Check:
    path: str
    family: str
    ok: bool
    expected: Any
    actual: Any


def family(path: str) -> str:
    """The field family of a leaf path such as ``tasks[ingest].max_retries``."""
    parts = [p.split("[")[0] for p in path.split(".")]
    top = parts[0]
    if top in ("schedule", "trigger", "continuous"):
        return "schedule"
    if top in ("job_clusters", "environments"):
        return "cluster"
    if top in ("email_notifications", "webhook_notifications", "notification_settings"):
        return "notifications"
    if top == "parameters":
        return "parameters"
    if top != "tasks" or len(parts) < 2:
        return "options"
    sub = parts[1]
    if sub in TASK_COMPUTE or sub == "libraries":
        return "cluster"
    if sub in ("email_notifications", "webhook_notifications", "notification_settings"):
        return "notifications"
    if sub in RETRY_KEYS:
        return "retries"
    if any(p in PARAM_KEYS for p in parts[2:]):
        return "parameters"
    return "tasks"


def compare(expected: dict[str, Any], actual: dict[str, Any] | None) -> list[Check]:
    """One Check per expected leaf."""
    checks: list[Check] = []
    _walk(expected, _with_pushed_down_parameters(expected, actual or {}), "", checks)
    return checks


def _with_pushed_down_parameters(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """Read notebook base_parameters as job parameters when the plan put the values there instead."""
    if "parameters" not in expected or actual.get("parameters"):
        return actual
    found: dict[str, Any] = {}
    for task in actual.get("tasks") or []:
        found.update((task.get("notebook_task") or {}).get("base_parameters") or {})
    if not found:
        return actual
    return {**actual, "parameters": [{"name": k, "default": v} for k, v in found.items()]}


def _walk(exp: Any, act: Any, path: str, out: list[Check]) -> None:
    if isinstance(exp, dict) and exp:
        act = act if isinstance(act, dict) else {}
        for key, value in exp.items():
            _walk(value, act.get(key), f"{path}.{key}" if path else key, out)
        return
    if isinstance(exp, list) and exp and all(isinstance(i, dict) for i in exp):
        leaf = path.rsplit(".", 1)[-1]
        if leaf == "depends_on":
            want = sorted(d.get("task_key", "") for d in exp)
            got = sorted(d.get("task_key", "") for d in act or [] if isinstance(d, dict))
            out.append(Check(path, family(path), want == got, want, got))
            return
        for label, item, match in _pair(exp, act if isinstance(act, list) else []):
            _walk(item, match or {}, f"{path}[{label}]", out)
        return
    out.append(Check(path, family(path), _same(path, exp, act), exp, act))


def _pair(expected: list[dict], actual: list[Any]) -> list[tuple[str, dict, dict | None]]:
    """Pair each expected item with an actual one: by key when given, else the best leaf match."""
    actual = [a for a in actual if isinstance(a, dict)]
    used: set[int] = set()
    pairs = []
    for n, item in enumerate(expected):
        key = next((k for k in ITEM_KEYS if k in item), None)
        if key:
            idx = next((i for i, a in enumerate(actual) if a.get(key) == item[key] and i not in used), None)
            label = str(item[key])
        else:
            scored = [(sum(c.ok for c in compare(item, a)), i) for i, a in enumerate(actual) if i not in used]
            best = max(scored, default=(0, None))
            idx = best[1] if best[0] > 0 else None
            label = str(n)
        if idx is not None:
            used.add(idx)
        pairs.append((label, item, actual[idx] if idx is not None else None))
    return pairs


def _same(path: str, exp: Any, act: Any) -> bool:
    leaf = path.rsplit(".", 1)[-1].split("[")[0]
    if leaf == "quartz_cron_expression" and isinstance(exp, str) and isinstance(act, str):
        return same_cron(exp, act)
    if isinstance(exp, list) and isinstance(act, list) and leaf in UNORDERED:
        return sorted(map(str, exp)) == sorted(map(str, act))
    if isinstance(exp, int | float) and isinstance(act, int | float) and not isinstance(exp, bool):
        return float(exp) == float(act)
    if exp == {} or exp == []:
        return act not in (None, {}, [])  # "present" (e.g. a trigger of this kind exists)
    return exp == act


def same_cron(a: str, b: str) -> bool:
    """True when two Quartz expressions fire at the same times (compared over their next 12 firings)."""
    if a.split() == b.split():
        return True
    from agent.quartz import next_fire_times

    try:
        return next_fire_times(a, "UTC", 12, _EPOCH) == next_fire_times(b, "UTC", 12, _EPOCH)
    except ValueError:
        return False


def accuracy(checks: list[Check], family_name: str | None = None) -> tuple[float | None, str]:
    """Share of expected leaves matched (None when the family has none), with the misses as rationale."""
    chosen = [c for c in checks if family_name is None or c.family == family_name]
    if not chosen:
        return None, ""
    misses = [c for c in chosen if not c.ok]
    why = "; ".join(f"{c.path}: expected {c.expected!r}, got {c.actual!r}" for c in misses[:6])
    more = f" (+{len(misses) - 6} more)" if len(misses) > 6 else ""
    score = (len(chosen) - len(misses)) / len(chosen)
    return score, (why + more) if misses else f"all {len(chosen)} expected fields match"
