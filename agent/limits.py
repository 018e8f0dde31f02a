"""The team's sanity limits on what a plan may ask for: cluster sizes, concurrency, timeouts, retries.

The Jobs API's own rules (`agent.validation`) put no upper bound on a cluster's size, so without these
a plan for 100,000,000 workers would be approved and created. The limits are the team's, set with
JOBAGENT_MAX_* variables, and the defaults never refuse what a data team ordinarily runs. Each message
names the field, what was asked, the limit and its variable, and says it is jobagent's, not Databricks'.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from agent.errors import ConfigError

# Limits field: (variable, smallest value allowed, what the value must be)
VARIABLES = {
    "max_workers": ("JOBAGENT_MAX_WORKERS", 0, "a whole number of workers, 0 or more"),
    "max_job_workers": ("JOBAGENT_MAX_JOB_WORKERS", 0, "a whole number of workers, 0 or more"),
    "max_concurrent_runs": ("JOBAGENT_MAX_CONCURRENT_RUNS", 1, "a whole number of runs, 1 or more"),
    "max_tasks": ("JOBAGENT_MAX_TASKS", 1, "a whole number of tasks, 1 or more"),
    "max_timeout_hours": (
        "JOBAGENT_MAX_TIMEOUT_HOURS",
        1 / 60,
        "a number of hours (e.g. 24 or 0.5), a minute or more",
    ),
    "max_retries": ("JOBAGENT_MAX_RETRIES", 0, "a whole number of retries, 0 or more"),
}


@dataclass(frozen=True)
class Limits:
    max_workers: int = 500  # per cluster: num_workers, autoscale min_workers and max_workers
    max_job_workers: int = 2000  # the workers of all clusters one run of the job may start
    max_concurrent_runs: int = 100
    max_tasks: int = 200
    max_timeout_hours: float = 168.0  # job and task timeouts, and waits between retries
    max_retries: int | None = None  # off by default: Databricks' -1 ("retry forever") stays allowed

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """The defaults, overridden by the JOBAGENT_MAX_* variables that are set (ConfigError if bad)."""
        env = os.environ if env is None else env
        given = {}
        for f in fields(cls):
            name, minimum, must = VARIABLES[f.name]
            raw = env.get(name)
            if raw is None or not raw.strip():
                continue
            value = _parse(raw, whole=f.name != "max_timeout_hours")
            if value is None or value < minimum:
                default = "there is no limit" if f.default is None else f"it is {f.default:g}"
                raise ConfigError(f"{name}={raw!r} must be {must}; unset, {default}.")
            given[f.name] = value
        return cls(**given)


def limit_problems(s: dict[str, Any], limits: Limits) -> list[str]:
    """What in these settings (Jobs API JSON) goes over the team's limits, one message per field."""
    out: list[str] = []
    tasks = _dicts(s.get("tasks"))
    if len(tasks) > limits.max_tasks:
        out.append(
            _over(f"The job has {len(tasks)} tasks", "max_tasks", limits, "tasks per job", "Split the job")
        )
    runs = _number(s.get("max_concurrent_runs"))
    if runs is not None and runs > limits.max_concurrent_runs:
        asked = f"max_concurrent_runs is {_n(runs)}"
        fix = "Ask for fewer concurrent runs"
        out.append(_over(asked, "max_concurrent_runs", limits, "runs at once", fix))
    out += _duration_problems(s, "", limits)
    for task, name in _tasks(tasks):
        out += _task_problems(task, name, limits)
    sized, total = [], 0.0
    for name, spec, copies in _clusters(s, tasks):
        sized += _cluster_problems(spec, name, limits)
        total += _size(spec) * copies
    out += sized
    if total > limits.max_job_workers and not sized:  # one oversized cluster is one problem, not two
        asked = f"The job's clusters add up to {_n(total)} workers in one run"
        fix = "Use fewer or smaller clusters (tasks can share a job cluster)"
        out.append(_over(asked, "max_job_workers", limits, "workers per job", fix))
    return out


