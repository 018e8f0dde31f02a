"""Task state in TinyDB: one record per task, legal transitions only, safe across processes.

TinyDB has no locking of its own, so every operation runs under a `filelock.FileLock` and every write
goes to a temporary file that atomically replaces the database (a crash mid-write leaves the old file).
The parsed file is cached and re-read only when its inode/mtime/size change, so reads stay cheap even
with many thousands of tasks.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock
from tinydb import Query, TinyDB
from tinydb.storages import Storage

from agent.errors import IllegalTransition, TaskNotFound
from agent.models import TRANSITIONS, TaskState

log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_task_id() -> str:
    return "t-" + secrets.token_hex(4)


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
        doc = asdict(self)
        doc["state"] = str(self.state)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TaskRecord:
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__}
        known["state"] = TaskState(known.get("state", TaskState.PLANNED))
        return cls(**known)


class AtomicJSONStorage(Storage):
    """JSON storage that writes via temp file + os.replace and re-reads only when the file changed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, Any] | None = None
        self._stamp: tuple[int, int, int] | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def changed_on_disk(self) -> bool:
        return self._stat() != self._stamp

    def read(self) -> dict[str, Any] | None:
        stamp = self._stat()
        if stamp is None:
            self._cache, self._stamp = None, None
            return None
        if stamp != self._stamp or self._cache is None:
            with open(self.path, encoding="utf-8") as fh:
                text = fh.read()
            self._cache = json.loads(text) if text.strip() else None
            self._stamp = stamp
        return self._cache

    def write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.path.parent)
        try:
            text = json.dumps(data, separators=(",", ":"))  # dumps uses the C encoder; dump does not
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cache, self._stamp = data, self._stat()

    def close(self) -> None:
        pass


class StateStore:
    """The task table. Every public method holds the file lock for its whole read-modify-write."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = FileLock(str(self.path) + ".lock", timeout=30)
        self._storage: AtomicJSONStorage | None = None
        self._db = TinyDB(self.path, storage=self._make_storage)
        self._tasks = self._db.table("tasks")

    def _make_storage(self, path: str | Path) -> AtomicJSONStorage:
        self._storage = AtomicJSONStorage(path)
        return self._storage

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._storage is not None and self._storage.changed_on_disk():
                # Another process wrote: drop TinyDB's per-process caches (query cache, next id).
                self._tasks.clear_cache()
                self._tasks._next_id = None
            yield

    # -- reads -----------------------------------------------------------------------------------
    def get(self, task_id: str) -> TaskRecord:
        with self._locked():
            doc = self._tasks.get(Query().id == task_id)
        if doc is None:
            raise TaskNotFound(task_id)
        return TaskRecord.from_doc(dict(doc))

    def find(
        self,
        *,
        state: TaskState | None = None,
        thread: str | None = None,
        job_id: int | None = None,
        channel: str | None = None,
    ) -> list[TaskRecord]:
        """Tasks matching every given filter, oldest first."""
        q = Query()
        cond = None
        for name, value in (("state", state), ("thread", thread), ("job_id", job_id), ("channel", channel)):
            if value is None:
                continue
            part = q[name] == (str(value) if name == "state" else value)
            cond = part if cond is None else cond & part
        with self._locked():
            docs = self._tasks.search(cond) if cond is not None else self._tasks.all()
        records = [TaskRecord.from_doc(dict(d)) for d in docs]
        return sorted(records, key=lambda r: r.created_at)

    def latest_in_thread(self, thread: str) -> TaskRecord | None:
        tasks = self.find(thread=thread)
        return tasks[-1] if tasks else None

    def count(self) -> int:
        with self._locked():
            return len(self._tasks)

    # -- writes ----------------------------------------------------------------------------------
    def add(self, record: TaskRecord) -> TaskRecord:
        record.history.append({"state": str(record.state), "at": record.created_at, "by": record.requester})
        with self._locked():
            self._tasks.insert(record.to_doc())
        log.info("task %s recorded as %s (thread %s)", record.id, record.state, record.thread)
        return record

    def import_records(self, records: list[TaskRecord]) -> None:
        """Bulk insert in one write (migrations, benchmarks); history is taken as given."""
        with self._locked():
            self._tasks.insert_multiple(r.to_doc() for r in records)

    def update(self, task_id: str, **fields: Any) -> TaskRecord:
        """Change fields other than the state (use `transition` for that)."""
        if "state" in fields:
            raise ValueError("use transition() to change a task's state")
        with self._locked():
            return self._write(task_id, lambda rec: _assign(rec, fields))

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
            rec.history.append({"state": str(to), "at": utcnow(), "by": by})
            _assign(rec, fields)

        with self._locked():
            record = self._write(task_id, change)
        log.info("task %s -> %s%s", task_id, to, f" by {by}" if by else "")
        return record

    def add_feedback(self, task_id: str, entry: dict[str, Any]) -> TaskRecord:
        with self._locked():
            return self._write(task_id, lambda rec: rec.feedback.append(entry))

    def _write(self, task_id: str, change: Any) -> TaskRecord:
        q = Query().id == task_id
        doc = self._tasks.get(q)
        if doc is None:
            raise TaskNotFound(task_id)
        record = TaskRecord.from_doc(dict(doc))
        change(record)
        record.updated_at = utcnow()
        self._tasks.update(record.to_doc(), doc_ids=[doc.doc_id])
        return record


def _assign(record: TaskRecord, fields: dict[str, Any]) -> None:
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
