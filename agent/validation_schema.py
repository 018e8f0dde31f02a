"""The SDK's own dataclasses read as a schema of the Jobs API.

`JobSettings.from_dict` keeps only the fields its dataclasses declare and turns an enum value it does
not know into None, so a typo or a wrong value vanishes before the request is sent. `unknown_fields`
walks the raw settings against those dataclasses (`dataclasses.fields`, `typing.get_type_hints`) and
says what would be dropped or is the wrong JSON type; `missing_required` says which fields the API
requires (the dataclass fields without a default) are absent.

Numbers and flags are taken strictly (a JSON number where a number belongs, true/false where a flag
does), as the Jobs API refuses anything else with MALFORMED_REQUEST. So are the strings it reads
strictly (STRICT_STRINGS); elsewhere a number or flag written for a string is taken as its text.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import re
import types
import typing
from typing import Any

from databricks.sdk.service.jobs import JobParameterDefinition, JobSettings, QueueSettings, Task

MISSING = dataclasses.MISSING
INTEGER = re.compile(r"^-?\d+$")
# Required fields that a more specific rule reports (validation_job / validation_tasks) in its own words.
SPECIFIC = {(Task, "task_key"), (JobParameterDefinition, "default"), (QueueSettings, "enabled")}
# Required strings for which "" is a real value (an empty job parameter default). An empty condition
# operand is refused like a missing one.
EMPTY_ALLOWED = {"default"}
# An empty object is checked like any other (an empty notebook_task still needs its notebook_path),
# except these, which the Jobs API takes as not set at all.
EMPTY_MEANS_ABSENT = {"schedule", "trigger", "continuous"}
# Strings the Jobs API reads strictly, so that a number there is refused: names, keys, ids, paths and
# schedules, and the items of tags, dbt commands and e-mail lists. Elsewhere (versions, parameters,
# spark_conf, condition operands...) a number or flag is taken as its text.
STRICT_STRINGS = {
    "name",
    "description",
    "task_key",
    "job_cluster_key",
    "environment_key",
    "existing_cluster_id",
    "notebook_path",
    "python_file",
    "quartz_cron_expression",
    "timezone_id",
    "default",
    "id",
    "url",
    "git_url",
    "budget_policy_id",
    "usage_policy_id",
    "tags",
    "commands",
    "on_start",
    "on_success",
    "on_failure",
    "on_duration_warning_threshold_exceeded",
    "on_streaming_backlog_exceeded",
}
# Ids are int64, which proto3 JSON may write as a string of digits ("123").
DIGIT_STRINGS_OK = {"job_id"}


@dataclasses.dataclass(frozen=True)
class Slot:
    """What one field holds: kind is object, list, map, enum, str, int, float, bool or any."""

    kind: str
    of: Any = None  # the dataclass (object), the item Slot (list, map) or the Enum class (enum)


@functools.cache
def schema(cls: type) -> dict[str, tuple[Slot, bool]]:
    """Field name → (what it holds, whether the API requires it) for one SDK dataclass."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: (_slot(hints[f.name]), f.default is MISSING and f.default_factory is MISSING)
        for f in dataclasses.fields(cls)
    }


