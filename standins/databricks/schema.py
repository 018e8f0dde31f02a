"""The shape of job settings, read from the databricks-sdk dataclasses: which fields exist, which enums.

`read_settings` does what the Jobs service's request parser does before any rule is checked:

- Unknown fields are dropped, at every depth, so they are neither stored nor echoed by jobs/get.
  Evidence that the service ignores them rather than refusing: a Databricks engineer reviewing
  databricks/databricks-cli#25 ("If you send the request to server, it will accept it", about a
  `job_id` put inside reset's new_settings), and a live measurement in apache/airflow#72148 (an
  unrecognised `performance_target` came back 200, and jobs/get afterwards showed no such field).
  The Databricks CLI's own test server (libs/testserver/jobs.go) likewise decodes into the SDK
  structs, which drops what they do not know.
- An enum value the SDK does not know is refused with 400 INVALID_PARAMETER_VALUE and the message
  shape the service uses for `git_source.git_provider` ("<field> must be one of: a,b,c"), recorded
  by the Databricks CLI acceptance test bundle/resources/jobs/no-git-provider (a Cloud test). For
  other enum fields the service's answer is unconfirmed, except `performance_target`, which the
  measurement above shows is accepted and dropped: fields in DROPPED_ENUMS get that treatment.
  If more fields turn out to behave so, add them there.

The allowed values come from the SDK's Enum classes, so they stay in step with the installed SDK.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from typing import Any

from databricks.sdk.service import jobs

from standins.databricks.errors import invalid, malformed
from standins.databricks.params import type_name

# Enum fields (dotted names, no indices) whose unknown values the service accepts and drops.
DROPPED_ENUMS = frozenset({"performance_target"})
# Enums the service compares without regard to case (GitSource.git_provider: "The value is case
# insensitive", SDK docstring; the recorded message lists the values in lower case).
CASE_INSENSITIVE = frozenset({jobs.GitProvider})
_DROP = object()


def read_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Job settings as the service reads them: unknown fields dropped, unknown enum values refused."""
    return _read(settings, jobs.JobSettings, "", "")


def enum_values(cls: type[enum.Enum]) -> list[str]:
    return [m.value for m in cls]


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: _unwrap(hints[f.name]) for f in dataclasses.fields(cls)}


def _unwrap(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else Any
    return tp


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _read(value: Any, tp: Any, path: str, name_path: str) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(value, list):
            raise _wrong(path, "an array", value)
        (item_tp,) = typing.get_args(tp)
        out = [_read(v, _unwrap(item_tp), f"{path}[{i}]", name_path) for i, v in enumerate(value)]
        return [v for v in out if v is not _DROP]
    if origin is dict:
        if not isinstance(value, dict):
            raise _wrong(path, "an object", value)
        item_tp = _unwrap(typing.get_args(tp)[1])
        return {k: _read(v, item_tp, _join(path, str(k)), name_path) for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _read_enum(value, tp, path, name_path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _wrong(path, "an object", value)
        known = _fields(tp)
        out = {}
        for key, item in value.items():
            if key not in known:
                continue  # unknown field: ignored by the service, so never stored
            read = _read(item, known[key], _join(path, key), _join(name_path, key))
            if read is not _DROP:
                out[key] = read
        return out
    if tp in (str, int, float, bool) and isinstance(value, dict | list):
        raise _wrong(path, f"a {tp.__name__}", value)  # a JSON object or array where one value belongs
    if tp is int and isinstance(value, bool):
        raise _wrong(path, "an integer", value)
    return value


def _wrong(path: str, wanted: str, value: Any) -> Exception:
    """What the service's JSON reader says when a value has the wrong shape (MALFORMED_REQUEST, as the
    existing type checks in validation_common word it)."""
    return malformed(f"Could not parse request object: {path} must be {wanted}, got {type_name(value)}")


def _read_enum(value: Any, cls: type[enum.Enum], path: str, name_path: str) -> Any:
    if not isinstance(value, str):
        raise malformed(f"Could not parse request object: {path} must be a string, got {type_name(value)}")
    values = enum_values(cls)
    if cls in CASE_INSENSITIVE:
        if value.lower() in {v.lower() for v in values}:
            return value
        values = [v.lower() for v in values]
    elif value in values:
        return value
    if name_path in DROPPED_ENUMS:
        return _DROP
    raise invalid(enum_message(path, values, value))


def enum_message(path: str, values: list[str], value: Any = None) -> str:
    """`<field> must be one of: a,b,c`, as the service words it for git_source.git_provider."""
    got = "" if value is None else f" (got {value!r})"
    return f"{path} must be one of: {','.join(values)}{got}"
