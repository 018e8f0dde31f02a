"""Seen-event memory that survives a restart: Slack re-delivers events and sends a mention twice.

Keys (event ids, ``channel:ts`` of messages) are appended one per line to a small file next to the state
DB, under a file lock; each process keeps a set in memory and reads only the lines other processes
appended since it last looked. Past `limit` keys the file is compacted to the newest half.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from filelock import FileLock


class SeenEvents:
    """`claim(key)` is True exactly once per key, across threads, processes and restarts."""

    def __init__(self, path: str | Path, limit: int = 20_000):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.limit = max(limit, 10)
        self._lock = FileLock(str(self.path) + ".lock", timeout=30)
        self._mutex = threading.Lock()
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._offset = 0
        self._inode: int | None = None

    def claim(self, key: str) -> bool:
        key = key.replace("\n", " ")
        with self._mutex, self._lock:
            self._catch_up()
            if key in self._keys:
                return False
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(key + "\n")
                self._offset = fh.tell()
            self._keys[key] = None
            if len(self._keys) > self.limit:
                self._compact()
            return True

    def seen(self, key: str) -> bool:
        with self._mutex, self._lock:
            self._catch_up()
            return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def _catch_up(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._keys.clear()
            self._offset, self._inode = 0, None
            return
        if st.st_ino != self._inode or st.st_size < self._offset:  # replaced by a compaction elsewhere
            self._keys.clear()
            self._offset, self._inode = 0, st.st_ino
        if st.st_size == self._offset:
            return
        with open(self.path, encoding="utf-8") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
            self._offset = fh.tell()
        for line in chunk.splitlines():
            if line:
                self._keys[line] = None

    def _compact(self) -> None:
        keep = list(self._keys)[-(self.limit // 2) :]
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
        os.replace(tmp, self.path)
        self._keys = OrderedDict.fromkeys(keep)
        st = os.stat(self.path)
        self._offset, self._inode = st.st_size, st.st_ino
