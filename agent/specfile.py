"""Reading a job spec file (Jobs API JSON, or YAML of the same shape) into an Assignment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from databricks.sdk.service.jobs import GitProvider, JobSettings

from agent.errors import ValidationFailed
from agent.models import Assignment
from agent.validation import unknown_fields


def load_spec(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed([f"Cannot read {path}: {exc.strerror}."]) from exc
    try:
        data = yaml.safe_load(text) if path.suffix.lower() in (".yml", ".yaml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValidationFailed(
            [f"{path} is not valid {'YAML' if path.suffix in ('.yml', '.yaml') else 'JSON'}: {exc}"]
        ) from exc
    if not isinstance(data, dict):
        raise ValidationFailed([f"{path} must hold one object of job settings (got {type(data).__name__})."])
    # Accept `jobs get` output ({"settings": …}) and reset bodies ({"new_settings": …}) as well.
    for wrapper in ("settings", "new_settings"):
        if isinstance(data.get(wrapper), dict) and "tasks" not in data:
            data = data[wrapper]
    return data


def canonical(raw: dict[str, Any]) -> dict[str, Any]:
    """Spell values the API reads without regard to case the way the SDK's enums do, or
    `JobSettings.from_dict` would drop them: `git_provider` "github" is the SDK's "gitHub"
    (GitSource.git_provider: "The value is case insensitive")."""
    git = raw.get("git_source")
    if isinstance(git, dict) and isinstance(git.get("git_provider"), str):
        by_case = {p.value.lower(): p.value for p in GitProvider}
        git["git_provider"] = by_case.get(git["git_provider"].lower(), git["git_provider"])
    return raw


def assignment_from_spec(raw: dict[str, Any], job_id: int | None = None) -> Assignment:
    raw = canonical(raw)
    settings = JobSettings.from_dict(raw)
    problems = unknown_fields(raw, settings.as_dict())
    if problems:
        raise ValidationFailed(problems)
    return Assignment(
        settings=settings, action="update" if job_id else "create", job_id=job_id, planner="spec file"
    )
