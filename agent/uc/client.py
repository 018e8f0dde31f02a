"""The function client chosen by configuration, pinned to one thread that owns its event loop.

`UnitycatalogFunctionClient` is built on an aiohttp session, which belongs to the event loop it was
created in (and cannot be created outside a running loop at all). Its sync methods re-enter the
current thread's loop (nest_asyncio), so every call must happen on the thread that built it: a
`UCSession` keeps one worker thread with its own loop and runs every client call there, with a
deadline, whichever thread asks (CLI, Slack handlers, LangChain tools). The Databricks client needs no
loop, but goes through the same door for the same deadlines. Function bodies never run here or in a
fork of this process: `execute` vets the definition and hands the body to isolation.py.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from agent.errors import ConfigError, JobAgentError
from agent.uc.config import UCConfig
from agent.uc.isolation import FunctionRunner
from agent.uc.untrusted import ERROR_CHARS, TOOL_CHARS, clean, function_name, param_names, quoted, refusal

log = logging.getLogger(__name__)
T = TypeVar("T")
NOT_FOUND_LOGGER = "unitycatalog.ai.core.client"


class FunctionCallError(JobAgentError):
    """A Unity Catalog function could not be called or failed; the message says which and why."""

    def __init__(self, message: str, kind: str = "failed"):
        super().__init__(message)
        self.kind = kind  # unknown | refused | arguments | failed | timeout


def result_text(full_name: str, result: Any) -> str:
    """A FunctionExecutionResult (from Databricks) -> the value as text; raises on an error result."""
    from unitycatalog.ai.core.executor.common import NO_OUTPUT_MESSAGE

    if result.error:
        lines = [line for line in str(result.error).strip().splitlines() if line.strip()]
        summary = lines[-1] if lines and lines[0].startswith("Traceback") else lines[0] if lines else ""
        raise FunctionCallError(f"{full_name} failed: {_said(summary or 'unknown error')}", "failed")
    value = result.value
    return "" if value is None or value == NO_OUTPUT_MESSAGE else str(value)


class UCSession:
    """A function client plus the one thread it may be used from. Close it when done."""

    def __init__(self, config: UCConfig, build: Callable[[UCConfig], Any] | None = None):
        self.config = config
        self._thread = _LoopThread()
        self._closed = False
        self.runner = FunctionRunner(config)  # its process starts on the first call
        try:
            self.client = self.run(build or build_client, config, timeout=60)
        except BaseException:
            self._thread.stop()
            raise
        atexit.register(self.close)  # before the client's own atexit hook, which runs on the wrong loop

    @property
    def description(self) -> str:
        return self.config.status_line

    def run(self, fn: Callable[..., T], *args: Any, timeout: float | None = None, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the client's thread; TimeoutError after `timeout` seconds."""
        if threading.current_thread() is self._thread.thread:
            return fn(*args, **kwargs)  # already there (a tool called from inside a client call)
        future = self._thread.submit(fn, *args, **kwargs)
        limit = timeout or self.call_timeout
        try:
            return future.result(timeout=limit)
        except cf.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer from Unity Catalog within {limit:.0f} s") from None

    @property
    def call_timeout(self) -> float:
        """The functions' own limit plus room for the HTTP calls around it."""
        return self.config.timeout_s + 10.0

    # -- the calls the agent makes -------------------------------------------------------------
    def get(self, full_name: str) -> Any | None:
        return self.run(_get_function, self.client, full_name)

    def list(self, schema: str) -> list[Any]:
        """Every function in catalog.schema (all pages); [] when the schema does not exist yet."""
        return self.run(_list_all, self.client, self.config.catalog, schema)

    def call(self, name: str, args: dict[str, Any]) -> str:
        """Run function `name` (short names are in the agent's schema) -> its result as clean text.

        Raises FunctionCallError (kind: unknown, refused, arguments, failed, timeout) with a message to show.
        """
        full_name = self.config.full_name(name)
        try:
            info = self.get(full_name)
        except TimeoutError as exc:
            raise FunctionCallError(f"{full_name} did not finish: {exc}", "timeout") from None
        except Exception as exc:  # UC unreachable or refusing: the caller decides how loud to be
            raise FunctionCallError(f"{full_name} could not be called: {_brief(exc)}", "failed") from exc
        if info is None:
            raise FunctionCallError(
                f"No function {full_name}. `jobagent tools list` shows the registered ones.", "unknown"
            )
        return self.execute(info, args)

    def execute(self, info: Any, args: dict[str, Any], max_chars: int = TOOL_CHARS) -> str:
        """Run a function already loaded (its FunctionInfo) -> its result, cleaned and capped.

        The definition is vetted first; open-source bodies run in the isolated child (isolation.py),
        Databricks runs its own on its compute.
        """
        if problem := refusal(info):
            raise FunctionCallError(problem, "refused")
        full_name = function_name(info)
        try:
            self.client.validate_input_params(info.input_params, args)  # the stored signature; runs nothing
        except ValueError as exc:
            message = f"Bad arguments for {full_name}: {clean(exc, 500, one_line=True)}"
            raise FunctionCallError(message, "arguments") from None
        if self.config.mode != "oss":
            try:
                result = self.run(self.client.execute_function, full_name, args)
            except TimeoutError as exc:
                raise FunctionCallError(f"{full_name} did not finish: {exc}", "timeout") from None
            except Exception as exc:
                raise FunctionCallError(f"{full_name} could not be called: {_brief(exc)}", "failed") from exc
            return clean(result_text(full_name, result), max_chars)
        kind = getattr(info.routine_body, "value", info.routine_body)
        if kind != "EXTERNAL" or not isinstance(info.routine_definition, str):
            raise FunctionCallError(f"{full_name} is not a Python function; only those run here", "failed")
        from unitycatalog.ai.core.utils.function_processing_utils import process_function_parameter_defaults

        args = process_function_parameter_defaults(info, args)  # literal defaults; evaluates no code
        reply = self.runner.call(param_names(info), info.routine_definition, args, max_chars * 2)
        if reply.get("ok"):
            return clean(reply.get("value", ""), max_chars)
        if reply.get("kind") == "timeout":
            limit = f"{self.config.timeout_s} s (JOBAGENT_UC_TIMEOUT)"
            raise FunctionCallError(f"{full_name} timed out after {limit}", "timeout")
        said = _said(reply.get("error") or "unknown error")
        raise FunctionCallError(f"{full_name} failed: {said}", "failed")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.config.mode == "oss":
            try:
                self.run(_close_oss, self.client, timeout=5)
            except Exception as exc:  # closing is best effort
                log.debug("closing the Unity Catalog client: %s", exc)
        self.runner.close()
        self._thread.stop()

    def __enter__(self) -> UCSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_session(config: UCConfig | None = None) -> UCSession | None:
    """The configured session, or None when the feature is off. Raises ConfigError when misconfigured."""
    config = config or UCConfig.from_env()
    return UCSession(config) if config.enabled else None


