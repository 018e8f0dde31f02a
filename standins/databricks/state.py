"""The emulator's workspace state: plain JSON-able dicts behind one lock, optionally kept in a file.

Persisting (atomic write: temp file + rename) after every change lets a standalone emulator, or the
CLI's in-process one, keep its jobs across restarts the way a real workspace does. Several processes
may serve the same file (two `jobagent apply` runs, each with its own in-process emulator): every
request runs in a `transaction()` that holds a file lock and first re-reads the file if another
process replaced it, so none of them loses the others' jobs.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from filelock import FileLock

log = logging.getLogger("standins.databricks")

STATE_VERSION = 1
FIRST_IDS = {"job": 1017, "run": 40003, "object": 1_874_163_052_000_001}


def now_ms() -> int:
    return int(time.time() * 1000)


def empty_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "counters": dict(FIRST_IDS),
        "jobs": {},
        "runs": {},
        "idempotency": {},
        "objects": {},
        "clusters": {},
        "warehouses": {},
        # Who may call and what they may do (principals.py, job_acl.py); older files get these empty.
        "principals": {"users": {}, "service_principals": {}, "groups": {}, "tokens": {}},
        "job_acls": {},
    }


class Store:
    """Holds `data`; callers take `lock`, mutate, and call `mark_dirty()`; the server saves afterwards."""

    def __init__(self, data_path: Path | None = None):
        self.lock = threading.RLock()
        self.data_path = Path(data_path) if data_path else None
        self.data: dict[str, Any] = empty_state()
        self._dirty = False
        self._file_lock = FileLock(str(self.data_path) + ".lock", timeout=30) if self.data_path else None
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime, size) of the file we last read/wrote

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Lock (thread and file), pick up other processes' changes, run, then save if changed."""
        with self.lock, self._file_lock or nullcontext():
            if self.data_path and self._stamp() != self._seen and self.data_path.exists():
                self.load()
            try:
                yield
            finally:
                self.save_if_dirty()

    @property
    def loaded(self) -> bool:
        """True once the data came from (or went to) the state file."""
        return self._seen is not None

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.data_path)  # type: ignore[arg-type]
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    # -- ids -------------------------------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        """Increasing ids with small deterministic gaps, so nothing can assume `id + 1` exists."""
        current = int(self.data["counters"][kind])
        self.data["counters"][kind] = current + 1 + (current * 7) % 5
        self._dirty = True
        return current

    # -- persistence -------------------------------------------------------------------------------
    def mark_dirty(self) -> None:
        self._dirty = True

    def load(self) -> bool:
        """Read the state file if there is one; False when starting fresh."""
        if not self.data_path or not self.data_path.exists():
            return False
        try:
            loaded = json.loads(self.data_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"Cannot read emulator state {self.data_path}: {exc}") from exc
        if not isinstance(loaded, dict) or loaded.get("version") != STATE_VERSION:
            raise RuntimeError(
                f"Emulator state {self.data_path} has an unknown format; move it away to start over"
            )
        fresh = empty_state()
        fresh.update(loaded)
        self.data = fresh
        self._dirty = False
        self._seen = self._stamp()
        log.info("loaded emulator state from %s (%d jobs)", self.data_path, len(self.data["jobs"]))
        return True

    def save_if_dirty(self) -> None:
        with self.lock:
            if not self._dirty:
                return
            self._dirty = False
            if not self.data_path:
                return
            payload = json.dumps(self.data, indent=1, sort_keys=True)
            self.data_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".emulator-", suffix=".json", dir=self.data_path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(payload)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.data_path)
                self._seen = self._stamp()
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def snapshot(self, key: str) -> Any:
        with self.transaction():
            return copy.deepcopy(self.data[key])
