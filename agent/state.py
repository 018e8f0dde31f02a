"""The state-store contract: task records, legal transitions, and the Slack intake (dedupe, accepted
requests), whatever database holds them.

`TaskStore` is the one interface the Worker, the Tech Lead, the CLI and the bot use; a backend supplies
a handful of primitives (read, insert, a compare-and-set read-modify-write, the intake) and inherits the
rules (which transitions are legal, history, timestamps) from here, so every backend behaves alike.
`tests/test_state_contract.py` runs the same tests against each backend. `open_store` picks one.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.errors import IllegalTransition
from agent.models import TRANSITIONS, TaskState

log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_task_id() -> str:
    """40 random bits: a collision stays unlikely at 100,000 stored tasks (a store refuses one anyway)."""
    return "t-" + os.urandom(5).hex()  # os.urandom is what `secrets` uses; importing that costs ~6 ms


@dataclass
class TaskRecord:
    """Everything known about one request, from plan to result (settings as Jobs API JSON)."""

    id: str
    request: str
    requester: str
    thread: str
    state: TaskState = TaskState.PLANNED
    action: str = "create"
    settings: dict[str, Any] | None = None
    job_id: int | None = None
    plan: dict[str, Any] | None = None
    fingerprint: str | None = None
    error: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # what the plan did not act on, shown to reviewers
    feedback: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    decided_by: str | None = None
    channel: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # adapter data (e.g. Slack message ts)
    created_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)

    def to_doc(self) -> dict[str, Any]:
        """The record as JSON-ready data. Shallow: nested lists and dicts are the record's own (stores
        serialise it at once; `asdict`'s deep copy made every write ~1 ms slower)."""
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__}
        doc["state"] = str(self.state)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TaskRecord:
        """Raise ValueError (saying what is wrong) for anything that is not a task record."""
        if not isinstance(doc, dict):
            raise ValueError(f"a task record is a JSON object, not {type(doc).__name__}")
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        missing = [k for k in ("id", "request", "requester", "thread") if not isinstance(known.get(k), str)]
        if missing:
            raise ValueError(f"the record has no {', '.join(missing)}")
        state = known.get("state", TaskState.PLANNED)
        if state not in TaskState.__members__:
            raise ValueError(f"unknown state {state!r}")
        known["state"] = TaskState(state)
        return cls(**known)


@dataclass
class BadRecord:
    """A stored record or file that could not be read; reported and skipped, never rewritten."""

    path: str
    reason: str
    task_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Accepted:
    """A Slack request recorded before its acknowledgement, so a restart plans it instead of losing it.
    The task it becomes carries `key` in its meta ("accepted_key"): resuming re-posts that task, never
    plans it again."""

    key: str
    payload: dict[str, Any]
    accepted_at: str