def build_client(config: UCConfig) -> Any:
    """The client for `config.mode`; runs on the session thread (it needs that thread's loop)."""
    library_log = logging.getLogger(NOT_FOUND_LOGGER)
    if _quiet_not_found not in library_log.filters:
        library_log.addFilter(_quiet_not_found)
    if config.mode == "oss":
        return asyncio.get_event_loop().run_until_complete(_build_oss(config))
    if config.mode == "databricks":
        return _build_databricks(config)
    raise ConfigError(f"Unity Catalog tools are off: {config.status_line}")


async def _build_oss(config: UCConfig) -> Any:
    from unitycatalog.ai.core.client import UnitycatalogFunctionClient
    from unitycatalog.client import ApiClient, Configuration

    api = ApiClient(Configuration(host=config.api_host))
    return UnitycatalogFunctionClient(api_client=api, execution_mode=config.execution)


def _build_databricks(config: UCConfig) -> Any:
    from agent.config import databricks_configured

    if not databricks_configured():
        raise ConfigError(
            "JOBAGENT_UC_MODE=databricks needs a Databricks workspace: set DATABRICKS_HOST and "
            "DATABRICKS_TOKEN, or DATABRICKS_CONFIG_PROFILE (a ~/.databrickscfg profile)."
        )
    if config.execution == "serverless":
        try:
            import databricks.connect  # noqa: F401
        except ImportError:
            raise ConfigError(
                "JOBAGENT_UC_EXECUTION=serverless needs the databricks-connect package; install it, or "
                "set JOBAGENT_UC_WAREHOUSE_ID=<SQL warehouse id> to run functions on a warehouse."
            ) from None
    from databricks.sdk import WorkspaceClient
    from unitycatalog.ai.core.databricks import DatabricksFunctionClient

    extra = {"warehouse_id": config.warehouse_id} if config.execution == "warehouse" else {}
    return DatabricksFunctionClient(client=WorkspaceClient(), execution_mode="serverless", **extra)


class _LoopThread:
    """One daemon thread with its own event loop, running submitted calls in order.

    Not a ThreadPoolExecutor: those refuse work once interpreter shutdown begins, before atexit hooks
    run, and closing the client's aiohttp session at exit must still happen on this thread.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="uc-client", daemon=True)
        self.thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _serve(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)


def _get_function(client: Any, full_name: str) -> Any | None:
    try:
        return client.get_function(full_name)
    except Exception as exc:
        if _is_not_found(exc):
            return None
        raise


def _list_all(client: Any, catalog: str, schema: str) -> list[Any]:
    found: list[Any] = []
    token = None
    while True:
        try:
            page = client.list_functions(catalog=catalog, schema=schema, page_token=token)
        except Exception as exc:
            if _is_not_found(exc):
                return found
            raise
        found.extend(page)
        token = page.token
        if not token:
            return found


async def _close_async(client: Any) -> None:
    await client.close_async()
    await client.uc.close_async()


def _close_oss(client: Any) -> None:
    asyncio.get_event_loop().run_until_complete(_close_async(client))


def _is_not_found(exc: Exception) -> bool:
    return getattr(exc, "status", None) == 404 or type(exc).__name__ in ("NotFound", "ResourceDoesNotExist")


def _quiet_not_found(record: logging.LogRecord) -> bool:
    """The OSS client logs a warning for every 404 on get, which registration expects; keep it quiet."""
    return not record.getMessage().startswith("Failed to retrieve function")


def _said(text: str) -> str:
    """What a function said about its failure: its words, cleaned, capped and quoted."""
    return quoted(clean(text, ERROR_CHARS, one_line=True))


def _brief(exc: BaseException) -> str:
    """First line of an error (the REST client's messages carry headers and bodies after it)."""
    text = str(exc).strip().splitlines()
    first = clean(text[0], ERROR_CHARS, one_line=True) if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
