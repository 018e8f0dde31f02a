"""A workspace's node types and Spark versions, kept on disk for a while (one JSON file per workspace).

Every plan and apply checks a new cluster's node type and Spark version against the workspace's lists.
Those lists change rarely, so each process does not fetch them again: they are kept for `ttl` seconds
(JOBAGENT_WORKSPACE_CACHE_TTL, default an hour) in ``$JOBAGENT_HOME/cache/workspace-<host>.json``, keyed
by the workspace host so two workspaces never share one. The file is written whole to a temporary
sibling and renamed into place; a file that cannot be read is ignored (and rewritten at the next fetch),
and one that cannot be written only costs the next process a fetch. A name missing from a list that was
not fetched just now is looked for in a fresh list before it is called unavailable, so a node type added
since the list was kept is never refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_TTL = 3600.0
FRESH = 60.0  # seconds a list fetched by this process is trusted to be complete
KINDS = ("node_types", "spark_versions")


@dataclass(frozen=True)
class _Entry:
    values: frozenset[str]
    at: float  # when the workspace answered (clock seconds)
    fetched_here: bool  # from the workspace by this process, not read from the file


class ComputeCache:
    """Lists of names per kind ("node_types", "spark_versions") for one workspace.

    `directory` None (or `ttl` 0) keeps them in this process only, for its lifetime, as before the
    disk cache existed."""

    def __init__(
        self,
        directory: Path | None,
        key: str,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ):
        self.key, self.ttl, self.clock = key, float(ttl), clock
        self.path = Path(directory) / _file_name(key) if directory is not None and self.ttl > 0 else None
        self._memory: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, fetch: Callable[[], Iterable[str]]) -> frozenset[str]:
        """The kept list, else the file's while it is younger than `ttl`, else `fetch()`ed and kept."""
        with self._lock:
            entry = self._memory.get(kind)
            if entry is None or self._expired(entry):
                entry = self._read(kind)
            if entry is None:
                entry = self._fetch(kind, fetch)
            self._memory[kind] = entry
            return entry.values

    def contains(self, kind: str, name: str, fetch: Callable[[], Iterable[str]]) -> bool:
        """Whether `name` is in the list, fetching a fresh list once when it is missing from one that
        was read from the file or fetched more than `FRESH` seconds ago."""
        if name in self.get(kind, fetch):
            return True
        with self._lock:
            entry = self._memory[kind]
            if entry.fetched_here and self.clock() - entry.at < FRESH:
                return False
            log.info("%s: %r not in the kept list; fetching it again", kind, name)
            self._memory[kind] = self._fetch(kind, fetch)
            return name in self._memory[kind].values

    def _expired(self, entry: _Entry) -> bool:
        if self.path is None:  # in-process only: kept for the life of the process
            return False
        age = self.clock() - entry.at
        return not 0 <= age < self.ttl

    def _fetch(self, kind: str, fetch: Callable[[], Iterable[str]]) -> _Entry:
        entry = _Entry(frozenset(fetch()), self.clock(), True)
        self._write(kind, entry)
        return entry

    # -- the file ----------------------------------------------------------------------------------
    def _load(self) -> dict:
        """The file's content, {} when there is none or it cannot be read (it is then rewritten)."""
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("workspace cache %s is unreadable (%s); ignoring it", self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("workspace") != self.key:
            return {}
        return data

    def _read(self, kind: str) -> _Entry | None:
        item = self._load().get(kind)
        if not isinstance(item, dict):
            return None
        values, at = item.get("values"), item.get("fetched_at")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return None
        if not isinstance(at, int | float) or isinstance(at, bool):
            return None
        entry = _Entry(frozenset(values), float(at), False)
        return None if self._expired(entry) else entry

    def _write(self, kind: str, entry: _Entry) -> None:
        if self.path is None:
            return
        data = self._load() or {"workspace": self.key}
        data[kind] = {"fetched_at": entry.at, "values": sorted(entry.values)}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(data, out, indent=1)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("could not write the workspace cache %s (%s)", self.path, exc)


def _file_name(key: str) -> str:
    """A readable, collision-free file name for a workspace host."""
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", re.sub(r"^[a-z]+://", "", key)).strip("._")[:60]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"workspace-{readable or 'default'}-{digest}.json"
