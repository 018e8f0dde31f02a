"""The JSON schema the model must answer in, derived from the SDK's own job-settings dataclasses.

Walking `JobSettings`' type hints (not a hand-written copy) keeps field names and shapes in step with
the installed SDK; a selection of fields keeps the schema small enough for a prompt.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from functools import cache
from typing import Any

from databricks.sdk.service.jobs import JobSettings, Task

# The parts of a job the agent plans; everything else is left to people and the UI.
JOB_FIELDS = (
    "name",
    "description",
    "tasks",
    "job_clusters",
    "environments",
    "schedule",
    "trigger",
    "email_notifications",
    "timeout_seconds",
    "max_concurrent_runs",
    "parameters",
    "tags",
)
TASK_FIELDS = (
    "task_key",
    "description",
    "depends_on",
    "run_if",
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "sql_task",
    "dbt_task",
    "pipeline_task",
    "run_job_task",
    "job_cluster_key",
    "existing_cluster_id",
    "new_cluster",
    "environment_key",
    "max_retries",
    "min_retry_interval_millis",
    "retry_on_timeout",
    "timeout_seconds",
    "email_notifications",
    "libraries",
)
# Nested types: only these fields (cluster specs have ~40; the planner needs a handful).
NESTED_FIELDS = {
    "ClusterSpec": (
        "spark_version",
        "node_type_id",
        "num_workers",
        "autoscale",
        "instance_pool_id",
        "data_security_mode",
        "spark_conf",
        "custom_tags",
        "policy_id",
    ),
}
MAX_DEPTH = 5


def _schema_for(tp: Any, depth: int) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return _schema_for(inner[0], depth) if inner else {}
    if origin in (list, typing.List):  # noqa: UP006 - the SDK's hints use typing.List
        return {"type": "array", "items": _schema_for(args[0], depth)}
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {"type": "object", "additionalProperties": _schema_for(args[1], depth)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "string", "enum": [m.value for m in tp]}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        return {"type": "string"}
    if dataclasses.is_dataclass(tp):
        if depth >= MAX_DEPTH:
            return {"type": "object"}
        names = {JobSettings: JOB_FIELDS, Task: TASK_FIELDS}.get(tp) or NESTED_FIELDS.get(tp.__name__)
        return _object(tp, names, depth + 1)
    return {}


def _object(cls: type, names: tuple[str, ...] | None, depth: int) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls) if names is None or f.name in names]
    props = {name: _schema_for(hints[name], depth) for name in fields}
    return {"type": "object", "properties": props, "additionalProperties": False}


@cache
def job_settings_schema() -> dict[str, Any]:
    return _object(JobSettings, JOB_FIELDS, 1)


@cache
def answer_schema() -> dict[str, Any]:
    """The whole answer: settings plus the reasoning the plan shows. No job id: context decides that."""
    return {
        "type": "object",
        "properties": {
            "job_settings": {"anyOf": [job_settings_schema(), {"type": "null"}]},
            "assumptions": {"type": "array", "items": {"type": "string"}},
            "questions": {"type": "array", "items": {"type": "string"}},
            "unused": {
                "type": "array",
                "items": {"type": "string"},
                "description": "every part of the request the settings do not act on, in its own words",
            },
            "citations": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "numbers of the documentation passages the answer relied on",
            },
            "refusal": {
                "type": ["string", "null"],
                "description": "what was not done because the request asked for something not allowed",
            },
        },
        "required": ["job_settings", "assumptions", "questions", "unused", "citations", "refusal"],
        "additionalProperties": False,
    }
