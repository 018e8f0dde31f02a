"""Shared fixtures: every test gets its own state, notes and data directories, and a real emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Settings, WorkspaceHandle
from agent.runtime import Runtime


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's files or a real workspace."""
    monkeypatch.setenv("JOBAGENT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JOBAGENT_NOTES_DIR", str(tmp_path / "notes"))
    monkeypatch.setenv("JOBAGENT_WORKSPACE", "emulator")
    monkeypatch.setenv("JOBAGENT_USER", "tester")
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def emulator():
    from standins.databricks import WorkspaceEmulator

    emu = WorkspaceEmulator()
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture
def runtime(settings: Settings, emulator) -> Runtime:
    handle = WorkspaceHandle(emulator.client(), f"emulator at {emulator.url}")
    with Runtime(settings, handle) as rt:
        yield rt