def _slot(hint: Any) -> Slot:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _slot(rest[0]) if len(rest) == 1 else Slot("any")
    if origin is list:
        return Slot("list", _slot(args[0]))
    if origin is dict:
        return Slot("map", _slot(args[1]))
    if dataclasses.is_dataclass(hint):
        return Slot("object", hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return Slot("enum", hint)
    return Slot({bool: "bool", int: "int", float: "float", str: "str"}.get(hint, "any"))


def enum_values(cls: type[enum.Enum]) -> list[str]:
    return [m.value for m in cls]


# -- unknown fields, wrong types, invalid enum values ---------------------------------------------


def unknown_fields(raw: Any, parsed: Any = None, path: str = "") -> list[str]:
    """What `JobSettings.from_dict(raw)` would drop or misread: unknown keys (with a suggestion), enum
    values the SDK does not know, and values of the wrong JSON type. Empty lists and maps are fine.

    `parsed` (the SDK's round trip) is accepted for older callers and not needed: the SDK's
    dataclasses are the reference, not `as_dict()`, which also drops empty values.
    """
    del parsed
    if not isinstance(raw, dict):
        return [f"The job settings must be an object, not {_json_type(raw)}."]
    return _object(raw, JobSettings, path, "")


def _object(raw: dict, cls: type, path: str, label: str) -> list[str]:
    fields = schema(cls)
    out: list[str] = []
    for key, value in raw.items():
        here = f"{path}.{key}" if path else str(key)
        if key not in fields:
            out.append(
                f"{label}Unknown field {here!r} (Databricks would ignore it).{_suggest(str(key), cls)}"
            )
            continue
        slot = fields[key][0]
        if (
            slot.kind == "list"
            and slot.of.kind == "object"
            and slot.of.of is Task
            and isinstance(value, list)
        ):
            for i, item in enumerate(value):  # name each task, as the other problems do
                key_ = item.get("task_key") if isinstance(item, dict) else None
                named = f"Task {key_!r}: " if isinstance(key_, str) and key_ else label
                if item is None:
                    out.append(f"{here}[{i}] is null; remove it from the list.")
                out.extend(_value(item, slot.of, f"{here}[{i}]", named))
            continue
        out.extend(_value(value, slot, here, label))
    return out


def _value(value: Any, slot: Slot, here: str, label: str, field: str = "") -> list[str]:
    """Problems of one value; `field` is the name it goes by (a collection's name for its items)."""
    if value is None or slot.kind == "any":
        return []
    field = field or re.sub(r"\[\d+\]$", "", here).rsplit(".", 1)[-1]
    wrong = f"{label}{here} must be {_WANTED[slot.kind]}, not {_json_type(value)}.{_unquote(value, slot)}"
    if slot.kind == "object":
        return _object(value, slot.of, here, label) if isinstance(value, dict) else [wrong]
    if slot.kind in ("list", "map"):
        if not isinstance(value, list if slot.kind == "list" else dict):
            return [wrong]
        if isinstance(value, list):
            items = [(f"{here}[{i}]", v) for i, v in enumerate(value)]
            nulls = [f"{label}{at} is null; remove it from the list." for at, v in items if v is None]
        else:
            items, nulls = [(f"{here}.{k}", v) for k, v in value.items()], []
        return nulls + [p for at, v in items for p in _value(v, slot.of, at, label, field)]
    if slot.kind == "enum":
        allowed = enum_values(slot.of)
        if isinstance(value, str) and value in allowed:
            return []
        same = [a for a in allowed if isinstance(value, str) and a.lower() == value.lower()]
        tip = f" Write it as {same[0]!r} (the SDK matches exactly)." if same else ""
        return [f"{label}invalid value {value!r} for {here} (one of {', '.join(allowed)}).{tip}"]
    if slot.kind == "str" and field not in STRICT_STRINGS:
        return [] if not isinstance(value, dict | list) else [wrong]
    if slot.kind == "int" and isinstance(value, str) and field in DIGIT_STRINGS_OK:
        return [] if INTEGER.match(value.strip()) else [wrong]
    return [] if _scalar_ok(value, slot.kind) else [wrong]


_WANTED = {
    "object": "an object",
    "list": "a list",
    "map": "an object (a map of names to values)",
    "str": "a string",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "enum": "one of its listed values",
}


def _scalar_ok(value: Any, kind: str) -> bool:
    """Scalars as the Jobs API reads them: a string for a string, a JSON whole number for a whole
    number (not "60", not 60.0), a number for a number, true or false for a flag."""
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind == "int" else isinstance(value, int | float)


def _unquote(value: Any, slot: Slot) -> str:
    """A hint when a number or flag was written as text."""
    text = value.strip() if isinstance(value, str) else ""
    numeric = slot.kind in ("int", "float") and bool(re.match(r"^-?\d+$", text))
    flag = slot.kind == "bool" and text.lower() in ("true", "false")
    return f" Write {text.lower()} without quotes." if numeric or flag else ""


def _suggest(key: str, cls: type) -> str:
    fields = schema(cls)
    guess = difflib.get_close_matches(key, list(fields), n=1)
    if guess:
        return f" Did you mean {guess[0]!r}?"
    homes = [
        name
        for name, (slot, _) in fields.items()
        if slot.kind == "object"
        and key in schema(slot.of)
        or slot.kind == "list"
        and slot.of.kind == "object"
        and key in schema(slot.of.of)
    ]
    return f" It belongs inside {homes[0]!r}." if len(homes) == 1 else ""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else type(value).__name__


# -- required fields -------------------------------------------------------------------------------


def missing_required(settings: dict[str, Any]) -> list[str]:
    """Fields the API requires (no default in the SDK dataclass) that are absent or empty, each with
    where it is missing; a required enum lists its values. Values of the wrong type are skipped here
    (`unknown_fields` reports them)."""
    out: list[str] = []
    _required(settings, JobSettings, "", "", out)
    return out


def _required(raw: dict, cls: type, path: str, label: str, out: list[str]) -> None:
    for name, (slot, required) in schema(cls).items():
        here = f"{path}.{name}" if path else name
        value = raw.get(name)
        empty = (
            value is None
            or value == []
            or (value == {} and (slot.kind != "object" or name in EMPTY_MEANS_ABSENT))
            or (value == "" and name not in EMPTY_ALLOWED)
        )
        if empty:
            if required and (cls, name) not in SPECIFIC:
                values = f" (one of {', '.join(enum_values(slot.of))})" if slot.kind == "enum" else ""
                if value == "":
                    out.append(f"{label}{here} is required and cannot be empty{values}; give it a value.")
                else:
                    out.append(f"{label}{here} is required{values}.")
            continue
        if slot.kind == "object" and isinstance(value, dict):
            _required(value, slot.of, here, label, out)
        elif slot.kind == "list" and slot.of.kind == "object" and isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                if slot.of.of is Task and not path:  # top-level tasks: named like other task problems
                    key = item.get("task_key")
                    named = f"Task {key!r}: " if isinstance(key, str) and key else "A task: "
                    _required(item, Task, "", named, out)
                else:
                    _required(item, slot.of.of, f"{here}[{i}]", label, out)
