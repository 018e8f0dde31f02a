"""The JSON schemas the model answers in, derived from the SDK's job-settings dataclasses, and the way
back from an answer in that wire shape to Jobs API JSON.

Walking `JobSettings`' type hints (not a hand-written copy) keeps names and shapes in step with the
installed SDK; field descriptions are the first sentence of the SDK's own docstrings. Two flavours:

- ``openai``: Structured Outputs with ``strict: true`` (platform.openai.com/docs/guides/structured-outputs,
  "Supported schemas"): every object closed (``additionalProperties: false``) and every property
  required; an optional field is a union with ``null``; free-form maps are not expressible, so a map is
  an array of ``{key, value}`` objects, turned back into a map by `from_wire`.
- ``databricks``: Foundation Model APIs' structured outputs accept a narrower subset
  (docs.databricks.com/machine-learning/model-serving/structured-outputs, "Limitations": no ``anyOf``,
  ``$ref``, ``pattern``; at most 64 keys in the whole schema), far too few for job settings. The answer
  schema stays typed and small, and the settings travel as one JSON string whose shape the prompt gives
  (the ``plain`` schema).
- ``plain``: the Jobs API's own shape (maps as objects, optional fields simply not required), for the
  prompt when the service enforces no schema.

Answers are normalised by `from_wire`: ``null``, ``[]``, ``{}`` (what a strict model writes for a
field it does not use) mean "absent", and an empty id is never an id.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import threading
import typing
from functools import cache
from typing import Any, Literal

from databricks.sdk.service.jobs import JobSettings, Task

Flavor = Literal["openai", "databricks", "plain"]

# The parts of a job the agent plans; everything else is left to people and the UI (and, for updates,
# kept as it is: the model answers with a change set that is merged into the current settings).
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
_EMAILS = ("on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded")
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
    "JobCluster": ("job_cluster_key", "new_cluster"),
    "JobEmailNotifications": _EMAILS,
    "TaskEmailNotifications": _EMAILS,
    "RunJobTask": ("job_id", "job_parameters"),
    "TriggerSettings": ("pause_status", "periodic", "file_arrival", "table_update"),
    "CronSchedule": ("quartz_cron_expression", "timezone_id", "pause_status"),
    "PipelineTask": ("pipeline_id", "full_refresh"),
    "Library": ("whl", "jar", "pypi", "maven", "requirements"),
    "MavenLibrary": ("coordinates", "repo"),
    "SqlTask": ("warehouse_id", "query", "file", "alert", "dashboard", "parameters"),
    "SqlTaskAlert": ("alert_id",),
    "SqlTaskDashboard": ("dashboard_id",),
    "Environment": ("environment_version", "dependencies"),
    "DbtTask": ("commands", "project_directory", "warehouse_id", "catalog", "schema", "source"),
}
MAX_DEPTH = 6  # object levels below job_settings; OpenAI allows 10 in all (the answer adds 2)
DESCRIPTION_CHARS = 120
# Keys whose value names something in the workspace: an empty string there is "not set", never an id.
ID_KEY = re.compile(r"(_id|_key|_ids)$")


def _first_sentence(doc: str) -> str:
    text = " ".join(doc.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence if len(sentence) <= DESCRIPTION_CHARS else sentence[: DESCRIPTION_CHARS - 1] + "…"


_DOCS_LOCK = threading.Lock()


def field_docs() -> dict[tuple[str, str], str]:
    """(class name, field name) -> first sentence of the SDK docstring, parsed from the installed SDK
    once per process (a second caller waits for the first instead of parsing again)."""
    with _DOCS_LOCK:
        return _field_docs()


@cache
def _field_docs() -> dict[tuple[str, str], str]:
    from retrieval.sdk_reference import module_path, parse_module

    docs: dict[tuple[str, str], str] = {}
    for module in ("jobs", "compute"):
        try:
            classes = parse_module(module, module_path(module).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ModuleNotFoundError):  # descriptions are a help, never a must
            continue
        for info in classes:
            for f in info.fields:
                if f.doc:
                    docs.setdefault((info.name, f.name), _first_sentence(f.doc))
    return docs


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(inner type, optional?) for Optional[X]."""
    if typing.get_origin(tp) is typing.Union:
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return (inner[0] if inner else str), True
    return tp, False


def _fields_of(cls: type) -> list[str]:
    names = {JobSettings: JOB_FIELDS, Task: TASK_FIELDS}.get(cls) or NESTED_FIELDS.get(cls.__name__)
    return [f.name for f in dataclasses.fields(cls) if names is None or f.name in names]


