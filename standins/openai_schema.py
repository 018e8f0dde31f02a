"""Which JSON schemas the real services refuse as strict structured output or strict function
parameters: `strict_schema_problems(schema, flavor)`, pure, shared by the stand-in and the client's tests.

Source tags used here and in standins/openai_rules.py:
- [OAI-SO] platform.openai.com/docs/guides/structured-outputs#supported-schemas ("Supported schemas").
- [OAI-SDK] openai-python 3.57: lib/_pydantic.py (`to_strict_json_schema` unravels a `$ref` that has
  sibling keywords; reads `$defs` and `definitions`), types/shared_params/response_format_json_schema.py.
- [SCHEMIC] 2024 API answers recorded in the notes of the `schemic` PyPI project: "'oneOf' is not
  permitted", "'default' is not permitted", "$ref cannot have keywords {...}", "Extra required key".
- [DBX-FC] docs.databricks.com/aws/en/machine-learning/model-serving/function-calling ("JSON schema",
  "Limitations"), read from a stored copy of the page.
- [DBX-SO] docs.databricks.com/aws/en/machine-learning/model-serving/structured-outputs ("Limitations"):
  the page itself could not be read; its limits are taken from two third-party summaries quoting it.
Texts no recorded answer could confirm are marked "unconfirmed" and were written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

Flavor = Literal["openai", "databricks"]

_TYPES = {"string", "number", "boolean", "integer", "object", "array", "null"}  # [OAI-SO] supported types
# [OAI-SO] "Some type-specific keywords are not yet supported"; oneOf and default from [SCHEMIC].
_OPENAI_UNSUPPORTED = ("allOf", "not", "dependentRequired", "dependentSchemas", "if", "then", "else")
_OPENAI_UNSUPPORTED += ("oneOf", "default")
_FINE_TUNED_UNSUPPORTED = ("minLength", "maxLength", "pattern", "format", "minimum", "maximum")
_FINE_TUNED_UNSUPPORTED += ("multipleOf", "patternProperties", "minItems", "maxItems")  # [OAI-SO]
_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}  # [OAI-SO]
# [OAI-SO] limits: 5000 object properties, 10 levels of nesting, 120,000 characters of names/enum/const
# values, 1000 enum values, 15,000 characters for one string enum of more than 250 values. How the
# service counts (refs expanded or not, whether the root object is level 1) is unconfirmed: here the
# schema is counted as written and the root object is level 1.
OPENAI_LIMITS = {"properties": 5000, "depth": 10, "chars": 120_000, "enum_values": 1000}
# [DBX-FC] and [DBX-SO]: no pattern, anyOf, oneOf, allOf, prefixItems, $ref.
_DATABRICKS_UNSUPPORTED = ("pattern", "anyOf", "oneOf", "allOf", "prefixItems", "$ref")
# "The maximum number of keys specified in the JSON schema is 16" [DBX-FC] / 64 [DBX-SO]. Counted here as
# property names over all objects (the reading that makes 16 usable); the service's counting is unconfirmed.
DATABRICKS_MAX_KEYS = {"function": 16, "response_format": 64}


def strict_schema_problems(
    schema: Any, flavor: Flavor = "openai", *, kind: str = "response_format", fine_tuned: bool = False
) -> list[str]:
    """Everything the service would refuse in `schema` sent as `kind` ("response_format" or "function"),
    first the one it reports; [] when the schema is accepted."""
    if flavor == "databricks":
        return _databricks_problems(schema, DATABRICKS_MAX_KEYS[kind])
    if not isinstance(schema, dict) or schema.get("type") != "object":
        got = schema.get("type") if isinstance(schema, dict) else None
        # Recorded ("got 'type: \"None\"'" for a root union) in public project notes found by code search;
        # relayed with 'type: null' in github.com/chatanywhere/GPT_API_free/issues/403.
        return [f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'."]
    if any(k in schema for k in ("anyOf", "oneOf", "allOf", "enum", "not")):
        # Relayed OpenAI answer recorded in github.com/chatanywhere/GPT_API_free/issues/403.
        return [
            "schema must have type 'object' and not have 'oneOf'/'anyOf'/'allOf'/'enum'/'not' "
            "at the top level."
        ]
    problems = list(_openai_node_problems(schema, (), schema, fine_tuned))
    return problems + _openai_limit_problems(schema)


def _children(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[Any, tuple[str, ...]]]:
    for key in ("properties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            for name, sub in node[key].items():
                yield sub, (*path, key, name)
    if isinstance(node.get("items"), dict):
        yield node["items"], (*path, "items")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(node.get(key), list):
            for i, sub in enumerate(node[key]):
                yield sub, (*path, key, str(i))
    if isinstance(node.get("additionalProperties"), dict):
        yield node["additionalProperties"], (*path, "additionalProperties")


def schema_types(node: dict[str, Any]) -> list[Any]:
    kind = node.get("type")
    return kind if isinstance(kind, list) else [] if kind is None else [kind]


def _openai_node_problems(node: Any, path: tuple[str, ...], root: dict, fine_tuned: bool) -> Iterator[str]:
    if not isinstance(node, dict):
        return
    where = f"In context={path!r}"  # the recorded messages print the path as a Python tuple
    if "$ref" in node:
        if extra := sorted(set(node) - {"$ref"}):  # [SCHEMIC] recorded text (no "In" before context)
            yield f"context={path!r}, $ref cannot have keywords {{{', '.join(map(repr, extra))}}}."
        elif resolve_ref(root, node["$ref"]) is None:
            yield f"{where}, reference {node['$ref']!r} can't be resolved."  # text unconfirmed
        return
    for keyword in _OPENAI_UNSUPPORTED + (_FINE_TUNED_UNSUPPORTED if fine_tuned else ()):
        if keyword in node:
            yield f"{where}, '{keyword}' is not permitted."  # recorded shape [SCHEMIC]
    types = schema_types(node)
    if not types and not any(k in node for k in ("anyOf", "enum", "const")):
        yield f"{where}, schema must have a 'type' key."  # recorded (Codex CLI answers quoted in issues)
    for bad in [t for t in types if t not in _TYPES]:
        yield f"{where}, type {bad!r} is not supported."  # text unconfirmed
    if "format" in node and node["format"] not in _FORMATS:
        yield f"{where}, format {node['format']!r} is not supported."  # text unconfirmed
    if "object" in types:
        if node.get("additionalProperties") is not False:  # recorded: outlines#844
            yield f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = node.get("properties") or {}
        required = node.get("required") if isinstance(node.get("required"), list) else []
        rule = (
            f"{where}, 'required' is required to be supplied and to be an array including every key in "
            "properties."
        )
        listed = set(required)
        if missing := [p for p in properties if p not in listed]:  # recorded: vercel/ai#6484
            yield f"{rule} Missing {missing[0]!r}."
        if extra := [r for r in required if r not in properties]:  # recorded [SCHEMIC]
            yield f"{rule} Extra required key {extra[0]!r} supplied."
    for sub, sub_path in _children(node, path):
        yield from _openai_node_problems(sub, sub_path, root, fine_tuned)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    return (n for n, _ in _walk_paths(node, ()))


def _openai_limit_problems(schema: dict[str, Any]) -> list[str]:
    nodes = list(_walk(schema))
    properties = sum(len(n.get("properties") or {}) for n in nodes)
    chars = sum(
        len(name)
        for n in nodes
        for key in ("properties", "$defs", "definitions")
        for name in n.get(key) or {}
    )
    enums = [n["enum"] for n in nodes if isinstance(n.get("enum"), list)]
    chars += sum(len(_text(v)) for values in enums for v in values)
    chars += sum(len(_text(n["const"])) for n in nodes if "const" in n)
    limits, problems = OPENAI_LIMITS, []  # all texts below unconfirmed
    if properties > limits["properties"]:
        problems.append(
            f"The schema has {properties} object properties; at most {limits['properties']} are allowed."
        )
    if (depth := _depth(schema, schema, (), 0)) > limits["depth"]:
        problems.append(
            f"The schema nests objects {depth} levels deep; at most {limits['depth']} are allowed."
        )
    if chars > limits["chars"]:
        problems.append(f"The schema's names and enum/const values total {chars} characters; at most 120000.")
    if (count := sum(len(values) for values in enums)) > limits["enum_values"]:
        problems.append(f"The schema has {count} enum values; at most {limits['enum_values']} are allowed.")
    for values in enums:
        strings = [v for v in values if isinstance(v, str)]
        if len(strings) > 250 and (total := sum(map(len, strings))) > 15_000:
            problems.append(
                f"An enum with {len(strings)} values totals {total} characters; "
                "at most 15000 when over 250 values."
            )
    return problems


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _depth(node: Any, root: dict, refs: tuple[str, ...], level: int) -> int:
    """Deepest object level under `node`; a `$ref` already being expanded is recursion, allowed [OAI-SO]."""
    if not isinstance(node, dict) or level > OPENAI_LIMITS["depth"]:
        return level
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = resolve_ref(root, ref)
        return level if ref in refs or target is None else _depth(target, root, (*refs, ref), level)
    level += "object" in schema_types(node) or "properties" in node
    subs = [sub for sub, path in _children(node, ()) if path[0] not in ("$defs", "definitions")]
    return max([level] + [_depth(sub, root, refs, level) for sub in subs])


def _databricks_problems(schema: Any, max_keys: int) -> list[str]:
    problems = []  # texts unconfirmed: no recorded Databricks answer to these was found
    nodes = list(_walk_paths(schema, ()))
    for node, path in nodes:
        at = "#/" + "/".join(path)
        problems += [f"'{k}' is not supported (at {at})." for k in _DATABRICKS_UNSUPPORTED if k in node]
        types = schema_types(node)
        if len(types) > 1 and (len(types) != 2 or "null" not in types or not set(types) <= _TYPES):
            # [DBX-FC] "Lists of types except for the special case of [type, "null"]"; that the same holds
            # for response_format is assumed (unconfirmed).
            problems.append(f'type lists other than [<type>, "null"] are not supported (at {at}).')
    if (keys := sum(len(n.get("properties") or {}) for n, _ in nodes)) > max_keys:
        problems.append(f"The JSON schema specifies {keys} keys; the maximum is {max_keys}.")
    return problems


def _walk_paths(node: Any, path: tuple[str, ...]) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
    if isinstance(node, dict):
        yield node, path
        for sub, sub_path in _children(node, path):
            yield from _walk_paths(sub, sub_path)


def resolve_ref(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """A local `$ref` ("#", "#/$defs/x", "#/definitions/x", any JSON pointer into the root)."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) else None
