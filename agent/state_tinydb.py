"""The embedded backend of the state-store contract: TinyDB, one small document file per task.

A single TinyDB file is rewritten and re-encoded whole on every write, so a transition grew with the
number of tasks ever stored. Here each task is its own TinyDB database (``tasks/<shard>/<id>.json``),
so a write re-encodes one ~5 KB record however old the store is, and opening the store reads nothing.
Lookups by thread, channel, job, state (and "all") go through append-only index files of task ids.
An index may list a task too many but never misses one: lines are appended before the task's file is
written, and every hit is checked against that file, so an interrupted write leaves a harmless extra
line, and `repair` can always rebuild the indexes from the task files. A state's index also records a
task leaving it (``-id``, after the file says so) and is compacted as it grows, so "the tasks in PLANNED"
stays cheap however many passed through.

The store talks to TinyDB's storage layer (`TaskFile`, a TinyDB `Storage`) directly: for a database of
one document the table layer only added copies. `TinyDB(path, storage=TaskFile)` opens any task file.

Writes: a task file is written to a temporary file, fsynced and renamed over the old one, under a lock
striped by shard (`StripeLock`: threads and processes both exclude each other).
A file that cannot be read is reported (naming the file) and skipped, never reset or overwritten.

Layout, under the directory JOBAGENT_STATE_PATH names::

    FORMAT                      what this directory is (an existing directory without it is refused)
    tasks/<shard>/<id>.json     one TinyDB database per task: {"tasks": {"1": {...record...}}}
    index/<kind>/….ids          task ids, one per line, appended ("-id": left that state)
    intake/seen/<shard>/<hash>  Slack deliveries already claimed (created with O_EXCL: no lock)
    intake/requests/<hash>.json accepted requests; <hash>.done once answered
    locks/                      lock files
    quarantine/<time>/          what `jobagent state repair` moved aside
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from agent.errors import StateUnreadable, StateWriteFailed, TaskNotFound
from agent.models import TaskState
from agent.state import Accepted, BadRecord, TaskRecord, TaskStore, utcnow

log = logging.getLogger(__name__)

FORMAT = {"format": "jobagent-state", "layout": "tinydb-per-task", "version": 2}
TABLE = "tasks"
_TMP = itertools.count()  # temporary file names: unique per process (with its pid), thread-safe in CPython
COMPACT_EVERY = 256  # appends to a state's index between checks whether it needs compacting
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _digest(text: str) -> str:
    """A strong name for an intake key: two different keys must never share a claim."""
    import hashlib  # only the bot's intake needs it (its OpenSSL load costs a CLI ~5 ms)

    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _spread(text: str) -> str:
    """A 64-bit name for a shard or an index file: a rare clash only puts two keys in one file (reads
    check every hit), so CRC-32 twice (zlib, no OpenSSL to load) is enough."""
    data = text.encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.crc32(data, 0x9E3779B9):08x}"


def _write_new(path: Path, data: bytes, *, replace: bool, sync: bool = True) -> None:
    """Write `data` to `path` through a temporary file: fsynced and renamed over `path` (`replace`), or
    linked to `path` only if it does not exist yet (FileExistsError otherwise) and then fsynced — on
    Linux's journaling filesystems (ext4, xfs, btrfs) that one fsync also makes the new name durable, so
    a create costs one flush, not two. On any error nothing is left behind."""
    tmp = f"{path.parent}/.{path.name}.{os.getpid()}.{next(_TMP)}.tmp"  # tempfile's import costs ~8 ms
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if replace:
                if sync:
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            else:
                os.link(tmp, path)  # atomic create-if-absent, with the content already in place
                os.unlink(tmp)
                if sync:
                    os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class StripeLock:
    """A lock shared by the threads of this process (a mutex) and by other processes (`flock` on a lock
    file kept open). `filelock.FileLock` opens and closes its file on every acquire, ~200 µs each; a
    transition takes two locks, so that alone was a tenth of the time budget."""

    def __init__(self, path: Path):
        self.path = path
        self._mutex = threading.Lock()
        self._fd: int | None = None

    def __enter__(self) -> StripeLock:
        self._mutex.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)  # type: ignore[arg-type]
        finally:
            self._mutex.release()


class TaskFile(Storage):
    """TinyDB storage for one task's file: clear errors for damaged content, atomic fsynced writes."""

    def __init__(self, path: Path | str, *, create: bool = False):
        self.path, self.create = path, create

    def read(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise StateUnreadable(self.path, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
        except json.JSONDecodeError as exc:
            what = "empty" if not raw.strip() else f"not valid JSON: {exc.msg} at line {exc.lineno}"
            raise StateUnreadable(self.path, what) from exc
        table = data.get(TABLE) if isinstance(data, dict) else None
        if not isinstance(table, dict) or len(table) != 1:
            raise StateUnreadable(self.path, f"not a TinyDB file holding one task (found {_shape(data)})")
        return data

    def write(self, data: dict[str, Any]) -> None:
        self.write_bytes(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))

    def write_bytes(self, payload: bytes) -> None:
        try:
            _write_new(Path(self.path), payload, replace=not self.create)
        except FileExistsError:
            raise ValueError(f"a task with this id already exists ({os.path.basename(self.path)})") from None
        except OSError as exc:
            raise StateWriteFailed(self.path, exc) from exc


def _encode(record: TaskRecord) -> bytes:
    """The record as its one-document TinyDB file."""
    doc = {TABLE: {"1": record.to_doc()}}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _shape(data: Any) -> str:
    if data is None:
        return "null"
    if isinstance(data, dict):
        return "keys " + ", ".join(repr(k) for k in list(data)[:5]) if data else "an empty object"
    return type(data).__name__


class TinyStore(TaskStore):
    """The contract on TinyDB documents, one file per task (see the module docstring)."""

    def __init__(self, path: Path):
        path = Path(path)
        self.given = path
        legacy = path if path.is_file() else None  # a single-file database from before version 2
        self.root = path.with_name(path.name + ".d") if legacy else path
        self.location = str(self.root)
        self.skipped: list[BadRecord] = []
        self._locks: dict[str, StripeLock] = {}
        self._locks_guard = threading.Lock()
        self._appended: dict[str, int] = {}  # state-index lines this process appended, per state
        self._tasks = str(self.root / "tasks")
        self._open(legacy)

    # -- layout ---------------------------------------------------------------------------------
    def _open(self, legacy: Path | None) -> None:
        marker = self.root / "FORMAT"
        try:
            found = json.loads(marker.read_text(encoding="utf-8"))
        except FileNotFoundError:
            found = None
        except (OSError, ValueError) as exc:
            raise StateUnreadable(marker, f"not this store's format file: {exc}") from exc
        if found is None:
            if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
                raise StateUnreadable(
                    self.root, "it exists but is not a jobagent state directory (it has no FORMAT file)"
                )
            for sub in ("tasks", "index", "intake/seen", "intake/requests", "locks"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another process initialised it just now
                _write_new(marker, json.dumps(FORMAT).encode(), replace=False)
        elif found.get("format") != FORMAT["format"] or found.get("version", 0) > FORMAT["version"]:
            raise StateUnreadable(marker, f"unknown format {found!r}; is this jobagent's newer version?")
        if legacy is not None and not (self.root / "MIGRATED").exists():
            self._migrate(legacy)

    def _migrate(self, legacy: Path) -> None:
        """Copy a single-file database into this layout once; the old file is left as it is."""
        with self._lock("migrate"):
            if (self.root / "MIGRATED").exists():
                return
            docs = _legacy_docs(legacy)
            records, bad = [], []
            for key, doc in docs.items():
                try:
                    records.append(TaskRecord.from_doc(doc))
                except (ValueError, TypeError) as exc:
                    bad.append(BadRecord(f"{legacy} (document {key})", str(exc)))
            count = self.import_records(records)
            for item in bad:
                log.warning("not migrated: %s", item)
            note = {"from": str(legacy), "at": utcnow(), "tasks": count, "skipped": [str(b) for b in bad]}
            _write_new(self.root / "MIGRATED", json.dumps(note, indent=1).encode(), replace=True)
            log.warning("migrated %d task(s) from %s into %s", count, legacy, self.root)

    def _task_file(self, task_id: str) -> str:
        """Where a task's file is (a str: pathlib would cost ~30 µs on every read)."""
        return f"{self._tasks}/{_spread(task_id)[:2]}/{task_id}.json"

    def _task_path(self, task_id: str) -> Path:
        return Path(self._task_file(task_id))

    def _index_path(self, kind: str, key: str | None = None) -> Path:
        if kind == "all":
            return self.root / "index" / "all.ids"
        if kind in ("state", "job"):
            return self.root / "index" / kind / f"{key}.ids"
        h = _spread(str(key))
        return self.root / "index" / kind / h[:2] / f"{h}.ids"

    def _lock(self, name: str) -> StripeLock:
        with self._locks_guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = StripeLock(self.root / "locks" / f"{name}.lock")
            return lock

    # -- reads ----------------------------------------------------------------------------------
    def _read(self, task_id: str) -> TaskRecord | None:
        """The record, None when absent; StateUnreadable when its file is damaged."""
        if not _SAFE_ID.match(task_id):
            return None
        path = self._task_file(task_id)
        data = TaskFile(path).read()
        if data is None:
            return None
        try:
            record = TaskRecord.from_doc(next(iter(data[TABLE].values())))
        except (ValueError, TypeError) as exc:
            raise StateUnreadable(path, str(exc)) from exc
        if record.id != task_id:
            raise StateUnreadable(path, f"it holds task {record.id!r}, not {task_id!r}")
        return record

    def get(self, task_id: str) -> TaskRecord:
        record = self._read(task_id)
        if record is None:
            raise TaskNotFound(task_id)
        return record

    def _load(self, task_id: str) -> TaskRecord | None:
        try:
            return self._read(task_id)
        except StateUnreadable as exc:
            bad = BadRecord(str(exc.path), exc.reason, task_id)
            if all(b.path != bad.path for b in self.skipped):
                self.skipped.append(bad)
                log.warning("skipping a damaged task record: %s (run `jobagent state check`)", bad)
            return None

    def find(
        self,
        *,
        state: TaskState | None = None,
        thread: str | None = None,
        job_id: int | None = None,
        channel: str | None = None,
        limit: int | None = None,
    ) -> list[TaskRecord]:
        wanted = {"state": state, "thread": thread, "job_id": job_id, "channel": channel}
        wanted = {k: v for k, v in wanted.items() if v is not None}
        kind = next((k for k in ("thread", "job_id", "channel", "state") if k in wanted), "all")
        key = None if kind == "all" else str(wanted[kind])
        path = self._index_path("job" if kind == "job_id" else kind, key)
        tail = limit if limit is not None and len(wanted) == 1 else None  # the index order is the answer's
        ids, whole = _read_ids(path, tail)
        found = self._matching(ids, wanted, limit)
        if tail is not None and len(found) < tail and not whole:  # damaged records in the tail: look further
            found = self._matching(_read_ids(path)[0], wanted, limit)
        found.sort(key=lambda r: r.created_at)
        return found

    def _matching(self, ids: list[str], wanted: dict[str, Any], limit: int | None) -> list[TaskRecord]:
        """The records of `ids` (newest first) that really match `wanted`: an index is only a hint."""
        found: list[TaskRecord] = []
        for task_id in reversed(ids):
            record = self._load(task_id)
            if record is None or any(getattr(record, k) != v for k, v in wanted.items()):
                continue
            found.append(record)
            if limit is not None and len(found) >= limit:
                break
        return found

    def count(self) -> int:
        return len(_read_ids(self._index_path("all"))[0])

    # -- writes ---------------------------------------------------------------------------------
    def _insert(self, record: TaskRecord) -> None:
        if not _SAFE_ID.match(record.id):
            raise ValueError(f"task id {record.id!r} must be letters, digits, '.', '_' or '-'")
        path = self._task_path(record.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _encode(record)  # refuse what cannot be stored before any file is touched
        self._index(record, None, None)  # first: a task is never stored where its indexes cannot find it
        TaskFile(path, create=True).write_bytes(data)

    def _modify(self, task_id: str, change: Callable[[TaskRecord], None]) -> TaskRecord:
        if not _SAFE_ID.match(task_id):
            raise TaskNotFound(task_id)
        path = self._task_path(task_id)
        with self._lock(path.parent.name):
            record = self._read(task_id)
            if record is None:
                raise TaskNotFound(task_id)
            state, job_id = record.state, record.job_id
            change(record)
            record.updated_at = utcnow()
            data = _encode(record)
            self._index(record, state, job_id)
            TaskFile(path).write_bytes(data)
            if record.state != state:
                self._leave(state, record.id)
        return record

    def _index(self, record: TaskRecord, state: TaskState | None, job_id: int | None) -> None:
        """Append the record's id to the indexes it newly belongs to (`state`/`job_id`: before the
        change; None for a new record), before its file is written: an index may list a task that is not
        (or no longer) there — reads check every hit against the task's file — but never miss one."""
        new = state is None
        entries: list[tuple[str, str | None]] = []
        if new:
            entries += [("all", None), ("thread", record.thread)]
            if record.channel:
                entries.append(("channel", record.channel))
        if record.job_id is not None and record.job_id != job_id:
            entries.append(("job", str(record.job_id)))
        try:
            for kind, key in entries:
                _append_id(self._index_path(kind, key), record.id)
            if record.state != state:
                with self._lock("state-index"):
                    self._append_state(str(record.state), record.id)
        except OSError as exc:
            raise StateWriteFailed(self.root / "index", exc) from exc

    def _leave(self, state: TaskState, task_id: str) -> None:
        """Once its file says so, a task has left `state`: "-id" keeps that state's index short. If this
        fails the index merely lists one task too many (and reads skip it)."""
        try:
            with self._lock("state-index"):
                self._append_state(str(state), "-" + task_id)
        except OSError as exc:
            log.warning("could not note in the index that %s left %s: %s", task_id, state, exc)

    def _append_state(self, state: str, line: str) -> None:
        """Append to a state's index (the state-index lock held); now and then rewrite it with only its
        members, so the index of a busy state like PLANNED stays small however many tasks passed through."""
        path = self._index_path("state", state)
        _append_id(path, line)
        self._appended[state] = self._appended.get(state, 0) + 1
        if self._appended[state] % COMPACT_EVERY:
            return
        try:
            lines = path.read_bytes().count(b"\n") // 2
            members, _ = _read_ids(path)
            if lines > 2 * len(members) + COMPACT_EVERY:
                _write_new(path, _lines(members), replace=True, sync=False)
        except OSError as exc:
            log.warning("could not compact %s: %s", path, exc)  # an optimisation; the index stays valid

    def import_records(self, records: Iterable[TaskRecord]) -> int:
        """One file per record, synced once at the end; index lines appended in one write per index."""
        lines: dict[Path, list[str]] = {}
        count = 0
        for record in records:
            path = self._task_path(record.id)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                _write_new(path, _encode(record), replace=False, sync=False)
            except FileExistsError:
                raise ValueError(f"task {record.id} already exists in {self.root}") from None
            for kind, key in _index_keys(record):
                lines.setdefault(self._index_path(kind, key), []).append(record.id)
            count += 1
        for path, ids in lines.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                fh.write(_lines(ids))
        os.sync()
        return count

    # -- check and repair ---------------------------------------------------------------------------
    def _task_files(self) -> Iterator[Path]:
        for shard in sorted((self.root / "tasks").iterdir()):
            if shard.is_dir():
                yield from sorted(
                    p for p in shard.iterdir() if p.suffix == ".json" and not p.name.startswith(".")
                )

    def check(self) -> list[BadRecord]:
        bad: list[BadRecord] = []
        for path in self._task_files():
            try:
                self._read(path.stem) if _SAFE_ID.match(path.stem) else None
            except StateUnreadable as exc:
                bad.append(BadRecord(str(path), exc.reason, path.stem))
        for path in sorted((self.root / "index").rglob("*.ids")):
            try:
                path.read_bytes().decode("ascii")
            except (OSError, UnicodeDecodeError) as exc:
                bad.append(BadRecord(str(path), f"index file unreadable ({exc}); repair rebuilds it"))
        if self.given.is_file() and not (self.root / "MIGRATED").exists():
            try:
                _legacy_docs(self.given)
            except StateUnreadable as exc:
                bad.append(BadRecord(str(self.given), exc.reason))
        return bad

    def repair(self) -> tuple[list[BadRecord], Path]:
        """Move damaged task files to quarantine/<time>/ (kept, never deleted), rebuild every index."""
        import shutil

        bad = self.check()
        aside = self.root / "quarantine" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        records: list[TaskRecord] = []
        for item in bad:
            src = Path(item.path)
            if src == self.given:
                continue  # a damaged old single-file database: left where it is (nothing reads it again)
            if src.suffix == ".json" and src.exists():
                dest = aside / src.relative_to(self.root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
                src.unlink()
        for path in self._task_files():
            record = self._load(path.stem)
            if record is not None:
                records.append(record)
        records.sort(key=lambda r: r.created_at)
        rebuilt = self.root / "index.rebuilt"
        shutil.rmtree(rebuilt, ignore_errors=True)
        index: dict[Path, list[str]] = {}
        for r in records:
            for kind, key in _index_keys(r):
                index.setdefault(self._index_path(kind, key), []).append(r.id)
        for path, ids in index.items():
            dest = rebuilt / path.relative_to(self.root / "index")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(_lines(ids))
        with self._lock("state-index"):
            old = self.root / "index.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(self.root / "index", old)
            os.replace(rebuilt, self.root / "index")
            shutil.rmtree(old, ignore_errors=True)
        self.skipped.clear()
        return bad, aside

    # -- the Slack intake -------------------------------------------------------------------------
    def claim(self, key: str) -> bool:
        h = _digest(key)
        path = self.root / "intake" / "seen" / h[:2] / h
        for _ in range(2):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                return True
            except FileExistsError:
                return False
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StateWriteFailed(path, exc) from exc
        return False

    def _request_path(self, key: str, suffix: str = ".json") -> Path:
        return self.root / "intake" / "requests" / (_digest(key) + suffix)

    def accept(self, key: str, payload: dict[str, Any]) -> bool:
        if self._request_path(key).exists():  # Slack's retries and the `message` twin: no write at all
            return False
        body = {"key": key, "payload": payload, "accepted_at": utcnow()}
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        try:
            _write_new(self._request_path(key), data, replace=False)
        except FileExistsError:
            return False
        except OSError as exc:
            raise StateWriteFailed(self._request_path(key), exc) from exc
        return True

    def accepted(self) -> list[Accepted]:
        folder = self.root / "intake" / "requests"
        names = {e.name for e in os.scandir(folder)}
        pending = []
        for name in names:
            if not name.endswith(".json") or name.startswith(".") or name[:-5] + ".done" in names:
                continue
            try:
                body = json.loads((folder / name).read_bytes().decode("utf-8", "surrogatepass"))
                pending.append(Accepted(body["key"], body["payload"], body["accepted_at"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping an unreadable accepted request %s: %s", folder / name, exc)
        return sorted(pending, key=lambda a: a.accepted_at)

    def finish(self, key: str) -> None:
        path = self._request_path(key, ".done")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        except OSError as exc:
            raise StateWriteFailed(path, exc) from exc

    def prune_intake(self, older_than: float = 7 * 86400) -> int:
        """Forget claims and finished requests older than `older_than` seconds (Slack stops retrying
        within the hour); pending requests are kept however old. Returns how many files went."""
        cutoff = time.time() - older_than
        gone = 0
        requests = self.root / "intake" / "requests"
        for entry in list(os.scandir(requests)):
            if entry.name.endswith(".done") and entry.stat().st_mtime < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(requests / (entry.name[:-5] + ".json"))
                    os.unlink(entry.path)
                    gone += 1
        for shard in list(os.scandir(self.root / "intake" / "seen")):
            for entry in list(os.scandir(shard.path)):
                if entry.stat().st_mtime < cutoff:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        gone += 1
        return gone


def set_aside(path: Path | str) -> Path | None:
    """Rename a damaged single-file database (one that cannot even be opened) to ``<name>.damaged-<time>``
    so a new store can start; None (and nothing moved) for anything else, e.g. a foreign directory."""
    path = Path(path)
    if not path.is_file() or path.name == "FORMAT":
        return None
    kept = path.with_name(f"{path.name}.damaged-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
    os.replace(path, kept)
    return kept


def _index_keys(record: TaskRecord) -> list[tuple[str, str | None]]:
    """Every index a record belongs to (bulk loads and rebuilds; writes append only what changed)."""
    keys: list[tuple[str, str | None]] = [
        ("all", None),
        ("thread", record.thread),
        ("state", str(record.state)),
    ]
    keys += [("channel", record.channel)] if record.channel else []
    keys += [("job", str(record.job_id))] if record.job_id is not None else []
    return keys


def _lines(ids: Iterable[str]) -> bytes:
    """Index lines: each id between newlines, so a line cut short by a full disk never joins the next."""
    return "".join(f"\n{i}\n" for i in ids).encode("ascii")


def _append_id(path: Path, task_id: str) -> None:
    """One write of "\\nID\\n" with O_APPEND: atomic for lines this short, and a line cut short by a full
    disk can never merge with the next one."""
    line = _lines([task_id])
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            continue
        try:
            if os.write(fd, line) != len(line):
                raise OSError(28, "short write to an index file")
        finally:
            os.close(fd)
        return


def _read_ids(path: Path, newest: int | None = None) -> tuple[list[str], bool]:
    """The ids an index holds, in the order they were (last) appended, and whether the whole file was
    read: "ID" adds, "-ID" removes (state indexes). With `newest`, only as much of the end of the file is
    read as holds that many."""
    try:
        with open(path, "rb") as fh:
            if newest is None:
                return _parse_ids(fh.read()), True
            size = fh.seek(0, os.SEEK_END)
            chunk = 64 * (newest + 8)
            while True:
                start = max(0, size - chunk)
                fh.seek(start)
                raw = fh.read(size - start)
                if start > 0:
                    raw = raw[raw.find(b"\n") + 1 :]  # drop the line the chunk boundary cut
                ids = _parse_ids(raw)
                if start == 0 or len(ids) >= newest:
                    return ids, start == 0
                chunk *= 4
    except FileNotFoundError:
        return [], True


def _parse_ids(raw: bytes) -> list[str]:
    members: dict[str, None] = {}
    for line in raw.decode("ascii", "replace").split("\n"):
        if not line:
            continue
        if line[0] == "-":
            members.pop(line[1:], None)
        else:
            members.pop(line, None)  # re-appended: it moves to the end
            members[line] = None
    return list(members)


def _legacy_docs(path: Path) -> dict[str, Any]:
    """The task documents of a version-1 single-file TinyDB database, or StateUnreadable saying why."""
    raw = path.read_bytes()
    if not raw.strip():
        raise StateUnreadable(
            path,
            "the file is empty; an existing empty file is not treated as a new database. If you meant to "
            "start afresh, move it away or set JOBAGENT_STATE_PATH to a new directory",
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StateUnreadable(path, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise StateUnreadable(path, f"not valid JSON (truncated?): {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict) or not isinstance(data.get(TABLE, {}), dict):
        raise StateUnreadable(path, f"not a jobagent TinyDB database (found {_shape(data)})")
    return data.get(TABLE, {})
