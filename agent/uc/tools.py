"""The agent's UC functions as tools: LangChain tools for an LLM, and a fail-soft call for plain code.

Tools come from UCFunctionToolkit (names, descriptions, argument schemas from UC) for the functions whose
definitions pass vetting (untrusted.py), one by one (a function it cannot describe, such as one without
parameters, is left out alone). Each tool's call is replaced by `UCSession.call`: the body runs isolated
(isolation.py), never through the client, and the model reads a cleaned answer of at most TOOL_CHARS
characters in the toolkit's {"format", "value"} shape.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from agent.errors import JobAgentError
from agent.uc.client import UCSession, open_session
from agent.uc.config import UCConfig
from agent.uc.untrusted import clean, function_name, refusal

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

log = logging.getLogger(__name__)
_sessions: dict[UCConfig, UCSession] = {}
_sessions_lock = threading.Lock()
DESCRIPTION_CHARS = 1000  # a function's comment, as the model reads it


def shared_session(config: UCConfig | None = None) -> UCSession | None:
    """One long-lived session per configuration (it closes itself at exit); None when the feature is off."""
    config = config or UCConfig.from_env()
    if not config.enabled:
        return None
    with _sessions_lock:
        if config not in _sessions:
            _sessions[config] = open_session(config)  # type: ignore[assignment]
        return _sessions[config]


def uc_tools(
    config: UCConfig | None = None, *, session: UCSession | None = None, include_policies: bool = False
) -> list[BaseTool]:
    """LangChain tools for every function in the agent's schema (and optionally the policy schema).

    Returns [] when Unity Catalog is off or cannot be reached (logged: the agent plans without them);
    raises ConfigError when it is misconfigured, which an operator has to fix.
    """
    session = session or shared_session(config)
    if session is None:
        return []
    cfg = session.config
    schemas = [cfg.schema] + ([cfg.policy_schema] if include_policies else [])
    try:
        names = []
        for schema in schemas:
            for info in session.list(schema):
                if reason := refusal(info):
                    log.warning("not offered to the model: %s", reason)
                else:
                    names.append(function_name(info))
        if not names:
            log.warning("no functions in %s.%s yet: run `jobagent tools register`", cfg.catalog, cfg.schema)
            return []
    except Exception as exc:
        log.warning("Unity Catalog tools unavailable (%s): %s", cfg.status_line, exc)
        return []
    tools = []
    for name in names:
        try:
            tool = session.run(_tool, session.client, name, timeout=60)
        except Exception as exc:  # one function the toolkit cannot describe must not cost the others
            log.warning("not offered to the model: %s (%s)", name, _first_line(exc))
            continue
        tool.func = _isolated_call(session, name)
        tool.description = clean(tool.description, DESCRIPTION_CHARS)
        tools.append(tool)
    return tools


def _tool(client: Any, name: str) -> Any:
    from unitycatalog.ai.langchain.toolkit import UCFunctionToolkit

    return UCFunctionToolkit.uc_function_to_langchain_tool(function_name=name, client=client)


def _first_line(exc: BaseException) -> str:
    return clean(f"{type(exc).__name__}: {exc}", 200, one_line=True)


def _isolated_call(session: UCSession, full_name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> str:
        try:
            value = session.call(full_name, json.loads(json.dumps(kwargs, default=str)))
        except Exception as exc:  # the LLM gets the error as the tool's answer, the agent keeps going
            log.warning("tool call failed: %s", exc)
            return json.dumps({"error": str(exc)})
        return json.dumps({"format": "SCALAR", "value": value})

    return call


def call_function(name: str, args: dict[str, Any], *, session: UCSession | None = None) -> str | None:
    """The function's result, or None (logged) when UC is off, misconfigured, or the call fails/times out.

    For plan text (next run times, a cost estimate): a missing extra must never stop planning.
    """
    try:
        session = session or shared_session()
        if session is None:
            return None
        return session.call(name, args)
    except (JobAgentError, TimeoutError) as exc:  # FunctionCallError, ConfigError
        log.warning("Unity Catalog function %s: %s", name, exc)
    except Exception as exc:
        log.warning("Unity Catalog function %s could not be called: %s", name, exc, exc_info=True)
    return None
