"""Job-level sections: name, parameters, queue, git source, environments, job clusters, and the
notifications and health rules that jobs and tasks share."""

from __future__ import annotations

import re
from typing import Any

from databricks.sdk.service.jobs import JobsHealthMetric, JobsHealthOperator

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PARAMETER_NAME = re.compile(r"^[\w\-.]+$", re.ASCII)
MAX_NAME_BYTES, MAX_DESCRIPTION_BYTES = 4096, 27700
MAX_WEBHOOKS = 3
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 25, 127, 255
KEY = re.compile(r"^[\w\-.]{1,100}$", re.ASCII)  # job cluster and environment keys, like task keys
RUN_AS = ("user_name", "service_principal_name", "group_name")
ENVIRONMENT_VERSION = ("environment_version", "client", "base_environment", "project_environment")
DEPENDENCIES = ("dependencies", "java_dependencies")
CLUSTER_SOURCES = ("new_cluster", "serverless_compute", "serverless_compute_id")


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects in a list (anything else is a type problem `unknown_fields` reports)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def section(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def job_problems(s: dict[str, Any]) -> list[str]:
    out: list[str] = []
    name = s.get("name")
    if not (name if isinstance(name, str) else "").strip():
        out.append("The job has no name. Give it one (e.g. “called nightly-ingest”).")
    elif len(name.encode("utf-8")) > MAX_NAME_BYTES:
        out.append(
            f"The job name is {len(name.encode('utf-8'))} bytes long in UTF-8; Databricks allows at most "
            f"{MAX_NAME_BYTES} bytes. Shorten it."
        )
    description = s.get("description")
    if isinstance(description, str) and len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        out.append(f"The description is longer than {MAX_DESCRIPTION_BYTES} bytes in UTF-8; shorten it.")
    out += tag_problems(s.get("tags"))
    out += run_as_problems(s.get("run_as"))
    out += parameter_problems(s.get("parameters"))
    queue = s.get("queue")
    if isinstance(queue, dict) and not isinstance(queue.get("enabled"), bool):
        out.append('queue needs "enabled": true to queue runs (or false); add it, or remove queue.')
    out += git_problems(s.get("git_source"))
    out += keyed_problems(s.get("environments"), "environments", "environment_key")
    for env in dicts(s.get("environments")):
        out += _environment_problems(env)
    out += keyed_problems(s.get("job_clusters"), "job_clusters", "job_cluster_key")
    for cluster in dicts(s.get("job_clusters")):
        if not any(cluster.get(k) for k in CLUSTER_SOURCES):
            out.append(
                f"Job cluster {cluster.get('job_cluster_key')!r} has no new_cluster: describe the cluster "
                "(spark_version, node_type_id, num_workers)."
            )
    out += notification_problems(s, "")
    return out


def tag_problems(tags: Any) -> list[str]:
    if not isinstance(tags, dict):
        return []
    out = []
    if len(tags) > MAX_TAGS:
        out.append(f"The job has {len(tags)} tags; a job can carry at most {MAX_TAGS}. Remove some.")
    for key, value in tags.items():
        if not key or len(key) > MAX_TAG_KEY:
            out.append(f"Tag key {key[:40]!r} must be 1 to {MAX_TAG_KEY} characters long.")
        if isinstance(value, str) and len(value) > MAX_TAG_VALUE:
            out.append(
                f"Tag {key!r} has a value of {len(value)} characters; tag values may have at most "
                f"{MAX_TAG_VALUE} characters. Shorten it."
            )
    return out


def run_as_problems(run_as: Any) -> list[str]:
    """JobRunAs: "One of user_name, service_principal_name, or group_name should be specified." (SDK)"""
    if not isinstance(run_as, dict):
        return []
    given = [k for k in RUN_AS if run_as.get(k)]
    if len(given) == 1:
        return []
    if given:
        return [f"run_as names {' and '.join(given)}; a job runs as exactly one of them. Keep one."]
    return [
        "run_as is empty: give one of user_name, service_principal_name or group_name, or remove run_as "
        "to run as the job's creator."
    ]


def parameter_problems(params: Any) -> list[str]:
    out, seen = [], set()
    for param in dicts(params):
        name = param.get("name")
        if not isinstance(name, str) or not name:
            continue  # reported as a missing required field
        if not PARAMETER_NAME.match(name):
            out.append(
                f"Job parameter {name!r}: names may use only letters, digits, '_', '-' and '.'. Rename it."
            )
        if name in seen:
            out.append(f"Job parameter {name!r} is defined more than once; keep one.")
        seen.add(name)
        if param.get("default") is None:
            out.append(
                f'Job parameter {name!r} has no default: every job parameter needs one ("default": "" '
                "for an empty value)."
            )
        elif not isinstance(param["default"], str):
            out.append(
                f"Job parameter {name!r}: the default must be a string, not {param['default']!r}; "
                f'write it in quotes ("{param["default"]}").'
            )
    return out


def git_problems(git: Any) -> list[str]:
    if not isinstance(git, dict) or not git:
        return []
    refs = [k for k in ("git_branch", "git_tag", "git_commit") if git.get(k)]
    if len(refs) > 1:
        return [f"git_source sets {' and '.join(refs)}; give only one of git_branch, git_tag or git_commit."]
    return []


def keyed_problems(items: Any, where: str, key_name: str) -> list[str]:
    keys = [i.get(key_name) for i in dicts(items) if isinstance(i.get(key_name), str)]
    out = [
        f"{key_name} {key!r} in {where}: keys may use letters, digits, '_', '-' and '.', up to 100 "
        "characters. Rename it (and the tasks that use it)."
        for key in dict.fromkeys(keys)
        if key and not KEY.match(key)
    ]
    return out + [
        f"{key_name} {dup!r} is used more than once in {where}; keys must be unique."
        for dup in sorted({k for k in keys if keys.count(k) > 1})
    ]


def _environment_problems(env: dict[str, Any]) -> list[str]:
    key = env.get("environment_key")
    spec = env.get("spec")
    if not isinstance(spec, dict) or not spec:
        return [
            f'Environment {key!r} has no spec: add one with an environment_version (e.g. "spec": '
            '{"environment_version": "2"}).'
        ]
    if not any(spec.get(k) for k in ENVIRONMENT_VERSION):
        return [
            f'Environment {key!r}: spec needs an environment_version (e.g. "2"; or the older client), '
            "so Databricks knows which Python and packages to run with."
        ]
    # compute.Environment.project_environment "cannot be combined with environment_version,
    # base_environment, dependency fields, or any other environment-source fields" (SDK docstring)
    mixed = [k for k in (*ENVIRONMENT_VERSION, *DEPENDENCIES) if k != "project_environment" and spec.get(k)]
    if spec.get("project_environment") and mixed:
        return [
            f"Environment {key!r}: project_environment cannot be combined with {', '.join(mixed)}; set "
            "the version and dependencies in pyproject.toml, or drop project_environment."
        ]
    return []


def notification_problems(obj: dict[str, Any], name: str) -> list[str]:
    """E-mail addresses, webhook destinations and health rules of a job ("") or of task `name`."""
    prefix = f"{name}: " if name else ""
    out: list[str] = []
    for when, addresses in section(obj.get("email_notifications")).items():
        if isinstance(addresses, list):
            out.extend(
                f"{prefix}{a!r} in email_notifications.{when} is not an email address."
                for a in addresses
                if not EMAIL.match(str(a))
            )
    for when, hooks in section(obj.get("webhook_notifications")).items():
        if isinstance(hooks, list) and len(hooks) > MAX_WEBHOOKS:
            out.append(
                f"{prefix}webhook_notifications.{when} has {len(hooks)} destinations; Databricks allows at "
                f"most {MAX_WEBHOOKS} per event. Keep three."
            )
    for i, rule in enumerate(dicts(section(obj.get("health")).get("rules"))):
        out.extend(f"{prefix}{p}" for p in _health_rule_problems(rule, f"health.rules[{i}]"))
    return out


def _health_rule_problems(rule: dict[str, Any], where: str) -> list[str]:
    out = []
    ops = [o.value for o in JobsHealthOperator]
    if rule.get("op") is not None and rule["op"] not in ops:
        out.append(
            f"{where}.op is {rule['op']!r}; the only operator is {' or '.join(ops)} (the rule fires when "
            "the metric goes over value)."
        )
    metrics = [m.value for m in JobsHealthMetric]
    if rule.get("metric") is not None and rule["metric"] not in metrics:
        out.append(
            f"{where}.metric {rule['metric']!r} is not a health metric; use one of {', '.join(metrics)}."
        )
    return out
