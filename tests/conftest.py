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
    for name in (
        "JOBAGENT_USER",  # the CLI acts as the credentials' identity (the emulator's admin)
        "JOBAGENT_RUN_AS",
        "JOBAGENT_REQUIRE_OTHER_APPROVER",
        "DATABRICKS_HOST",
        "DATABRICKS_TOKEN",
        "DATABRICKS_CONFIG_PROFILE",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


# Databricks users the tests act as: name -> workspace admin? ("bob" reviews, so he may approve anything;
# the others manage only the jobs they asked for). Tests about permissions add their own people.
TEAM = {
    "alice": False,
    "bob": True,
    "carol": False,
    "mallory": False,
    "tester": False,
    "alice@example.com": False,
    "bob@example.com": True,
    "carol@example.com": False,
    "admin@example.com": True,
}


def add_team(emu) -> None:
    for name, admin in TEAM.items():
        emu.add_user(name, admin=admin)


@pytest.fixture
def emulator():
    from standins.databricks import WorkspaceEmulator

    emu = WorkspaceEmulator()
    emu.start()
    add_team(emu)
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
