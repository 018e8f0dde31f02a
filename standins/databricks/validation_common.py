"""Small checks shared by job-level and task-level validation (types, emails, cluster specs)."""

from __future__ import annotations

import re
from typing import Any

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


def check_cluster_spec(spec: dict, where: str) -> None:
    policy = bool(spec.get("policy_id"))
    if not spec.get("spark_version") and not (policy and spec.get("apply_policy_default_values")):
        raise invalid(f"Missing required field: {where}.spark_version")
    if not (spec.get("node_type_id") or spec.get("instance_pool_id") or policy):
        raise invalid(f"{where} needs node_type_id or instance_pool_id.")
    workers, auto = spec.get("num_workers"), spec.get("autoscale")
    if workers is not None and auto is not None:
        raise invalid(f"{where}: set either num_workers or autoscale, not both.")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 0):
        raise invalid(f"{where}.num_workers must be a non-negative integer, got {workers!r}.")
    if auto is not None:
        low, high = auto.get("min_workers"), auto.get("max_workers")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise invalid(f"{where}.autoscale needs integer min_workers and max_workers.")
        if low < 0 or high < 1 or low > high:
            raise invalid(
                f"{where}.autoscale: min_workers ({low}) must be between 0 and max_workers ({high})."
            )