class TaskStore(ABC):
    """Tasks with legal transitions only, plus the Slack intake. Every write is atomic and safe across
    processes; a write that fails raises StateWriteFailed and leaves memory and storage as they were.
    Reads skip records they cannot parse and list them in `skipped` (see `check`)."""

    location: str = ""  # where the data lives, for messages
    skipped: list[BadRecord]

    # -- primitives a backend supplies ------------------------------------------------------------
    @abstractmethod
    def get(self, task_id: str) -> TaskRecord:
        """The task, or TaskNotFound; StateUnreadable when its record is damaged."""

    @abstractmethod
    def find(
        self,
        *,
        state: TaskState | None = None,
        thread: str | None = None,
        job_id: int | None = None,
        channel: str | None = None,
        limit: int | None = None,
    ) -> list[TaskRecord]:
        """Tasks matching every given filter, oldest first; with `limit`, only the newest `limit`."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def _insert(self, record: TaskRecord) -> None:
        """Store a new record; refuse (ValueError) an id that exists."""

    @abstractmethod
    def _modify(self, task_id: str, change: Callable[[TaskRecord], None]) -> TaskRecord:
        """Read, `change`, write back — atomically with respect to every other writer (a compare-and-set:
        `change` sees the latest record and may raise to abandon the write)."""

    @abstractmethod
    def import_records(self, records: Iterable[TaskRecord]) -> int:
        """Bulk insert (migrations, benchmarks); history taken as given. Returns how many."""

    @abstractmethod
    def check(self) -> list[BadRecord]:
        """Every damaged record or file, without changing anything."""

    @abstractmethod
    def repair(self) -> tuple[list[BadRecord], Path | str]:
        """Move damaged records aside (a copy is kept at the returned place), rebuild indexes."""

    # -- the Slack intake ---------------------------------------------------------------------------
    @abstractmethod
    def claim(self, key: str) -> bool:
        """True exactly once per key across threads, processes and restarts (Slack's repeated deliveries);
        cheap: no store-wide lock."""

    @abstractmethod
    def accept(self, key: str, payload: dict[str, Any]) -> bool:
        """Record a request durably before it is acknowledged; False if `key` was accepted before."""

    @abstractmethod
    def accepted(self) -> list[Accepted]:
        """Accepted requests not yet finished, oldest first: the work a restart resumes."""

    @abstractmethod
    def finish(self, key: str) -> None:
        """The accepted request is done (its answer reached the thread, or was recorded as undelivered)."""

    # -- rules, shared by every backend --------------------------------------------------------------
    def latest_in_thread(self, thread: str) -> TaskRecord | None:
        tasks = self.find(thread=thread, limit=1)
        return tasks[-1] if tasks else None

    def add(self, record: TaskRecord) -> TaskRecord:
        record.history.append({"state": str(record.state), "at": record.created_at, "by": record.requester})
        self._insert(record)
        log.info("task %s recorded as %s (thread %s)", record.id, record.state, record.thread)
        return record

    def update(self, task_id: str, **fields: Any) -> TaskRecord:
        """Change fields other than the state (use `transition` for that)."""
        if "state" in fields:
            raise ValueError("use transition() to change a task's state")
        return self._modify(task_id, lambda rec: _assign(rec, fields))

    def transition(
        self,
        task_id: str,
        to: TaskState,
        *,
        by: str | None = None,
        expect: TaskState | None = None,
        **fields: Any,
    ) -> TaskRecord:
        """Move a task to `to` if legal (with `expect`, only from that state): a compare-and-set."""

        def change(rec: TaskRecord) -> None:
            if expect is not None and rec.state != expect:
                raise IllegalTransition(task_id, rec.state, to, f"(expected {expect})")
            if to not in TRANSITIONS[rec.state]:
                raise IllegalTransition(task_id, rec.state, to, state_hint(rec.state))
            rec.state = to
            entry: dict[str, Any] = {"state": str(to), "at": utcnow(), "by": by}
            if fields.get("error") is not None:  # kept here: `error` holds only the latest one
                entry["error"] = fields["error"]
            rec.history.append(entry)
            _assign(rec, fields)

        record = self._modify(task_id, change)
        log.info("task %s -> %s%s", task_id, to, f" by {by}" if by else "")
        return record

    def add_feedback(self, task_id: str, entry: dict[str, Any]) -> TaskRecord:
        return self._modify(task_id, lambda rec: rec.feedback.append(entry))

    def close(self) -> None:
        """Release what the backend holds (connections); a no-op for files."""
        return None


def open_store(location: str | Path) -> TaskStore:
    """The store at `location`: a TinyDB directory (the default, embedded)."""
    from agent.state_tinydb import TinyStore

    return TinyStore(Path(location))


def _assign(record: TaskRecord, fields: dict[str, Any]) -> None:
    """Set fields by name; a typo is an error, never a silently ignored key."""
    for key, value in fields.items():
        if key not in TaskRecord.__dataclass_fields__:
            raise AttributeError(f"TaskRecord has no field {key!r}")
        setattr(record, key, value)


def state_hint(state: TaskState) -> str:
    return {
        TaskState.PLANNED: "Approve it first (`jobagent approve TASK`).",
        TaskState.COMPLETE: "It is already applied; make a new plan for further changes.",
        TaskState.REJECTED: "It was rejected; make a new plan.",
        TaskState.STALE: "The job changed since the plan; make a new plan.",
        TaskState.SUPERSEDED: "A newer plan in the same thread replaced it.",
        TaskState.IN_PROGRESS: "Another apply may be running; if that process died, apply with --resume.",
    }.get(state, "")
