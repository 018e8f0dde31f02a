"""Unity Catalog settings from the environment; no UC imports here, so the CLI can say "off" cheaply.

The feature is off unless JOBAGENT_UC_URL (an open-source UC server) or JOBAGENT_UC_MODE=databricks is
set. The limits (timeout, CPU seconds, memory) apply to each call in the isolated child (isolation.py);
the EXECUTOR_* names the client's own executor reads are still accepted as fallbacks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from agent.errors import ConfigError

MODES = ("auto", "off", "oss", "databricks")
OSS_EXECUTION = ("sandbox", "local")
API_PREFIX = "/api/2.1/unity-catalog"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OFF_HINT = (
    "set JOBAGENT_UC_URL=http://127.0.0.1:8080 for an open-source Unity Catalog server "
    "(try `jobagent uc-server`), or JOBAGENT_UC_MODE=databricks"
)


@dataclass(frozen=True)
class UCConfig:
    mode: str = "off"  # off | oss | databricks
    url: str = ""
    catalog: str = "main"
    schema: str = "jobagent"
    policy_schema: str = "jobagent_policies"
    execution: str = "sandbox"  # oss (both isolated): sandbox | local; databricks: warehouse | serverless
    warehouse_id: str = ""
    timeout_s: int = 10
    cpu_s: int = 10
    memory_mb: int = 512  # address space of each call's process
    policy_on_error: str = "block"  # block | warn

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UCConfig:
        env = os.environ if env is None else env
        url = env.get("JOBAGENT_UC_URL", "").strip().rstrip("/").removesuffix(API_PREFIX)
        mode = env.get("JOBAGENT_UC_MODE", "auto").strip().lower() or "auto"
        if mode not in MODES:
            raise ConfigError(f"JOBAGENT_UC_MODE={mode!r} is not one of {', '.join(MODES)}.")
        if mode == "auto":
            mode = "oss" if url else "off"
        if mode == "oss" and not re.match(r"^https?://[^/]+", url):
            raise ConfigError(
                f"JOBAGENT_UC_URL={url!r} is not a server address; set it like http://127.0.0.1:8080."
            )
        defaults = {"catalog": "main", "schema": "jobagent", "policy_schema": "jobagent_policies"}
        names = {key: env.get(f"JOBAGENT_UC_{key.upper()}", default) for key, default in defaults.items()}
        for key, value in names.items():
            if not _NAME.match(value):
                raise ConfigError(
                    f"JOBAGENT_UC_{key.upper()}={value!r} must be a plain identifier like 'main'."
                )
        warehouse = env.get("JOBAGENT_UC_WAREHOUSE_ID", "").strip()
        execution = _execution(mode, env.get("JOBAGENT_UC_EXECUTION", "").strip().lower(), warehouse)
        timeout = _int(env, ("JOBAGENT_UC_TIMEOUT", "EXECUTOR_TIMEOUT"), 10)
        on_error = env.get("JOBAGENT_UC_POLICY_ON_ERROR", "block").strip().lower()
        if on_error not in ("block", "warn"):
            raise ConfigError(f"JOBAGENT_UC_POLICY_ON_ERROR={on_error!r} must be 'block' or 'warn'.")
        return cls(
            mode=mode,
            url=url if mode == "oss" else "",
            execution=execution,
            warehouse_id=warehouse,
            timeout_s=timeout,
            cpu_s=_int(env, ("JOBAGENT_UC_CPU_SECONDS", "EXECUTOR_MAX_CPU_TIME_LIMIT"), timeout),
            memory_mb=_int(env, ("JOBAGENT_UC_MEMORY_MB",), 512),
            policy_on_error=on_error,
            **names,
        )

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    @property
    def api_host(self) -> str:
        return self.url + API_PREFIX

    def full_name(self, function: str, *, policy: bool = False) -> str:
        """`name` -> catalog.schema.name in the agent's (or the policy) schema; full names pass through."""
        if function.count(".") == 2:
            return function
        return f"{self.catalog}.{self.policy_schema if policy else self.schema}.{function}"

    @property
    def status_line(self) -> str:
        if not self.enabled:
            return f"Unity Catalog tools: off ({OFF_HINT})"
        where = f"server {self.url}" if self.mode == "oss" else "Databricks-managed Unity Catalog"
        run = self.execution + (f" {self.warehouse_id}" if self.execution == "warehouse" else "")
        return (
            f"Unity Catalog tools: on ({where}; functions in {self.catalog}.{self.schema}, "
            f"policies in {self.catalog}.{self.policy_schema}; execution: {run})"
        )


def _execution(mode: str, wanted: str, warehouse: str) -> str:
    if mode == "databricks":
        wanted = wanted if wanted and wanted != "sandbox" else ("warehouse" if warehouse else "")
        if wanted == "warehouse" and warehouse:
            return wanted
        if wanted == "serverless":
            return wanted
        raise ConfigError(
            "JOBAGENT_UC_MODE=databricks runs functions on Databricks compute: set "
            "JOBAGENT_UC_WAREHOUSE_ID=<SQL warehouse id> (see SQL Warehouses → Connection details), "
            "or JOBAGENT_UC_EXECUTION=serverless (needs the databricks-connect package)."
        )
    wanted = wanted or "sandbox"
    if mode == "oss" and wanted not in OSS_EXECUTION:
        raise ConfigError(f"JOBAGENT_UC_EXECUTION={wanted!r} must be 'sandbox' (default) or 'local'.")
    return wanted


def _int(env: Mapping[str, str], names: tuple[str, ...], default: int) -> int:
    for name in names:
        raw = env.get(name, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise ConfigError(f"{name}={raw!r} must be a whole number above 0.")
            return int(raw)
    return default
