"""A model's reply -> validated job settings, with every problem named for one repair round.

Real services send more shapes than the happy path: `content` as a list of blocks (reasoning models on
Databricks model serving), JSON inside a Markdown fence (models without schema enforcement), every
property present with `null` for the unused ones (strict structured output), maps as key/value pairs.
All of them reach the same validation as the offline planner's settings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk.service.jobs import JobSettings

from agent.changeset import merge
from agent.llm_schema import from_wire
from agent.specfile import canonical
from agent.validation import settings_problems, unknown_fields

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(?P<body>.*?)\n\s*```\s*$", re.S)


@dataclass
class LLMAnswer:
    settings: dict[str, Any] | None
    assumptions: list[str]
    questions: list[str]
    citations: list[int]
    refusal: str | None
    unused: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    tool_results: list[str] = field(default_factory=list)
    seconds: float = 0.0
    not_found: list[str] = field(default_factory=list)  # change set removals that matched nothing


def message_text(content: Any) -> str:
    """The answer text of a message: a string, or the `text` blocks of a list (reasoning blocks and any
    other kind are not the answer)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            kind = block.get("type") if isinstance(block, dict) else getattr(block, "type", None)
            text = block.get("text") if isinstance(block, dict) else getattr(block, "text", None)
            if kind in ("text", "output_text") and isinstance(text, str):
                parts.append(text)
        return "".join(parts)
    return str(content)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if v is not None and str(v).strip()]


def parse_answer(
    text: str, *, action: str = "create", base: dict[str, Any] | None = None
) -> tuple[LLMAnswer, list[str]]:
    """Validate the model's JSON exactly like the offline path's settings.

    For an update the answer is a change set, merged here into `base` (the job's current settings),
    so the settings that come out hold every field the model never saw.
    """
    empty = LLMAnswer(None, [], [], [], None)
    match = _FENCE.match(text)
    body = match["body"] if match else text
    if not body.strip():
        return empty, ["the answer is empty; answer with the JSON object"]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        return empty, [f"not valid JSON ({exc.msg} at position {exc.pos})"]
    if not isinstance(data, dict):
        return empty, ["the answer must be a JSON object"]
    refusal = data.get("refusal")
    answer = LLMAnswer(
        settings=None,
        assumptions=_strings(data.get("assumptions")),
        questions=_strings(data.get("questions")),
        citations=[int(c) for c in data.get("citations") or [] if isinstance(c, int | float)],
        refusal=refusal.strip() if isinstance(refusal, str) and refusal.strip() else None,
        unused=_strings(data.get("unused")),
    )
    problems: list[str] = []
    try:
        data = _decoded(data)
    except ValueError as exc:
        return answer, [str(exc)]
    if action == "update":
        raw, problems = _merged(data, base or {}, answer)
    else:
        settings = data.get("job_settings")
        if settings is None and isinstance(data.get("change_set"), dict):
            settings = data["change_set"].get("set")  # a new job's "changes" are its settings
        raw = from_wire(settings)
        if raw is not None and not isinstance(raw, dict):
            return answer, ["job_settings must be an object or null"]
    if problems:
        return answer, problems
    if not raw:
        if not answer.questions and not answer.refusal:
            what = "change_set" if action == "update" else "job_settings"
            return answer, [f"{what} is empty but there is no question or refusal"]
        return answer, []
    try:
        parsed = JobSettings.from_dict(canonical(raw)).as_dict()
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return answer, [f"the settings have the wrong shape: {exc}"]
    problems = unknown_fields(raw, parsed) + settings_problems(parsed)
    answer.settings = parsed
    return answer, problems


def _decoded(data: dict[str, Any]) -> dict[str, Any]:
    """The Databricks flavour's JSON-in-a-string fields as objects (`job_settings_json`, `set_json`)."""
    out = dict(data)
    if "job_settings_json" in out:
        out["job_settings"] = _json_field("job_settings_json", out.pop("job_settings_json"))
    change = out.get("change_set")
    if isinstance(change, dict) and "set_json" in change:
        change = dict(change)
        change["set"] = _json_field("change_set.set_json", change.pop("set_json"))
        out["change_set"] = change
    return out


def _json_field(name: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip() in ("", "null", "{}")):
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at position {exc.pos}"
        raise ValueError(f"{name} is not a JSON object in a string ({where})") from None


def _merged(
    data: dict[str, Any], base: dict[str, Any], answer: LLMAnswer
) -> tuple[dict[str, Any] | None, list[str]]:
    change = data.get("change_set")
    if change is None and isinstance(data.get("job_settings"), dict):
        # Whole (or partial) settings instead of a change set: merged as fields to set, never as
        # removals, so nothing the model left out is lost.
        change = {"set": data["job_settings"], "remove": []}
    if change is None:
        return None, []
    if not isinstance(change, dict):
        return None, ["change_set must be an object with `set` and `remove`"]
    to_set = from_wire(change.get("set")) or {}
    remove = _strings(change.get("remove"))
    if not isinstance(to_set, dict):
        return None, ["change_set.set must be an object"]
    extra = sorted(set(change) - {"set", "remove"})
    if extra:
        return None, [f"change_set has unknown keys {extra}; only `set` and `remove`"]
    if not to_set and not remove:
        return None, []
    merged = merge(base, to_set, remove)
    answer.not_found = merged.not_found
    return merged.settings, merged.problems
