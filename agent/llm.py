"""The LLM planner: the one module that talks to the `openai` client.

One chat-completions call with structured output per plan in the normal case; one repair round when
the answer fails validation (or a team policy); tool calls (Unity Catalog functions) answered in the same
conversation for a bounded number of rounds, the last one with `tool_choice: "none"` so the model
answers. One deadline (`JOBAGENT_LLM_DEADLINE`) covers every call, retry and tool: the caller gets an
answer or `LLMUnavailable` by then (plus a quarter second), and falls back to the offline Tech Lead.

What real services do that this handles: reasoning models refuse `temperature` (400, remembered for
the process); some models refuse `response_format` json_schema (then json_object, then none, with the
schema in the prompt); content arrives as blocks; strict answers carry every property as null.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.errors import ConfigError, JobAgentError
from agent.llm_answer import LLMAnswer, message_text, parse_answer
from agent.llm_prompt import system_message, user_message
from agent.llm_schema import Flavor, answer_schema, job_settings_schema

log = logging.getLogger(__name__)

__all__ = ["LLMAnswer", "LLMConfig", "LLMPlanner", "LLMUnavailable"]

GRACE_SECONDS = 0.25  # the caller falls back this long after the deadline at the latest
# Reasoning families take only the default temperature (OpenAI: o-series and GPT-5; gpt-oss on
# Databricks model serving); others get temperature 0 until the service says otherwise.
REASONING = re.compile(r"^(databricks-)?(o\d|gpt-5|gpt-oss)", re.I)
# Parameters a service may refuse as unsupported, and what each is downgraded to (None: not sent).
DOWNGRADES: dict[str, tuple[str | None, ...]] = {
    "temperature": (None,),
    "response_format": ("json_object", None),
    "tool_choice": (None,),
}
# (server, model) -> parameter -> index into DOWNGRADES: what this process learnt the service refuses.
_LEARNT: dict[tuple[str, str], dict[str, int]] = {}
_LEARNT_LOCK = threading.Lock()


class LLMUnavailable(JobAgentError):
    """The model could not give a valid plan; the offline Tech Lead takes over and the plan says why."""

    def __init__(self, message: str, *, seconds: float = 0.0, calls: int = 0):
        super().__init__(message)
        self.seconds, self.calls = seconds, calls


@dataclass
class LLMConfig:
    provider: str  # "openai" (any OpenAI-compatible server) or "databricks" (model serving)
    model: str
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 30.0  # one HTTP call
    max_retries: int = 2  # the openai client's own retries (429/5xx/timeouts, Retry-After honoured)
    deadline: float = 30.0  # the whole LLM part of one plan
    tool_rounds: int = 3
    prompt_tokens: int = 12_000  # budget for the data part of the prompt
    schema_flavor: str = ""  # "openai" / "databricks"; default by provider and base URL

    @property
    def flavor(self) -> Flavor:
        if self.schema_flavor in ("openai", "databricks"):
            return self.schema_flavor  # type: ignore[return-value]
        serving = self.provider == "databricks" or "/serving-endpoints" in (self.base_url or "")
        return "databricks" if serving else "openai"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMConfig | None:
        """None when no LLM is configured: the Tech Lead stays offline."""
        env = os.environ if env is None else env
        provider = env.get("JOBAGENT_LLM", "").lower()
        if provider in ("off", "none", "offline"):
            return None
        knobs: dict[str, Any] = {
            "timeout": _number(env, "JOBAGENT_LLM_TIMEOUT", 30.0),
            "max_retries": int(_number(env, "JOBAGENT_LLM_MAX_RETRIES", 2)),
            "deadline": _number(env, "JOBAGENT_LLM_DEADLINE", 30.0),
            "tool_rounds": int(_number(env, "JOBAGENT_LLM_TOOL_ROUNDS", 3)),
            "prompt_tokens": int(_number(env, "JOBAGENT_LLM_PROMPT_TOKENS", 12_000)),
            "schema_flavor": env.get("JOBAGENT_LLM_SCHEMA", "").lower(),
        }
        if knobs["schema_flavor"] not in ("", "openai", "databricks"):
            raise ConfigError("JOBAGENT_LLM_SCHEMA must be openai or databricks.")
        if knobs["deadline"] <= 0:
            raise ConfigError("JOBAGENT_LLM_DEADLINE must be a positive number of seconds.")
        if provider == "databricks":
            endpoint = env.get("JOBAGENT_LLM_MODEL") or env.get("JOBAGENT_LLM_ENDPOINT")
            if not endpoint:
                raise ConfigError(
                    "JOBAGENT_LLM=databricks needs JOBAGENT_LLM_MODEL (a serving endpoint name)."
                )
            return cls("databricks", endpoint, **knobs)
        if provider not in ("", "openai"):
            raise ConfigError(f"JOBAGENT_LLM={provider!r} is not one of openai, databricks, off.")
        key, base = env.get("OPENAI_API_KEY"), env.get("OPENAI_BASE_URL")
        if not key and not (provider == "openai" and base):
            return None
        return cls("openai", env.get("JOBAGENT_LLM_MODEL", "gpt-4o-mini"), key or "unused", base, **knobs)

    def client(self) -> Any:
        import openai

        if self.provider == "databricks":
            import warnings

            from databricks.sdk import WorkspaceClient

            try:
                workspace = WorkspaceClient()
            except ValueError as exc:  # the SDK's unified auth found no workspace or credentials
                raise ConfigError(
                    f"The model cannot be reached: {exc} Configure Databricks credentials "
                    "(DATABRICKS_HOST and DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE) or set "
                    "JOBAGENT_LLM=off for the offline Tech Lead."
                ) from exc
            with warnings.catch_warnings():  # deprecated in favour of another package; still the SDK's way
                warnings.simplefilter("ignore", DeprecationWarning)
                return workspace.serving_endpoints.get_open_ai_client(
                    timeout=self.timeout, max_retries=self.max_retries
                )
        return openai.OpenAI(
            api_key=self.api_key, base_url=self.base_url, timeout=self.timeout, max_retries=self.max_retries
        )

    @property
    def server(self) -> str:
        return self.base_url or self.provider


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number (got {env.get(name)!r}).") from exc


class LLMPlanner:
    def __init__(self, config: LLMConfig, client: Any | None = None, tools: list[Any] | None = None):
        self.config = config
        self.client = client or config.client()
        self.tools = {t.name: t for t in tools or []}
        self.tool_specs = _tool_specs(self.tools.values())
        # The schemas read the SDK's docstrings (about a second): done now, not in the first plan.
        threading.Thread(target=_warm_schemas, args=(config.flavor,), name="llm-schemas", daemon=True).start()

    def plan(
        self,
        context: dict[str, Any],
        *,
        action: str = "create",
        base: dict[str, Any] | None = None,
        checks: Callable[[dict[str, Any]], list[str]] | None = None,
    ) -> LLMAnswer:
        """A valid answer within the deadline, or LLMUnavailable saying why (never another exception).

        `base` is the job's current settings for an update (the answer's change set is merged into it);
        `checks` adds problems of its own (team policies) to the validation the repair round sees.
        """
        talk = _Conversation(self, context, action, base, checks)
        done = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["answer"] = talk.run()
            except BaseException as exc:  # noqa: BLE001 - carried to the caller, which falls back
                box["error"] = exc
            finally:
                done.set()

        # A daemon thread: a model that hangs past the deadline cannot hold the plan or the process.
        # It runs in a copy of this context, so tracing spans (MLflow) nest under the caller's.
        context_copy = contextvars.copy_context()
        threading.Thread(target=context_copy.run, args=(run,), name="llm-plan", daemon=True).start()
        if not done.wait(self.config.deadline + GRACE_SECONDS):
            talk.abandoned = True
            raise talk.deadline_passed()
        error = box.get("error")
        if isinstance(error, LLMUnavailable):
            raise error
        if error is not None:
            log.warning("llm planning failed unexpectedly", exc_info=error)
            raise talk.unavailable(f"its answer could not be used ({type(error).__name__}: {error})")
        return box["answer"]

    def _run_tool(self, name: str, arguments: str) -> str:
        tool = self.tools.get(name)
        if tool is None:
            return f"error: no tool named {name}"
        try:
            args = json.loads(arguments or "{}")
            return str(tool.invoke(args if isinstance(args, dict) else {}))
        except Exception as exc:  # a failing tool is reported to the model, never crashes the plan
            log.warning("tool %s failed: %s", name, exc)
            return f"error: {exc}"


@dataclass
class _Conversation:
    planner: LLMPlanner
    context: dict[str, Any]
    action: str
    base: dict[str, Any] | None
    checks: Callable[[dict[str, Any]], list[str]] | None
    started: float = field(default_factory=time.monotonic)
    calls: int = 0
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    )
    tool_results: list[str] = field(default_factory=list)
    abandoned: bool = False

    @property
    def config(self) -> LLMConfig:
        return self.planner.config

    def remaining(self) -> float:
        return self.config.deadline - (time.monotonic() - self.started)

    def unavailable(self, reason: str) -> LLMUnavailable:
        return LLMUnavailable(reason, seconds=time.monotonic() - self.started, calls=self.calls)

    def deadline_passed(self) -> LLMUnavailable:
        return self.unavailable(f"no valid answer within the {self.config.deadline:g} s deadline")

    # -- the conversation -----------------------------------------------------------------------
    def run(self) -> LLMAnswer:
        text, tokens = user_message(self.context, self.config.prompt_tokens)
        log.info("llm prompt: ~%d tokens of data (budget %d)", tokens, self.config.prompt_tokens)
        messages: list[dict[str, Any]] = [{"role": "user", "content": text}]
        rounds, repaired = 0, False
        while True:
            last_round = bool(self.planner.tools) and rounds >= self.config.tool_rounds
            message = self._complete(messages, tool_choice="none" if last_round else None)
            tool_calls = getattr(message, "tool_calls", None) or []
            if tool_calls and not last_round:
                rounds += 1
                messages.append(_assistant(message))
                for call in tool_calls:
                    result = self.planner._run_tool(call.function.name, call.function.arguments)
                    self.tool_results.append(f"{call.function.name}: {result}")
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
                continue
            if tool_calls:  # asked for tools after the last round: answer each, then say so
                problems = [f"no more tool calls: the {self.config.tool_rounds} tool rounds are used up"]
                messages.append(_assistant(message))
                messages += [
                    {"role": "tool", "tool_call_id": c.id, "content": "not run: no tool rounds left"}
                    for c in tool_calls
                ]
            elif getattr(message, "refusal", None):
                return self._finish(LLMAnswer(None, [], [], [], str(message.refusal)))
            else:
                text = message_text(message.content)
                answer, problems = parse_answer(text, action=self.action, base=self.base)
                if not problems and answer.settings is not None and self.checks is not None:
                    problems = self.checks(answer.settings)
                if not problems:
                    return self._finish(answer)
                messages.append({"role": "assistant", "content": text})
            if repaired:
                raise self.unavailable("the model's answer was invalid twice: " + "; ".join(problems[:3]))
            repaired = True
            log.info("llm answer invalid (%d problems); one repair round", len(problems))
            messages.append(
                {
                    "role": "user",
                    "content": "Your answer cannot be used:\n- "
                    + "\n- ".join(problems)
                    + "\nReturn the corrected JSON only.",
                }
            )

    def _finish(self, answer: LLMAnswer) -> LLMAnswer:
        answer.usage, answer.calls, answer.tool_results = self.usage, self.calls, self.tool_results
        answer.seconds = time.monotonic() - self.started
        log.info("llm plan: %d call(s) in %.1f s, tokens %s", self.calls, answer.seconds, self.usage)
        return answer

    # -- one completion, adapting to what the service accepts -------------------------------------
    def _complete(self, messages: list[dict[str, Any]], tool_choice: str | None) -> Any:
        import openai

        key = (self.config.server, self.config.model)
        while True:
            if self.abandoned or self.remaining() <= 0.05:
                raise self.deadline_passed()
            params, in_prompt = self._params(_LEARNT.get(key, {}), tool_choice)
            system = {"role": "system", "content": system_message(self.action, **in_prompt)}
            timeout = min(self.config.timeout, max(self.remaining(), 0.1))
            client = self.planner.client.with_options(timeout=timeout)
            self.calls += 1
            try:
                response = client.chat.completions.create(
                    model=self.config.model, messages=[system, *messages], **params
                )
            except openai.BadRequestError as exc:
                if not self._learn(key, exc, params):
                    reason = f"the model service refused the request (HTTP 400: {_said(exc)})"
                    raise self.unavailable(reason) from None
                continue
            except openai.APITimeoutError:
                if self.remaining() <= 0.5:
                    raise self.deadline_passed() from None
                raise self.unavailable(f"the model timed out after {timeout:.0f} s") from None
            except openai.RateLimitError:
                raise self.unavailable("the model kept answering 429 (rate limited) after retries") from None
            except openai.APIConnectionError as exc:
                raise self.unavailable(f"the model could not be reached ({exc.__class__.__name__})") from None
            except openai.APIStatusError as exc:
                raise self.unavailable(f"the model answered HTTP {exc.status_code}: {_said(exc)}") from None
            if response.usage:
                for name in self.usage:
                    self.usage[name] += getattr(response.usage, name, 0) or 0
            if not response.choices:
                raise self.unavailable("the model's response had no choices")
            return response.choices[0].message

    def _params(
        self, learnt: dict[str, int], tool_choice: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The request's parameters as this service accepts them, and the schemas the prompt must
        carry because the service does not enforce them."""
        params: dict[str, Any] = {}
        in_prompt: dict[str, Any] = {}
        flavor = self.config.flavor
        if "temperature" not in learnt and not REASONING.match(self.config.model):
            params["temperature"] = 0
        level = learnt.get("response_format")
        mode = "json_schema" if level is None else DOWNGRADES["response_format"][level]
        if mode == "json_schema":
            schema = answer_schema(self.action, flavor)
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "job_plan", "schema": schema, "strict": True},
            }
            if flavor == "databricks":
                in_prompt["settings"] = job_settings_schema("plain", describe=False)
        else:
            in_prompt["answer"] = answer_schema(self.action, "plain")
            if mode == "json_object":
                params["response_format"] = {"type": "json_object"}
        if self.planner.tool_specs:
            params["tools"] = self.planner.tool_specs
            if tool_choice and "tool_choice" not in learnt:
                params["tool_choice"] = tool_choice
        return params, in_prompt

    def _learn(self, key: tuple[str, str], exc: Any, params: dict[str, Any]) -> bool:
        """A 400 about one of our optional parameters: downgrade it for this process and say so."""
        body = exc.body if isinstance(exc.body, dict) else {}
        param = str(body.get("param") or "")
        message = _said(exc)
        with _LEARNT_LOCK:
            learnt = _LEARNT.setdefault(key, {})
            for name, steps in DOWNGRADES.items():
                if name not in params:
                    continue
                named = param == name or param.startswith(name + ".") or name in message
                if not named:
                    continue
                level = learnt.get(name, -1) + 1
                if level >= len(steps):
                    return False
                learnt[name] = level
                log.warning(
                    "model %s refused %s (%s); sending %s from now on",
                    self.config.model,
                    name,
                    message[:200],
                    steps[level] or "none",
                )
                return True
        return False


def _tool_specs(tools: Any) -> list[dict[str, Any]]:
    """The tools as the chat API describes them, converted once per planner, not per call."""
    tools = list(tools)
    if not tools:
        return []
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return [convert_to_openai_tool(t) for t in tools]


def _warm_schemas(flavor: Flavor) -> None:
    for action in ("create", "update"):
        answer_schema(action, flavor)


def _assistant(message: Any) -> dict[str, Any]:
    """An assistant message with tool calls, as it goes back in the conversation."""
    return {
        "role": "assistant",
        "content": message_text(message.content) or None,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments or "{}"},
            }
            for c in message.tool_calls
        ],
    }


def _said(exc: Any) -> str:
    """The service's own message: OpenAI's `error.message`, Databricks' `message`, else the text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]


def reset_learnt() -> None:
    """Forget what services refused (tests start from a clean process state)."""
    with _LEARNT_LOCK:
        _LEARNT.clear()
