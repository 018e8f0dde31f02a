"""The agent's UC functions as tools: LangChain tools for an LLM, and a fail-soft call for plain code.

Tools come from UCFunctionToolkit unchanged (names, descriptions, argument schemas from UC), except
that each call is routed to the session's thread (see client.py) under the sandbox limits, and the
client's "no output" placeholder is turned back into the "" our functions return for "fine".
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from agent.errors import JobAgentError
from agent.uc.client import UCSession, open_session
from agent.uc.config import UCConfig

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

log = logging.getLogger(__name__)
_sessions: dict[UCConfig, UCSession] = {}
_sessions_lock = threading.Lock()


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
        # a wildcard on a schema that does not exist makes the toolkit raise: ask only for non-empty ones
        names = [f"{cfg.catalog}.{schema}.*" for schema in schemas if session.list(schema)]
        if not names:
            log.warning("no functions in %s.%s yet: run `jobagent tools register`", cfg.catalog, cfg.schema)
            return []
        tools = session.run(_toolkit, session.client, names, timeout=60).tools
    except Exception as exc:
        log.warning("Unity Catalog tools unavailable (%s): %s", cfg.status_line, exc)
        return []
    for tool in tools:
        tool.func = _on_session_thread(session, tool.func)
    return tools


def _toolkit(client: Any, names: list[str]) -> Any:
    from unitycatalog.ai.langchain.toolkit import UCFunctionToolkit

    return UCFunctionToolkit(function_names=names, client=client)


def _on_session_thread(session: UCSession, func: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> str:
        try:
            raw = session.run(lambda: session.with_limits(func, *args, **kwargs))
        except Exception as exc:  # the LLM gets the error as the tool's answer, the agent keeps going
            log.warning("tool call failed: %s", exc)
            return json.dumps({"error": str(exc)})
        return _clean(raw)

    return call


def _clean(raw: str) -> str:
    from unitycatalog.ai.core.executor.common import NO_OUTPUT_MESSAGE

    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(data, dict) and data.get("value") == NO_OUTPUT_MESSAGE:
        data["value"] = ""
    return json.dumps(data)


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