class _Builder:
    def __init__(self, flavor: Flavor, describe: bool):
        self.flavor, self.describe = flavor, describe

    def type_schema(self, tp: Any, depth: int) -> dict[str, Any]:
        tp, _ = _unwrap(tp)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (list, typing.List):  # noqa: UP006 - the SDK's hints use typing.List
            return {"type": "array", "items": self.type_schema(args[0], depth)}
        if origin in (dict, typing.Dict):  # noqa: UP006
            if self.flavor != "openai":
                return {"type": "object", "additionalProperties": self.type_schema(args[1], depth + 1)}
            entry = {
                "type": "object",
                "properties": {"key": {"type": "string"}, "value": self.type_schema(args[1], depth + 1)},
                "required": ["key", "value"],
                "additionalProperties": False,
            }
            return {"type": "array", "items": entry, "description": "a map, as key/value pairs"}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"type": "string", "enum": [m.value for m in tp]}
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"type": "number"}
        if dataclasses.is_dataclass(tp) and depth < MAX_DEPTH:
            return self.object_schema(tp, depth + 1)
        return {"type": "string"}

    def object_schema(self, cls: type, depth: int) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        docs = field_docs() if self.describe else {}
        props: dict[str, Any] = {}
        required: list[str] = []
        for name in _fields_of(cls):
            hint = hints[name]
            schema = self.type_schema(hint, depth)
            doc = docs.get((cls.__name__, name))
            optional = _unwrap(hint)[1]
            if optional and self.flavor == "openai":
                schema = _nullable(schema)
            if doc:
                schema = {**schema, "description": doc}
            props[name] = schema
            if self.flavor == "openai" or not optional:
                required.append(name)
        return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null. Objects and arrays as anyOf (their keywords stay with their branch)."""
    kind = schema.get("type")
    if kind in ("string", "integer", "number", "boolean") and "enum" not in schema:
        return {**schema, "type": [kind, "null"]}
    if "enum" in schema:
        return {**schema, "type": ["string", "null"], "enum": [*schema["enum"], None]}
    description = schema.pop("description", None)
    out: dict[str, Any] = {"anyOf": [schema, {"type": "null"}]}
    if description:
        out["description"] = description
    return out


@cache
def job_settings_schema(flavor: Flavor = "openai", describe: bool = True) -> dict[str, Any]:
    """JobSettings as the model sees it (`databricks` has none of its own: it uses `plain`)."""
    return _Builder("plain" if flavor == "databricks" else flavor, describe).object_schema(JobSettings, 1)


_COMMON: dict[str, Any] = {
    "assumptions": {
        "type": "array",
        "items": {"type": "string"},
        "description": "every choice the request did not state, in plain words",
    },
    "questions": {
        "type": "array",
        "items": {"type": "string"},
        "description": "what must be answered before a plan is possible (then no settings)",
    },
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
}
REMOVE_HELP = (
    "paths to remove from the current settings: a top-level field (schedule), a nested field "
    "(email_notifications.on_failure), a task or job cluster by key (tasks/<task_key>, "
    "job_clusters/<job_cluster_key>), a field of one (tasks/<task_key>.libraries), or a map entry "
    "(tags.<key>)"
)


@cache
def answer_schema(action: str = "create", flavor: Flavor = "openai") -> dict[str, Any]:
    """The whole answer: settings (create) or a change set (update), plus the reasoning the plan shows.

    No job id anywhere: the context decides which job is changed, never the model.
    """
    refusal: dict[str, Any] = {
        "type": ["string", "null"] if flavor != "plain" else "string",
        "description": "what was not done because the request asked for something not allowed",
    }
    if flavor == "databricks":
        return _databricks_answer(action, refusal)
    settings = job_settings_schema(flavor, describe=flavor == "openai")
    if action == "update":
        change = {
            "type": "object",
            "properties": {
                "set": {**settings, "description": "only the fields to change; unchanged ones null"},
                "remove": {"type": "array", "items": {"type": "string"}, "description": REMOVE_HELP},
            },
            "required": ["set", "remove"],
            "additionalProperties": False,
        }
        main_name, main = "change_set", change
    else:
        main_name, main = "job_settings", settings
    if flavor == "openai":
        main = _nullable(dict(main))
    props = {main_name: main, **_COMMON, "refusal": refusal}
    required = list(props) if flavor == "openai" else list(_COMMON)
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _databricks_answer(action: str, refusal: dict[str, Any]) -> dict[str, Any]:
    """Within model serving's limits: a handful of keys, settings as a JSON string (see the prompt)."""
    text = {"type": ["string", "null"]}
    if action == "update":
        main_name = "change_set"
        main: dict[str, Any] = {
            "type": ["object", "null"],
            "properties": {
                "set_json": {**text, "description": "the fields to change, as a JSON object in a string"},
                "remove": {"type": "array", "items": {"type": "string"}, "description": REMOVE_HELP},
            },
            "required": ["set_json", "remove"],
            "additionalProperties": False,
        }
    else:
        main_name = "job_settings_json"
        main = {**text, "description": "the Jobs API 2.2 job settings as a JSON object in a string"}
    props = {main_name: main, **_COMMON, "refusal": refusal}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


# -- from the wire back to Jobs API JSON ---------------------------------------------------------------
def from_wire(value: Any, cls: type = JobSettings) -> Any:
    """An answer's settings (or change set's `set`) as Jobs API JSON: maps rebuilt from key/value pairs,
    null / [] / {} / empty ids dropped. Unknown keys are kept, so validation can name them."""
    if not isinstance(value, dict):
        return value
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for key, raw in value.items():
        hint = hints.get(key)
        item = _convert(raw, hint) if hint is not None else _prune(raw)
        if _absent(item) or (item == "" and ID_KEY.search(key)):
            continue
        out[key] = item
    return out


def _convert(value: Any, hint: Any) -> Any:
    tp, _ = _unwrap(hint)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (dict, typing.Dict) and isinstance(value, list):  # noqa: UP006
        pairs = [p for p in value if isinstance(p, dict) and "key" in p]
        if len(pairs) == len(value):
            return {
                str(p["key"]): _convert(p.get("value"), args[1]) for p in pairs if p.get("value") is not None
            }
        return value
    if origin in (list, typing.List) and isinstance(value, list):  # noqa: UP006
        items = [_convert(v, args[0]) for v in value]
        return [v for v in items if not _absent(v)]
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_wire(value, tp)
    return value


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if not _absent(v)}
    if isinstance(value, list):
        return [v for v in (_prune(v) for v in value) if not _absent(v)]
    return value


def _absent(value: Any) -> bool:
    return value is None or value == [] or value == {}
