"""One markdown note per conversation thread: the human-readable, append-only audit trail.

Each entry is a level-3 heading ``### <UTC time> · <kind> · task <id>`` followed by free markdown, so
people can read it and `NoteBook.entries()` can parse it back (the Tech Lead reads a thread's note as
context for follow-ups).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

_HEADING = re.compile(r"^### (?P<at>\S+ \S+) · (?P<kind>[^·]+?) · task (?P<task>\S+)\s*$", re.M)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class NoteEntry:
    at: str
    kind: str
    task_id: str
    body: str


def note_filename(thread: str) -> str:
    """A safe, stable file name for any thread id (Slack ids contain '.', CLI ids anything)."""
    slug = _UNSAFE.sub("-", thread).strip("-.")[:60] or "thread"
    digest = hashlib.sha256(thread.encode()).hexdigest()[:8]
    return f"{slug}-{digest}.md"


class NoteBook:
    """Appends entries to notes/<thread>.md; never rewrites what is already there."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path_for(self, thread: str) -> Path:
        return self.directory / note_filename(thread)

    def append(self, thread: str, kind: str, task_id: str, body: str) -> Path:
        path = self.path_for(thread)
        self.directory.mkdir(parents=True, exist_ok=True)
        at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        with FileLock(str(path.parent / f".{path.name}.lock"), timeout=30):  # hidden: notes/ stays readable
            header = "" if path.exists() else f"# jobagent thread `{thread}`\n\n"
            # One write call per entry keeps entries whole even when two processes append.
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"{header}### {at} · {kind} · task {task_id}\n\n{body.rstrip()}\n\n")
        return path

    def read(self, thread: str) -> str:
        path = self.path_for(thread)
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def entries(self, thread: str) -> list[NoteEntry]:
        text = self.read(thread)
        matches = list(_HEADING.finditer(text))
        out = []
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            out.append(NoteEntry(m["at"], m["kind"].strip(), m["task"], text[m.end() : end].strip()))
        return out
