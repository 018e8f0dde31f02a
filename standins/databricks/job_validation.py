"""Checks the Jobs service applies to job settings on create, reset and update.

Like the service, the first problem found is reported: wrong JSON types as MALFORMED_REQUEST, bad
values as INVALID_PARAMETER_VALUE. What the service only discovers when a run starts (missing
notebooks, unknown clusters, node types or Spark versions) is deliberately not checked here; see
`runs.py`. Unknown fields and enum values are dealt with before these checks, by
`schema.read_settings`. Each rule names its source: an SDK docstring (databricks-sdk
`service/jobs.py` / `service/compute.py`), a recorded Databricks CLI acceptance output, or an issue.
"""

from __future__ import annotations

import re
from typing import Any

from databricks.sdk.service import jobs

from agent.quartz import quartz_error, timezone_error
from standins.databricks.errors import invalid, malformed
from standins.databricks.params import type_name
from standins.databricks.schema import enum_message, enum_values
from standins.databricks.task_validation import check_tasks
from standins.databricks.validation_common import (
    KEY_PATTERN,
    check_cluster_spec,
    check_emails,
    check_health,
    check_types,
    check_webhooks,
    non_negative,
)

# TriggerSettings in the SDK: exactly one kind per trigger. (The old `table` kind is gone from the SDK.)
TRIGGER_KINDS = ("periodic", "file_arrival", "table_update", "model", "job_completion", "sql_condition")
MAX_TAGS, MAX_CONCURRENT = 25, 1000
# JobParameterDefinition.name: "May only contain alphanumeric characters, _, -, and ." (SDK docstring)
PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
GIT_REFS = ("git_branch", "git_tag", "git_commit")
# compute.Environment: "Either environment_version or base_environment must be provided"; `client` is
# the deprecated name of environment_version ("Use environment_version instead"); project_environment
# is a source of its own that "cannot be combined with environment_version, base_environment,
# dependency fields, or any other environment-source fields" (SDK docstrings).
ENV_SOURCES = ("environment_version", "client", "base_environment", "project_environment")
RUN_AS = ("user_name", "service_principal_name", "group_name")

SETTINGS_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "tasks": list,
    "job_clusters": list,
    "environments": list,
    "parameters": list,
    "tags": dict,
    "timeout_seconds": int,
    "max_concurrent_runs": int,
    "email_notifications": dict,
    "webhook_notifications": dict,
    "notification_settings": dict,
    "schedule": dict,
    "trigger": dict,
    "continuous": dict,
    "queue": dict,
    "run_as": dict,
    "git_source": dict,
    "health": dict,
    "format": str,
    "edit_mode": str,
    "budget_policy_id": str,
    "performance_target": str,
    "deployment": dict,
    "triggers": list,
    "usage_policy_id": str,
    "environment_variables": list,
}


def validate_settings(settings: Any) -> None:
    """Raise the ApiError the Jobs service would for these (complete) job settings."""
    if not isinstance(settings, dict):
        raise malformed(
            f"Could not parse request object: settings must be an object, got {type_name(settings)}"
        )
    check_types(settings, SETTINGS_TYPES, "")
    name = settings.get("name") or ""
    if len(name.encode("utf-8")) > 4096:
        raise invalid("Job name is too long: the maximum is 4096 bytes.")
    if len((settings.get("description") or "").encode("utf-8")) > 27700:
        raise invalid("Job description is too long: the maximum is 27700 characters.")
    _check_tags(settings.get("tags"))
    non_negative(settings, "timeout_seconds", "")
    mcr = settings.get("max_concurrent_runs")
    if mcr is not None and not 0 <= mcr <= MAX_CONCURRENT:
        raise invalid(f"max_concurrent_runs must be between 0 and {MAX_CONCURRENT}, got {mcr}.")
    check_emails(settings.get("email_notifications"), "email_notifications")
    check_webhooks(settings.get("webhook_notifications"), "webhook_notifications")
    check_health(settings.get("health"), "health")
    queue = settings.get("queue")
    # QueueSettings.enabled: "If true, enable queueing for the job. This is a required field." (SDK)
    if queue is not None and not isinstance(queue.get("enabled"), bool):
        raise invalid("queue.enabled is required and must be true or false.")
    _check_run_as(settings.get("run_as"))
    _check_git_source(settings.get("git_source"))
    _check_triggers(settings)
    cluster_keys = _check_job_clusters(settings.get("job_clusters") or [])
    env_keys = _check_environments(settings.get("environments") or [])
    _check_parameters(settings.get("parameters") or [])
    check_tasks(settings.get("tasks") or [], cluster_keys, env_keys, bool(settings.get("git_source")))


