"""What the real chat-completions services refuse, and how their models answer: pure functions, so the
stand-in (standins/openai.py) and the client's own tests share one copy of the rules.

Two flavours: ``openai`` (api.openai.com, path /v1/chat/completions) and ``databricks`` (Foundation Model
APIs, path /serving-endpoints/chat/completions). Each rule names its source; texts that could not be
found in a recorded answer are marked "unconfirmed" and were written here.

Source tags ([OAI-SO], [OAI-SDK], [SCHEMIC], [DBX-FC], [DBX-SO]) are listed in standins/openai_schema.py,
which holds the schema rules; `strict_schema_problems` is re-exported here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from standins.openai_schema import OPENAI_LIMITS, Flavor, resolve_ref, schema_types, strict_schema_problems

__all__ = [
    "Flavor",
    "ModelProfile",
    "Refusal",
    "content_blocks",
    "databricks_error",
    "default_profile",
    "openai_error",
    "request_refusal",
    "scripted_mismatch",
    "strict_schema_problems",
    "strict_style",
]


@dataclass(frozen=True)
class Refusal:
    """A 400 the real service would send; rendered per route by `openai_error` / `databricks_error`."""

    message: str
    param: str | None = None
    code: str | None = None


def openai_error(refusal: Refusal, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": refusal.message, "type": kind, "param": refusal.param, "code": refusal.code}}


def databricks_error(refusal: Refusal, error_code: str = "BAD_REQUEST") -> dict[str, Any]:
    # Model-serving 400s are {"error_code": "BAD_REQUEST", "message": "Bad request: ..."}: recorded in
    # github.com/567-labs/instructor/pull/691 and github.com/posit-dev/querychat/issues/273. Whether
    # refusals forwarded from OpenAI-hosted endpoints keep this shape is unconfirmed.
    prefix = "Bad request: " if error_code == "BAD_REQUEST" else ""
    return {"error_code": error_code, "message": prefix + refusal.message}


@dataclass(frozen=True)
class ModelProfile:
    """What one model accepts and how it answers; `default_profile` picks one by name."""

    reasoning: bool = False  # o-series / GPT-5: only default sampling values, max_completion_tokens
    json_schema: bool = True  # accepts response_format {"type": "json_schema"}
    blocks: bool = False  # message.content is a list of reasoning/text blocks (gpt-oss on Databricks)
    strict_style: bool | None = None  # answer like a strict-mode model; None: the server's default
    openai_schema_rules: bool | None = None  # OpenAI strict rules; None: on the OpenAI route only
    response_format_with_tools: bool = True  # False: refuse response_format together with tools


def default_profile(model: str) -> ModelProfile:
    name = model.lower()
    bare = name.removeprefix("databricks-")
    if bare.startswith("gpt-oss"):
        # Databricks serves gpt-oss with content blocks (learn.microsoft.com/azure/databricks/
        # machine-learning/model-serving/structured-outputs: "this model returns content as a list of
        # blocks"). No recorded refusal of temperature/max_tokens was found for gpt-oss: accepted.
        return ModelProfile(blocks=True)
    if bare.startswith(("o1-mini", "o1-preview")):  # never had Structured Outputs [OAI-SO, model list]
        return ModelProfile(reasoning=True, json_schema=False, openai_schema_rules=True)
    if bare.startswith(("o1", "o3", "o4")) or (
        bare.startswith("gpt-5") and not bare.startswith("gpt-5-chat")
    ):
        # gpt-5-chat models take temperature (community.openai.com/t/temperature-in-gpt-5-models/1337133,
        # quoted in github.com/CopilotKit/CopilotKit/pull/7191). databricks-gpt-5* forwards to OpenAI,
        # whose schema errors it returns (github.com/databricks/databricks-ai-bridge/issues/350).
        return ModelProfile(reasoning=True, openai_schema_rules=True)
    if name.startswith("databricks-claude"):
        # [DBX-SO] via its summaries: Claude takes only json_schema and not together with tools.
        return ModelProfile(response_format_with_tools=False)
    if name.startswith(("gpt-3.5", "gpt-4-", "gpt-4o-2024-05-13")) or name == "gpt-4":
        return ModelProfile(json_schema=False)  # json_schema needs gpt-4o-2024-08-06 / gpt-4o-mini or later
    return ModelProfile()


# -- request rules -----------------------------------------------------------------------------------


def request_refusal(body: dict[str, Any], *, route: Flavor, profile: ModelProfile) -> Refusal | None:
    """The first rule the request breaks, in the order the services were seen to report them."""
    openai_rules = route == "openai" if profile.openai_schema_rules is None else profile.openai_schema_rules
    return (
        _sampling_refusal(body, profile)
        or _response_format_refusal(body, route, profile, openai_rules)
        or _tools_refusal(body, route, openai_rules)
        or _history_refusal(body.get("messages") or [])
    )


def _sampling_refusal(body: dict[str, Any], profile: ModelProfile) -> Refusal | None:
    if not profile.reasoning:
        return None
    # Texts, params and codes recorded in github.com/OpenHands/OpenHands/issues/4131 (temperature),
    # github.com/lfnovo/open-notebook/issues/107 (top_p), github.com/oracle/ai-optimizer/issues/240
    # (frequency_penalty), github.com/griptape-ai/ComfyUI-Griptape/issues/312 (max_tokens). Temperature is
    # reported before max_tokens (github.com/NousResearch/hermes-agent/pull/78305). Sending the default
    # value is accepted (community thread quoted above); that top_p/penalties at their defaults pass is
    # unconfirmed.
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return Refusal(
            f"Unsupported value: 'temperature' does not support {json.dumps(temperature)} with this model. "
            "Only the default (1) value is supported.",
            "temperature",
            "unsupported_value",
        )
    for name, default in (("top_p", 1), ("presence_penalty", 0), ("frequency_penalty", 0)):
        if body.get(name) is not None and body[name] != default:
            return Refusal(
                f"Unsupported parameter: '{name}' is not supported with this model.",
                name,
                "unsupported_parameter",
            )
    if body.get("max_tokens") is not None:
        return Refusal(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    return None


# [OAI-SDK] names "Must be a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64".
_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


def _name_refusal(name: Any, param: str) -> Refusal | None:
    # Both texts recorded in public logs found by code search (e.g. "Invalid 'tools[0].function.name':
    # string does not match pattern. ..." with code invalid_value; "Invalid 'tools[n].name': string too
    # long. Expected a string with maximum length 64, but got a string with length n instead."). The code
    # string_above_max_length appears only in third-party tests (unconfirmed).
    if not isinstance(name, str) or not _NAME.match(name):
        return Refusal(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches the pattern "
            "'^[a-zA-Z0-9_-]+$'.",
            param,
            "invalid_value",
        )
    if len(name) > 64:
        return Refusal(
            f"Invalid '{param}': string too long. Expected a string with maximum length 64, but got a string "
            f"with length {len(name)} instead.",
            param,
            "string_above_max_length",
        )
    return None


def _response_format_refusal(
    body: dict[str, Any], route: Flavor, profile: ModelProfile, openai_rules: bool
) -> Refusal | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        # Recorded in github.com/epuerta9/deep-research-py/issues/19.
        return Refusal(
            f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
            "response_format.type",
            "invalid_value",
        )
    if kind == "json_schema" and not profile.json_schema:
        # Recorded in github.com/langchain-ai/langchain/issues/31490 (param and code null).
        return Refusal(
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model. "
            "Learn more about supported models at the Structured Outputs guide: "
            "https://platform.openai.com/docs/guides/structured-outputs"
        )
    if kind != "text" and body.get("tools") and not profile.response_format_with_tools:
        return Refusal("response_format cannot be combined with tools for this model.")  # text unconfirmed
    if kind != "json_schema":
        return None
    spec = fmt.get("json_schema") if isinstance(fmt.get("json_schema"), dict) else {}
    name = spec.get("name")
    if openai_rules and name is None:
        # Recorded in github.com/databricks/databricks-ai-bridge/issues/211 (through Databricks).
        return Refusal(
            "Missing required parameter: 'response_format.json_schema.name'.",
            "response_format.json_schema.name",
            "missing_required_parameter",
        )
    if openai_rules and (bad := _name_refusal(name, "response_format.json_schema.name")):
        return bad
    schema = spec.get("schema")
    # Databricks states its limits without tying them to `strict` (that strict false escapes them is
    # unconfirmed): checked whatever `strict` says.
    if route == "databricks" and (problems := strict_schema_problems(schema, "databricks")):
        return Refusal(f"Invalid JSON schema for response_format: {problems[0]}", "response_format")
    # With strict false the schema is only a hint [OAI-SO]: nothing is checked.
    if openai_rules and spec.get("strict") is True:
        fine_tuned = str(body.get("model", "")).startswith("ft:")
        if problems := strict_schema_problems(schema, "openai", fine_tuned=fine_tuned):
            # Shape recorded in github.com/dottxt-ai/outlines/issues/844 and /1666 (param response_format,
            # code null on chat completions; the Responses API answers code "invalid_json_schema").
            return Refusal(f"Invalid schema for response_format '{name}': {problems[0]}", "response_format")
    return None


def _tools_refusal(body: dict[str, Any], route: Flavor, openai_rules: bool) -> Refusal | None:
    tools = body.get("tools")
    if tools is None:
        if body.get("tool_choice") is not None:
            # Recorded with param and null code in github.com/writer/writer-framework/pull/1013 and in
            # code quoting the real answer; "none" is refused too (github.com/vllm-project/vllm/pull/40311).
            return Refusal(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                "tool_choice",
            )
        return None
    if isinstance(tools, list) and not tools:
        return Refusal(  # recorded with code empty_array in public code comments quoting the API
            "Invalid 'tools': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "tools",
            "empty_array",
        )
    if route == "databricks" and len(tools) > 32:  # [DBX-FC] "at most 32 functions"; text unconfirmed
        return Refusal(f"At most 32 functions can be defined in 'tools'; got {len(tools)}.", "tools")
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            return Refusal(f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}].function")
        if bad := _name_refusal(function.get("name"), f"tools[{i}].function.name"):
            return bad
        parameters = function.get("parameters")
        if route == "databricks":
            if parameters is None:  # recorded: github.com/posit-dev/querychat/issues/273
                return Refusal(
                    '"parameters" is a required property for "function" object in parameter "tools"'
                )
            if problems := strict_schema_problems(parameters, "databricks", kind="function"):
                return Refusal(
                    f"Invalid JSON schema for function '{function['name']}': {problems[0]}", "tools"
                )
        strict = openai_rules and function.get("strict") is True
        if strict and (problems := strict_schema_problems(parameters or {}, "openai")):
            # Recorded (Agents SDK docs quoting the API): "Invalid schema for function 'x': In
            # context=(...), ..." with code invalid_function_parameters; the param there is
            # tools[0].parameters (Responses API); the chat-completions param is unconfirmed.
            return Refusal(
                f"Invalid schema for function '{function['name']}': {problems[0]}",
                f"tools[{i}].function.parameters",
                "invalid_function_parameters",
            )
    return None


def _history_refusal(messages: list[Any]) -> Refusal | None:
    # Texts recorded in github.com/router-for-me/CLIProxyAPI/issues/2798 (param messages.[6].role, code
    # null) and github.com/BerriAI/litellm/issues/10083; the orphaned tool message (with its "preceeding"
    # spelling) in a JetBrains Koog user report quoting the API (param messages.[6].role, code null).
    pending: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return Refusal(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            pending.remove(call_id)
            continue
        if pending:
            return _unanswered(pending, f"messages.[{i}].role")
        if role == "assistant":
            pending = [c.get("id") for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    return _unanswered(pending, "messages") if pending else None


def _unanswered(pending: list[str], param: str) -> Refusal:
    return Refusal(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
        param,
    )


def scripted_mismatch(
    request: dict[str, Any], route: Flavor, has_content: bool, calls: list[str]
) -> str | None:
    """Why a scripted answer could not come from a real model for this request (a test's scripting
    mistake, answered by the stand-in as a 500), or None."""
    choice = request.get("tool_choice")
    if choice == "none" and calls and not has_content:
        return "the request said tool_choice 'none' but the scripted answer has only tool calls"
    if choice == "required" and not calls:
        return "the request said tool_choice 'required' but the scripted answer calls no tool"
    forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if forced and any(name != forced for name in calls):
        return f"the request forced the function {forced!r} but the scripted answer calls {calls}"
    if route == "databricks" and len(calls) > 1:  # [DBX-FC] "Parallel function calling is not supported."
        return "Databricks does not do parallel function calling: script one call per answer"
    return None


# -- answers -----------------------------------------------------------------------------------------


def strict_style(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """`value` as a strict-mode model writes it: every required property present (null when nullable,
    [] for an array, an object filled the same way, else "", 0, false or the first enum value), keys in
    schema order, and a JSON object given where the schema has a list of {key, value} objects turned into
    that list. Keys the schema does not know are kept, so a test can still script a wrong answer."""
    return _fill(value, schema, schema if root is None else root)


def _branches(schema: Any, root: dict) -> list[dict[str, Any]]:
    for _ in range(32):  # follow $ref chains; siblings win over the target, as in [OAI-SDK]
        if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
            break
        target = resolve_ref(root, schema["$ref"]) or {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if not isinstance(schema, dict):
        return []
    if isinstance(schema.get("anyOf"), list):
        return [b for sub in schema["anyOf"] for b in _branches(sub, root)]
    return [{**schema, "type": t} for t in schema_types(schema)] or [schema]


def _kind(branch: dict[str, Any]) -> str | None:
    kind = branch.get("type")
    if isinstance(kind, str):
        return kind
    if "properties" in branch:
        return "object"
    return "array" if "items" in branch else None


def _is_map(branch: dict[str, Any], root: dict) -> bool:
    items = _branches(branch.get("items"), root) if _kind(branch) == "array" else []
    return len(items) == 1 and set(items[0].get("properties") or {}) == {"key", "value"}


def _fill(value: Any, schema: Any, root: dict) -> Any:
    branches = _branches(schema, root)
    if isinstance(value, dict):
        objects = [b for b in branches if _kind(b) == "object"]
        if objects:
            best = max(objects, key=lambda b: len(set(b.get("properties") or {}) & set(value)))
            return _fill_object(value, best, root, 0)
        if maps := [b for b in branches if _is_map(b, root)]:
            value_schema = _branches(maps[0]["items"], root)[0]["properties"]["value"]
            return [{"key": k, "value": _fill(v, value_schema, root)} for k, v in value.items()]
    if isinstance(value, list) and (arrays := [b for b in branches if _kind(b) == "array" and "items" in b]):
        return [_fill(v, arrays[0]["items"], root) for v in value]
    return value


def _fill_object(value: dict[str, Any], schema: dict[str, Any], root: dict, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    out = {}
    for name, sub in properties.items():
        if name in value:
            out[name] = _fill(value[name], sub, root)
        elif name in required:
            out[name] = _missing(sub, root, depth)
    return out | {k: v for k, v in value.items() if k not in out}


def _missing(schema: Any, root: dict, depth: int) -> Any:
    branches = _branches(schema, root)
    kinds = [_kind(b) for b in branches]
    if "null" in kinds or any(None in (b.get("enum") or ()) for b in branches):
        return None
    if "array" in kinds:
        return []
    if "object" in kinds and depth < OPENAI_LIMITS["depth"]:
        return _fill_object({}, branches[kinds.index("object")], root, depth + 1)
    first = branches[0] if branches else {}
    if "const" in first:
        return first["const"]
    if first.get("enum"):
        return first["enum"][0]
    return {"string": "", "integer": 0, "number": 0, "boolean": False}.get(kinds[0] if kinds else None)


def content_blocks(text: str | None, reasoning: str) -> list[dict[str, Any]]:
    """message.content as Databricks serves gpt-oss: a reasoning block, then the text (shape as read by
    github.com/davidkhala/models py/davidkhala/llm/openai/databricks.py and described in
    github.com/posit-dev/chatlas/pull/397)."""
    blocks: list[dict[str, Any]] = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": reasoning}]}
    ]
    return blocks + ([{"type": "text", "text": text}] if text is not None else [])
