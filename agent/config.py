"""Configuration from environment variables, and the choice of Databricks workspace.

Databricks credentials come from the SDK's own unified config (DATABRICKS_* variables,
~/.databrickscfg profiles); the local emulator is used when asked (JOBAGENT_WORKSPACE=emulator) or
when nothing is configured, and callers print `WorkspaceHandle.description` so the user knows which.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ConfigError

log = logging.getLogger(__name__)

WORKSPACE_MODES = ("auto", "emulator", "databricks")


@dataclass(frozen=True)
class Settings:
    home: Path
    state_path: Path
    notes_dir: Path
    docs_dir: Path
    workspace_mode: str
    emulator_data: Path
    user: str  # JOBAGENT_USER: whom the CLI acts for ("": whoever the Databricks credentials are)
    log_level: str
    databricks_timeout: int = 20  # seconds one workspace call may take, retries included
    workspace_cache_ttl: float = 3600.0  # seconds node types / Spark versions are kept on disk (0: not)
    path_recheck_seconds: int = 900  # an apply this soon after its plan trusts the plan's path checks

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("JOBAGENT_HOME", ".jobagent"))
        mode = env.get("JOBAGENT_WORKSPACE", "auto").lower()
        if mode not in WORKSPACE_MODES:
            raise ConfigError(f"JOBAGENT_WORKSPACE={mode!r} is not one of {', '.join(WORKSPACE_MODES)}.")
        level = env.get("JOBAGENT_LOG_LEVEL", "WARNING").upper()
        if level not in logging.getLevelNamesMapping():
            raise ConfigError(f"JOBAGENT_LOG_LEVEL={level!r} is not a logging level (try INFO or DEBUG).")
        return cls(
            home=home,
            state_path=Path(env.get("JOBAGENT_STATE_PATH", home / "state")),
            notes_dir=Path(env.get("JOBAGENT_NOTES_DIR", "notes")),
            docs_dir=Path(env.get("JOBAGENT_DOCS_DIR", home / "docs")),
            workspace_mode=mode,
            emulator_data=Path(env.get("JOBAGENT_EMULATOR_DATA", home / "emulator.json")),
            user=env.get("JOBAGENT_USER", "").strip(),
            log_level=level,
            databricks_timeout=_seconds(env, "JOBAGENT_DATABRICKS_TIMEOUT", 20),
            workspace_cache_ttl=_cache_ttl(env.get("JOBAGENT_WORKSPACE_CACHE_TTL", "")),
            path_recheck_seconds=_seconds(env, "JOBAGENT_PATH_RECHECK_SECONDS", 900),
        )

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def cache_dir(self) -> Path:
        """Per-workspace lists (node types, Spark versions) kept between processes."""
        return self.home / "cache"


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A true/false setting (1/0, yes/no, on/off); empty means `default`, anything else is a ConfigError."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} must be true or false.")


def _cache_ttl(raw: str) -> float:
    """JOBAGENT_WORKSPACE_CACHE_TTL: seconds, 0 (fetch once per process) to a week; default an hour."""
    if not raw.strip():
        return 3600.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 7 * 86400:
        raise ConfigError(f"JOBAGENT_WORKSPACE_CACHE_TTL={raw!r} must be seconds between 0 and 604800.")
    return value


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be a whole number of seconds (1 or more).")
    return value


@dataclass
class WorkspaceHandle:
    """A connected workspace plus the in-process emulator behind it, if any (stop it when done)."""

    client: Any
    description: str
    emulator: Any = None

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None


def databricks_configured(timeout: int | None = None) -> bool:
    """True when the SDK's unified auth finds a host and credentials (env or ~/.databrickscfg).
    `timeout` bounds the SDK's look-up of the host's metadata (its default retries for 5 minutes)."""
    from databricks.sdk.core import Config

    limits = {"retry_timeout_seconds": timeout, "http_timeout_seconds": timeout} if timeout else {}
    try:
        Config(**limits)
    except ValueError:
        return False
    return True


def databricks_named(env: Mapping[str, str] | None = None) -> bool:
    """True when the environment names a workspace (DATABRICKS_HOST or DATABRICKS_CONFIG_PROFILE): in
    `auto` mode a mistake in those is reported, not silently replaced by the emulator."""
    env = os.environ if env is None else env
    return any(env.get(name, "").strip() for name in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE"))


def open_workspace(settings: Settings, *, persist: bool = True) -> WorkspaceHandle:
    """Connect to the configured workspace, or start the local emulator (persisted to a file)."""
    from databricks.sdk import WorkspaceClient

    use_real = settings.workspace_mode == "databricks" or (
        settings.workspace_mode == "auto"
        and (databricks_named() or databricks_configured(settings.databricks_timeout))
    )
    if use_real:
        from databricks.sdk.config import Config

        try:
            # The SDK's defaults (60 s per request, 300 s of retries) make an unreachable workspace
            # take minutes to report; jobagent waits `databricks_timeout` per call instead.
            client = WorkspaceClient(
                config=Config(
                    retry_timeout_seconds=settings.databricks_timeout,
                    http_timeout_seconds=settings.databricks_timeout,
                )
            )
        except ValueError as exc:
            # The SDK appends its whole configuration ("Config: host=…, token=***. Env: …"): not for users.
            detail = re.sub(r"[.\s]*\bConfig: .*$", "", str(exc), flags=re.DOTALL) or type(exc).__name__
            raise ConfigError(
                f"Databricks is not configured ({detail}). Set DATABRICKS_HOST and DATABRICKS_TOKEN, "
                "or DATABRICKS_CONFIG_PROFILE, or use JOBAGENT_WORKSPACE=emulator."
            ) from exc
        return WorkspaceHandle(client, f"Databricks workspace {client.config.host}")
    from standins.databricks import WorkspaceEmulator

    data = settings.emulator_data if persist else None
    emulator = WorkspaceEmulator(data_path=data)
    emulator.start()
    where = f"state in {data}" if data else "in memory"
    return WorkspaceHandle(
        emulator.client(), f"local Databricks workspace emulator at {emulator.url} ({where})", emulator
    )
