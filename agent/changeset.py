"""A change set (fields to set, paths to remove) merged into a job's current settings.

Why: a model asked for "the complete new settings" can only repeat what its schema offers, so every
field outside it (webhooks, cloud attributes, env vars, ...) would silently disappear on apply. A change
set names only what changes; everything else is taken from the job as it is.

Merge rules follow the Jobs API's own update semantics one level deeper: objects and maps merge field by
field (a map entry is removed by path, e.g. `tags.team`), `tasks`, `job_clusters`, `environments` and
`parameters` merge item by item on their key, any other list or value is replaced whole.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

KEYED_LISTS = {
    "tasks": "task_key",
    "job_clusters": "job_cluster_key",
    "environments": "environment_key",
    "parameters": "name",
}
# name, then an optional item key: tasks/ingest, tasks[ingest], tasks["ingest"]
_SEGMENT = re.compile(
    r"""(?P<name>[^./\[\]]+)(?:/(?P<k1>[^./\[\]]+)|\[(?:"(?P<k2>[^"]*)"|'(?P<k3>[^']*)'|(?P<k4>[^\]]*))\])?"""
)


@dataclass
class Merged:
    settings: dict[str, Any]
    removed: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # removals that matched nothing
    problems: list[str] = field(default_factory=list)  # paths that cannot be read


def merge(current: dict[str, Any], to_set: dict[str, Any] | None, remove: list[str] | None) -> Merged:
    """`current` with `to_set` merged in and `remove` taken out (removals first, so a path can be
    replaced: remove tasks/a.notebook_task and set its spark_python_task)."""
    result = Merged(copy.deepcopy(current))
    for path in remove or []:
        try:
            steps = parse_path(path)
        except ValueError as exc:
            result.problems.append(str(exc))
            continue
        if _remove(result.settings, steps):
            result.removed.append(path)
        else:
            result.not_found.append(path)
    _merge_into(result.settings, to_set or {}, "")
    return result


def parse_path(path: str) -> list[tuple[str, str | None]]:
    """`tasks/ingest.libraries` -> [("tasks", "ingest"), ("libraries", None)]."""
    text = path.strip().strip(".")
    steps: list[tuple[str, str | None]] = []
    pos = 0
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if not m:
            raise ValueError(f"remove: cannot read the path {path!r} (use e.g. tasks/<task_key>.libraries)")
        key = next((m[g] for g in ("k1", "k2", "k3", "k4") if m[g] is not None), None)
        steps.append((m["name"].strip(), key))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ".":
                raise ValueError(f"remove: cannot read the path {path!r} after {text[:pos]!r}")
            pos += 1
    if not steps:
        raise ValueError("remove: an empty path")
    return steps


def _remove(node: Any, steps: list[tuple[str, str | None]]) -> bool:
    (name, key), rest = steps[0], steps[1:]
    if not isinstance(node, dict) or name not in node:
        return False
    if key is None:
        if not rest:
            del node[name]
            return True
        done = _remove(node[name], rest)
        _drop_if_empty(node, name)
        return done
    items = node[name]
    if not isinstance(items, list):
        return False
    key_field = KEYED_LISTS.get(name, "name")
    for i, item in enumerate(items):
        if isinstance(item, dict) and str(item.get(key_field)) == key:
            if not rest:
                del items[i]
                _drop_if_empty(node, name)
                return True
            return _remove(item, rest)
    return False


def _drop_if_empty(node: dict[str, Any], name: str) -> None:
    if node.get(name) in ({}, []):
        del node[name]


def _merge_into(target: dict[str, Any], patch: dict[str, Any], prefix: str) -> None:
    for name, value in patch.items():
        here = target.get(name)
        if isinstance(value, dict) and isinstance(here, dict):
            _merge_into(here, value, f"{prefix}{name}.")
        elif name in KEYED_LISTS and isinstance(value, list) and isinstance(here, list):
            target[name] = _merge_keyed(here, value, KEYED_LISTS[name], f"{prefix}{name}")
        else:
            target[name] = copy.deepcopy(value)


def _merge_keyed(current: list[Any], patch: list[Any], key_field: str, path: str) -> list[Any]:
    out = [copy.deepcopy(i) for i in current]
    index = {i.get(key_field): n for n, i in enumerate(out) if isinstance(i, dict)}
    for item in patch:
        key = item.get(key_field) if isinstance(item, dict) else None
        if key is not None and key in index:
            _merge_into(out[index[key]], item, f"{path}[].")
        else:
            out.append(copy.deepcopy(item))
            if key is not None:
                index[key] = len(out) - 1
    return out
