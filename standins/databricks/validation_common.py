"""Small checks shared by job-level and task-level validation (types, emails, cluster specs)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from databricks.sdk.service import jobs

from standins.databricks.errors import invalid, malformed
from standins.databricks.params import type_name

KEY_PATTERN = re.compile(r"^[\w\-.]{1,100}$", re.ASCII)
EMAIL_LISTS = (
    "on_start",
    "on_success",
    "on_failure",
    "on_duration_warning_threshold_exceeded",
    "on_streaming_backlog_exceeded",
)
# WebhookNotifications: "A maximum of 3 destinations can be specified for the <event> property", for
# every event; Webhook.id is its one, required field (SDK docstrings).
WEBHOOK_EVENTS = tuple(f.name for f in dataclasses.fields(jobs.WebhookNotifications))
MAX_WEBHOOKS = 3
SINGLE_NODE_DOC = "See https://docs.databricks.com/clusters/single-node.html for more details"


def check_types(obj: dict[str, Any], types: dict[str, Any], where: str) -> None:
    for key, expected in types.items():
        value = obj.get(key)
        if value is None:
            continue
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if not ok:
            wanted = {
                str: "a string",
                list: "an array",
                dict: "an object",
                int: "an integer",
                bool: "a boolean",
            }.get(expected, str(expected))
            raise malformed(
                f"Could not parse request object: {where}{key} must be {wanted}, got {type_name(value)}"
            )


def non_negative(obj: dict, key: str, where: str) -> None:
    value = obj.get(key)
    if value is not None and value < 0:
        raise invalid(f"{where}{key} must be zero or positive, got {value}.")


def check_emails(notifications: dict | None, where: str) -> None:
    if not notifications:
        return
    for key in EMAIL_LISTS:
        value = notifications.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise malformed(f"Could not parse request object: {where}.{key} must be an array of strings")
        for address in value:
            if "@" not in address:
                raise invalid(f"{where}.{key}: {address!r} is not a valid email address.")


def check_webhooks(notifications: dict | None, where: str) -> None:
    if not notifications:
        return
    for event in WEBHOOK_EVENTS:
        hooks = notifications.get(event)
        if hooks is None:
            continue
        if not isinstance(hooks, list):
            raise malformed(f"Could not parse request object: {where}.{event} must be an array")
        if len(hooks) > MAX_WEBHOOKS:
            raise invalid(
                f"{where}.{event}: at most {MAX_WEBHOOKS} webhook destinations can be specified, "
                f"got {len(hooks)}."
            )
        for i, hook in enumerate(hooks):
            if not isinstance(hook, dict):
                raise malformed(f"Could not parse request object: {where}.{event}[{i}] must be an object")
            if not isinstance(hook.get("id"), str) or not hook["id"]:
                raise invalid(
                    f"Missing required field: {where}.{event}[{i}].id (a notification destination id)."
                )


def check_health(health: dict | None, where: str) -> None:
    """JobsHealthRule: metric, op and value are all required, value an integer (SDK); metric and op
    values (JobsHealthMetric, JobsHealthOperator: only GREATER_THAN) are checked by schema.read_settings."""
    if not health:
        return
    rules = health.get("rules")
    if rules is None:
        return
    if not isinstance(rules, list):
        raise malformed(f"Could not parse request object: {where}.rules must be an array")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise malformed(f"Could not parse request object: {where}.rules[{i}] must be an object")
        for key in ("metric", "op", "value"):
            if rule.get(key) is None:
                raise invalid(f"Missing required field: {where}.rules[{i}].{key}")
        value = rule["value"]
        if not isinstance(value, int) or isinstance(value, bool):
            raise malformed(
                f"Could not parse request object: {where}.rules[{i}].value must be an integer, "
                f"got {type_name(value)}"
            )


def _single_node(spec: dict) -> bool:
    conf = spec.get("spark_conf") or {}
    tags = spec.get("custom_tags") or {}
    return bool(
        spec.get("is_single_node")
        or conf.get("spark.databricks.cluster.profile") == "singleNode"
        or str(conf.get("spark.master", "")).startswith("local")
        or tags.get("ResourceClass") == "SingleNode"
    )


def check_cluster_spec(spec: dict, where: str) -> None:
    policy = bool(spec.get("policy_id"))
    if not spec.get("spark_version") and not (policy and spec.get("apply_policy_default_values")):
        raise invalid(f"Missing required field: {where}.spark_version")
    if not (spec.get("node_type_id") or spec.get("instance_pool_id") or policy):
        raise invalid(f"{where} needs node_type_id or instance_pool_id.")
    workers, auto = spec.get("num_workers"), spec.get("autoscale")
    if workers is not None and auto is not None:
        raise invalid(f"{where}: set either num_workers or autoscale, not both.")
    if workers is None and auto is None and not (policy or spec.get("is_single_node")):
        # The service: 400 INVALID_PARAMETER_VALUE "Cluster validation error: Missing required field:
        # settings.cluster_spec.new_cluster.size" (databrickslabs/dbx#830, databricks-sdk-py#103), later
        # "Exactly 1 of virtual_cluster_size, num_workers or autoscale must be specified"
        # (databricks/cli#592). A policy may fix or default num_workers, and is_single_node sets it
        # ("Databricks will automatically set ... num_workers", ClusterSpec docstring), so those pass.
        raise invalid(
            f"Cluster validation error: {where}: exactly 1 of num_workers or autoscale must be specified."
        )
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 0):
        raise invalid(f"{where}.num_workers must be a non-negative integer, got {workers!r}.")
    if workers == 0 and not (policy or _single_node(spec)):
        # "NumWorkers could be 0 only for SingleNode clusters. See ... for more details", on
        # jobs/create and jobs/reset (databricks/cli#1546, Nike-Inc/brickflow#219). A single-node
        # cluster says so in spark_conf (spark.databricks.cluster.profile singleNode, spark.master
        # local[*]), custom_tags ResourceClass SingleNode, or is_single_node; a policy may add them.
        raise invalid(f"{where}: NumWorkers could be 0 only for SingleNode clusters. {SINGLE_NODE_DOC}")
    if auto is not None:
        low, high = auto.get("min_workers"), auto.get("max_workers")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise invalid(f"{where}.autoscale needs integer min_workers and max_workers.")
        if low < 0 or high < 1 or low > high:
            raise invalid(
                f"{where}.autoscale: min_workers ({low}) must be between 0 and max_workers ({high})."
            )