def _tasks(tasks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each task with its name in messages, and the inner task of each for_each task."""
    out = []
    for task in tasks:
        key = task.get("task_key")
        out.append((task, f"Task {key!r}"))
        inner = _section(_section(task.get("for_each_task")).get("task"))
        if inner:
            out.append((inner, f"The inner task of for_each task {key!r}"))
    return out


def _clusters(s: dict[str, Any], tasks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], float]]:
    """Every new cluster the job declares: its name in messages, its spec, how many run at once."""
    out = [
        (f"Job cluster {c.get('job_cluster_key')!r}", _section(c.get("new_cluster")), 1.0)
        for c in _dicts(s.get("job_clusters"))
    ]
    for task in tasks:
        key = task.get("task_key")
        out.append((f"Task {key!r}", _section(task.get("new_cluster")), 1.0))
        loop = _section(task.get("for_each_task"))
        # every iteration of a loop gets its own new cluster, `concurrency` of them at once
        copies = max(1.0, _number(loop.get("concurrency")) or 1.0)
        inner = _section(loop.get("task"))
        out.append((f"The inner task of for_each task {key!r}", _section(inner.get("new_cluster")), copies))
    return [c for c in out if c[1]]


def _task_problems(task: dict[str, Any], name: str, limits: Limits) -> list[str]:
    out = _duration_problems(task, name, limits)
    retries = _number(task.get("max_retries"))
    if limits.max_retries is not None and retries is not None:
        forever = retries == -1  # below -1 is the Jobs API's own rule (validation)
        if forever or retries > limits.max_retries:
            asked = f"{name}: max_retries is {'-1 (retry forever)' if forever else _n(retries)}"
            out.append(_over(asked, "max_retries", limits, "retries", "Ask for fewer retries"))
    return out


def _cluster_problems(cluster: Any, name: str, limits: Limits) -> list[str]:
    spec = _section(cluster)
    auto = _section(spec.get("autoscale"))
    out = []
    for path, value in (
        ("num_workers", spec.get("num_workers")),
        ("autoscale.min_workers", auto.get("min_workers")),
        ("autoscale.max_workers", auto.get("max_workers")),
    ):
        workers = _number(value)
        if workers is not None and workers > limits.max_workers:
            asked = f"{name}: new_cluster.{path} is {_n(workers)}"
            out.append(_over(asked, "max_workers", limits, "workers per cluster", "Ask for fewer workers"))
    return out


def _duration_problems(obj: dict[str, Any], name: str, limits: Limits) -> list[str]:
    """A timeout or a wait between retries longer than any run is meant to last is a mistake (often
    seconds written as milliseconds). Run-duration health thresholds are left alone: a high one only
    never warns, and real jobs use such values."""
    prefix = f"{name}: " if name else ""
    out = []
    for path, per_second, fix in (
        ("timeout_seconds", 1, "Ask for a shorter timeout"),
        ("min_retry_interval_millis", 1000, "Ask for a shorter wait between retries"),
    ):
        value = _number(obj.get(path))
        if value is None or value / per_second <= limits.max_timeout_hours * 3600:
            continue
        what = f"{prefix}{path} is {_n(value)} ({_n(value / per_second / 3600)} h)"
        out.append(_over(what, "max_timeout_hours", limits, "hours", fix))
    return out


def _over(asked: str, field: str, limits: Limits, unit: str, fix: str) -> str:
    variable = VARIABLES[field][0]
    return (
        f"{asked}; this team's limit is {_n(getattr(limits, field))} {unit} ({variable}: a jobagent limit, "
        f"not a Databricks rule). {fix}, or ask whoever runs jobagent to raise {variable}."
    )


def _size(cluster: Any) -> float:
    """The most workers a cluster spec can have at once (0 when it does not say)."""
    spec = _section(cluster)
    auto = _section(spec.get("autoscale"))
    return max(_number(spec.get("num_workers")) or 0.0, _number(auto.get("max_workers")) or 0.0)


def _number(value: Any) -> float | None:
    """A number, or a string of one (so a quoted "100000000" cannot slip past); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    return _parse(value, whole=False) if isinstance(value, str) else None


def _parse(raw: str, *, whole: bool) -> float | None:
    try:
        value = int(raw.strip()) if whole else float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _section(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
