"""The function client chosen by configuration, pinned to one thread that owns its event loop.

`UnitycatalogFunctionClient` is built on an aiohttp session, which belongs to the event loop it was
created in (and cannot be created outside a running loop at all). Its sync methods re-enter the
current thread's loop (nest_asyncio), so every call must happen on the thread that built it: a
`UCSession` keeps one worker thread with its own loop and runs every client call there, with a
deadline, whichever thread asks (CLI, Slack handlers, LangChain tools). The Databricks client needs no
loop, but goes through the same door for the same deadlines.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from agent.errors import ConfigError, JobAgentError
from agent.uc.config import UCConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
NOT_FOUND_LOGGER = "unitycatalog.ai.core.client"


class FunctionCallError(JobAgentError):
    """A Unity Catalog function could not be called or failed; the message says which and why."""

    def __init__(self, message: str, kind: str = "failed"):
        super().__init__(message)
        self.kind = kind  # unknown | arguments | failed | timeout


def result_text(full_name: str, result: Any) -> str:
    """A FunctionExecutionResult -> the value as text ("" for no output); raises on an error result."""
    from unitycatalog.ai.core.executor.common import NO_OUTPUT_MESSAGE, TIMEOUT_ERROR_MESSAGE

    if result.error:
        error = str(result.error).strip()
        if error.startswith(TIMEOUT_ERROR_MESSAGE.split("\n", 1)[0]):
            raise FunctionCallError(f"{full_name} timed out (sandbox limit reached)", "timeout")
        lines = [line for line in error.splitlines() if line.strip()]
        summary = lines[-1] if error.startswith("Traceback") else lines[0] if lines else "unknown error"
        raise FunctionCallError(f"{full_name} failed: {summary.strip()}", "failed")
    value = result.value
    return "" if value is None or value == NO_OUTPUT_MESSAGE else str(value)


class UCSession:
    """A function client plus the one thread it may be used from. Close it when done."""

    def __init__(self, config: UCConfig, build: Callable[[UCConfig], Any] | None = None):
        self.config = config
        self._thread = _LoopThread()
        self._closed = False
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
        """The sandbox's own limit plus room for the HTTP calls around it."""
        return self.config.timeout_s + 10.0

    # -- the calls the agent makes -------------------------------------------------------------
    def get(self, full_name: str) -> Any | None:
        return self.run(_get_function, self.client, full_name)

    def list(self, schema: str) -> list[Any]:
        """Every function in catalog.schema (all pages); [] when the schema does not exist yet."""
        return self.run(_list_all, self.client, self.config.catalog, schema)

    def call(self, name: str, args: dict[str, Any]) -> str:
        """Run function `name` (short names are in the agent's schema) -> its text result.

        Raises FunctionCallError (kind: unknown, arguments, failed, timeout) with a message to show.
        """
        full_name = self.config.full_name(name)
        try:
            return self.run(self._call_here, full_name, args)
        except FunctionCallError:
            raise
        except TimeoutError as exc:
            raise FunctionCallError(f"{full_name} did not finish: {exc}", "timeout") from None
        except Exception as exc:  # UC unreachable or refusing: the caller decides how loud to be
            raise FunctionCallError(f"{full_name} could not be called: {_brief(exc)}", "failed") from exc

    def _call_here(self, full_name: str, args: dict[str, Any]) -> str:
        if _get_function(self.client, full_name) is None:
            raise FunctionCallError(
                f"No function {full_name}. `jobagent tools list` shows the registered ones.", "unknown"
            )
        try:
            result = self.with_limits(self.client.execute_function, full_name, args)
        except ValueError as exc:  # the client checks arguments against the stored signature
            raise FunctionCallError(f"Bad arguments for {full_name}: {exc}", "arguments") from None
        return result_text(full_name, result)

    def with_limits(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call `fn` (on this thread) with the sandbox limits in place; the client reads them per call."""
        if self.config.mode == "oss":
            os.environ.update(self.config.sandbox_env(_address_space_mb()))
            if self.config.execution == "local":
                self.client.clear_function_cache()  # local mode memoises results (lru_cache) otherwise
        return fn(*args, **kwargs)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.config.mode == "oss":
            try:
                self.run(_close_oss, self.client, timeout=5)
            except Exception as exc:  # closing is best effort
                log.debug("closing the Unity Catalog client: %s", exc)
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


def _brief(exc: BaseException) -> str:
    """First line of an error (the REST client's messages carry headers and bodies after it)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _address_space_mb() -> int:
    """This process's virtual size (Linux); the forked sandbox starts with all of it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0
