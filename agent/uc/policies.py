"""Policies as Unity Catalog functions: each takes the job settings JSON and returns a violation ("" = fine).

Operators add or change policies in the policy schema without a release; the Worker runs every function
there that takes `job_settings_json`. A policy that cannot run (it raised, timed out, or UC is down)
blocks by default, because a check that silently passes is worse than a loud one; set
JOBAGENT_UC_POLICY_ON_ERROR=warn to log and skip instead. A function in the policy schema whose definition
is refused (untrusted.py) counts as a policy that cannot run. Policies run isolated (isolation.py), and
what one returns is someone else's text: one line, at most VIOLATION_CHARS, quoted as inline code.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from agent.uc.builtins import Builtin
from agent.uc.untrusted import VIOLATION_CHARS, clean, function_name, quoted, refusal, shown_name

log = logging.getLogger(__name__)
SETTINGS_PARAM = "job_settings_json"


def require_failure_notification(job_settings_json: str) -> str:
    """Policy: a job that runs on a schedule, trigger or continuously must email someone when it fails.

    Args:
        job_settings_json: The Databricks job settings (Jobs API 2.2 JobSettings) as a JSON object.

    Returns:
        An empty string when the job complies, else the violation.
    """
    import json

    try:
        settings = json.loads(job_settings_json)
    except ValueError:
        return "the job settings are not valid JSON"
    if not isinstance(settings, dict):
        return "the job settings must be a JSON object"
    if not any(settings.get(key) for key in ("schedule", "trigger", "continuous")):
        return ""
    if (settings.get("email_notifications") or {}).get("on_failure"):
        return ""
    return (
        "a scheduled job must notify someone when it fails: add email_notifications.on_failure, "
        'e.g. {"on_failure": ["data-team@example.com"]}'
    )


POLICIES = (Builtin("require_failure_notification", require_failure_notification, policy=True),)


class PolicyChecker:
    """Runs the policy schema's functions against job settings; see `problems`."""

    def __init__(
        self,
        session: Any,
        catalog: str | None = None,
        policy_schema: str | None = None,
        on_error: str | None = None,
    ):
        self.session = session
        self.catalog = catalog or session.config.catalog
        self.policy_schema = policy_schema or session.config.policy_schema
        self.on_error = on_error or session.config.policy_on_error

    @classmethod
    def from_env(cls) -> PolicyChecker | None:
        """None when Unity Catalog is off (nothing to check)."""
        from agent.uc.tools import shared_session

        session = shared_session()
        return cls(session) if session else None

    def problems(self, settings: dict[str, Any]) -> list[str]:
        """One string per violation ("Policy cat.sch.fn: `message`") or per policy that could not run."""
        from agent.uc.client import FunctionCallError

        payload = json.dumps(settings, sort_keys=True)
        try:
            listed = self.session.list(self.policy_schema)
        except Exception as exc:
            return self._could_not_run(f"Policy checks in {self.catalog}.{self.policy_schema}", exc)
        problems: list[str] = []
        for info in listed:
            if reason := refusal(info):
                problems += self._could_not_run(f"Policy {shown_name(info)}", reason)
                continue
            if not _takes_settings(info):
                continue
            name = function_name(info)
            try:
                violation = self.session.execute(info, {SETTINGS_PARAM: payload}, max_chars=VIOLATION_CHARS)
            except (FunctionCallError, TimeoutError) as exc:
                problems += self._could_not_run(f"Policy {name}", exc)
                continue
            if text := clean(violation, VIOLATION_CHARS, one_line=True):
                problems.append(f"Policy {name}: {quoted(text)}")
        return problems

    def describe(self) -> list[dict[str, str]]:
        """Each policy's name and what it asks (its comment), for the model to plan within them."""
        listed = self.session.list(self.policy_schema)
        functions = [f for f in listed if not refusal(f) and _takes_settings(f)]
        return [
            {"name": function_name(f), "rule": clean(f.comment or "", 400, one_line=True)} for f in functions
        ]

    def _could_not_run(self, what: str, exc: Exception | str) -> list[str]:
        message = f"{what} could not run: {exc}"
        log.warning("%s (%s)", message, "blocking" if self.on_error == "block" else "skipped")
        return [message] if self.on_error == "block" else []


def _takes_settings(info: Any) -> bool:
    params = (info.input_params.parameters if info.input_params else None) or []
    named = [p for p in params if p.name == SETTINGS_PARAM]
    others_optional = all(p.parameter_default is not None for p in params if p.name != SETTINGS_PARAM)
    return bool(named) and others_optional