def _check_run_as(run_as: dict | None) -> None:
    """JobRunAs: "One of user_name, service_principal_name, or group_name should be specified. If
    not, an error is thrown." (SDK docstring). More than one is refused too (unconfirmed)."""
    if run_as is None:
        return
    given = [k for k in RUN_AS if run_as.get(k)]
    if len(given) != 1:
        raise invalid(
            f"run_as needs exactly one of {', '.join(RUN_AS)}"
            + (f"; got {' and '.join(given)}." if given else ".")
        )


def _check_git_source(git: dict | None) -> None:
    if git is None:
        return
    if not git.get("git_provider"):
        # Recorded: Databricks CLI acceptance bundle/resources/jobs/no-git-provider (Cloud = true),
        # 400 INVALID_PARAMETER_VALUE with exactly this message (the values in lower case).
        values = [v.lower() for v in enum_values(jobs.GitProvider)]
        raise invalid(enum_message("git_source.git_provider", values))
    if not git.get("git_url"):
        # GitSource.git_url is a required field in the SDK; the service's wording is unconfirmed.
        raise invalid("Missing required field: git_source.git_url")
    refs = [k for k in GIT_REFS if git.get(k)]
    if len(refs) > 1:
        # GitSource.git_branch/git_tag/git_commit: "This field cannot be specified in conjunction
        # with ..." the other two (SDK docstrings).
        raise invalid(
            "git_source: only one of git_branch, git_tag and git_commit can be set, "
            f"got {' and '.join(refs)}."
        )


def _check_tags(tags: dict | None) -> None:
    if not tags:
        return
    if len(tags) > MAX_TAGS:
        raise invalid(f"A job can have at most {MAX_TAGS} tags, got {len(tags)}.")
    for key, value in tags.items():
        if not isinstance(value, str):
            raise malformed(
                f"Could not parse request object: tags.{key} must be a string, got {type_name(value)}"
            )
        if not key or len(key) > 127 or len(value) > 255:
            raise invalid(f"Invalid tag {key!r}: keys must be 1-127 characters and values at most 255.")


def _check_triggers(settings: dict) -> None:
    kinds = [k for k in ("schedule", "continuous", "trigger") if settings.get(k)]
    if settings.get("triggers") and kinds:
        raise invalid(f"triggers cannot be combined with {', '.join(kinds)}.")
    if len(kinds) > 1:
        raise invalid(
            f"A job can have only one of schedule, continuous and trigger; got {' and '.join(kinds)}."
        )
    schedule = settings.get("schedule")
    if schedule:
        expr, tz = schedule.get("quartz_cron_expression"), schedule.get("timezone_id")
        if not expr:
            raise invalid("schedule.quartz_cron_expression is required.")
        if not isinstance(expr, str) or not isinstance(tz or "", str):
            raise malformed("Could not parse request object: schedule fields must be strings")
        problem = quartz_error(expr)
        if problem:
            raise invalid(
                f"Invalid Quartz cron expression {expr!r} (schedule.quartz_cron_expression): {problem}."
            )
        if not tz:
            raise invalid("schedule.timezone_id is required (a Java time zone id such as 'UTC').")
        if timezone_error(tz):
            raise invalid(
                f"Invalid timezone_id {tz!r}: not a Java time zone id (e.g. 'Europe/Berlin', 'UTC')."
            )
    # pause_status values (PAUSED / UNPAUSED) are enum values: checked by schema.read_settings.
    trigger = settings.get("trigger")
    if trigger:
        _check_trigger(trigger)


