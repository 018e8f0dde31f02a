"""Wires configuration to the store, the notes, the workspace and the Worker (CLI, demo and bot share it)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from agent.config import Settings, WorkspaceHandle, open_workspace
from agent.notes import NoteBook
from agent.state import TaskStore, open_store

if TYPE_CHECKING:  # the Worker, access checks and workspace import databricks-sdk: only when used
    from agent.access import Access
    from agent.worker import Worker
    from agent.workspace import Workspace


class Runtime:
    """Lazily opened parts: a command that only reads state never starts a workspace."""

    def __init__(self, settings: Settings, handle: WorkspaceHandle | None = None):
        self.settings = settings
        self._handle = handle

    @cached_property
    def store(self) -> TaskStore:
        return open_store(self.settings.state_path)

    @cached_property
    def notes(self) -> NoteBook:
        return NoteBook(self.settings.notes_dir)

    @property
    def connected(self) -> bool:
        return self._handle is not None

    @property
    def handle(self) -> WorkspaceHandle:
        if self._handle is None:
            self._handle = open_workspace(self.settings)
        return self._handle

    @cached_property
    def workspace(self) -> Workspace:
        from agent.workspace import Workspace

        handle = self.handle
        return Workspace(
            handle.client,
            handle.description,
            cache_dir=self.settings.cache_dir,
            # the CLI's emulator listens on a new port each time; its node types never change
            cache_key="local-emulator" if handle.emulator is not None else None,
            cache_ttl=self.settings.workspace_cache_ttl,
        )

    @cached_property
    def worker(self) -> Worker:
        from agent.worker import Worker

        worker = Worker(
            lambda: self.workspace, self.store, self.notes, policies=self.policies, access=self.access
        )
        worker.path_recheck_seconds = self.settings.path_recheck_seconds
        return worker

    @cached_property
    def access(self) -> Access:
        """Databricks identities and permissions of the people jobagent acts for (agent/access.py)."""
        from agent.access import Access, AccessPolicy

        return Access(lambda: self.workspace, AccessPolicy.from_env())

    @cached_property
    def policies(self) -> Any:
        """Unity Catalog policy functions, or None when Unity Catalog is not configured."""
        from agent.uc.policies import PolicyChecker

        return PolicyChecker.from_env()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