def _check_trigger(trigger: dict) -> None:
    kinds = [k for k in TRIGGER_KINDS if trigger.get(k)]
    if len(kinds) != 1:
        raise invalid(
            f"trigger needs exactly one of {', '.join(TRIGGER_KINDS)}"
            + (f"; got {', '.join(kinds)}." if kinds else ".")
        )
    kind, cfg = kinds[0], trigger[kinds[0]]
    if not isinstance(cfg, dict):
        raise malformed(f"Could not parse request object: trigger.{kind} must be an object")
    # "The minimum allowed value is 60 seconds" (SDK docstrings of FileArrival-, TableUpdate- and
    # ModelTriggerConfiguration).
    for key in ("min_time_between_triggers_seconds", "wait_after_last_change_seconds"):
        value = cfg.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 60):
            raise invalid(f"trigger.{kind}.{key} must be at least 60 seconds, got {value}.")
    if kind == "periodic":
        interval = cfg.get("interval")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
            raise invalid(f"trigger.periodic.interval must be a positive integer, got {interval!r}.")
        if not cfg.get("unit"):  # PeriodicTriggerConfiguration.unit is required (SDK)
            raise invalid(
                enum_message("trigger.periodic.unit", enum_values(jobs.PeriodicTriggerConfigurationTimeUnit))
            )
    elif kind == "file_arrival":
        url = cfg.get("url")
        if not isinstance(url, str) or not url:
            raise invalid("trigger.file_arrival.url is required (a volume or external location).")
    elif kind == "table_update":
        names = cfg.get("table_names")
        if not names or not isinstance(names, list):
            raise invalid(f"trigger.{kind}.table_names needs at least one table.")
        # TableUpdateTriggerConfiguration.table_names: "... in the format
        # catalog_name.schema_name.table_name" (SDK docstring)
        for table in names:
            if not isinstance(table, str) or len(table.split(".")) != 3 or not all(table.split(".")):
                raise invalid(f"trigger.{kind}.table_names: {table!r} is not catalog.schema.table.")


def _check_keyed_list(items: list, where: str, key_name: str) -> set[str]:
    keys: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise malformed(f"Could not parse request object: {where}[{i}] must be an object")
        key = item.get(key_name)
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise invalid(
                f"{where}[{i}].{key_name} is required and must match [\\w\\-.]{{1,100}}, got {key!r}."
            )
        if key in keys:
            raise invalid(f"Duplicate {key_name} {key!r} in {where}; keys must be unique.")
        keys.add(key)
    return keys


def _check_environments(envs: list) -> set[str]:
    keys = _check_keyed_list(envs, "environments", "environment_key")
    for i, env in enumerate(envs):
        spec = env.get("spec")
        if spec is not None and not isinstance(spec, dict):
            raise malformed(f"Could not parse request object: environments[{i}].spec must be an object")
        given = [k for k in ENV_SOURCES if (spec or {}).get(k)]
        if not given:
            raise invalid(
                f"environments[{i}].spec (environment {env['environment_key']!r}) needs environment_version "
                "(or base_environment): it says which serverless environment to use."
            )
        mixed = [k for k in (*ENV_SOURCES, "dependencies", "java_dependencies") if spec.get(k)]
        if "project_environment" in given and len(mixed) > 1:
            raise invalid(
                f"environments[{i}].spec.project_environment cannot be combined with "
                f"{', '.join(k for k in mixed if k != 'project_environment')}."
            )
    return keys


def _check_job_clusters(clusters: list) -> set[str]:
    keys = _check_keyed_list(clusters, "job_clusters", "job_cluster_key")
    for item in clusters:
        spec = item.get("new_cluster")
        if not isinstance(spec, dict) or not spec:
            raise invalid(f"Job cluster {item['job_cluster_key']!r} needs a new_cluster specification.")
        check_cluster_spec(spec, f"job_clusters[{item['job_cluster_key']}].new_cluster")
    return keys


def _check_parameters(params: list) -> None:
    names: set[str] = set()
    for i, param in enumerate(params):
        if not isinstance(param, dict):
            raise malformed(f"Could not parse request object: parameters[{i}] must be an object")
        name = param.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"parameters[{i}].name is required.")
        if not PARAMETER_NAME.match(name):
            raise invalid(
                f"Invalid job parameter name {name!r} (parameters[{i}].name): it may only contain letters, "
                "digits, '_', '-' and '.'."
            )
        if not isinstance(param.get("default"), str):
            raise invalid(f"Job parameter {name!r} needs a string default.")
        if name in names:
            raise invalid(f"Duplicate job parameter {name!r}.")
        names.add(name)
