"""The request text with consumed spans blanked, so a later rule never re-reads what an earlier one took.

Blanking keeps every offset stable: entities found early (paths, e-mails) can still be placed relative
to the words around them when tasks are chained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Workspace and storage locations. Quoted forms may contain spaces.
_ROOTS = r"(?:Repos|Workspace|Users|Shared|Volumes|FileStore|dbfs|mnt)"
QUOTED_PATH = re.compile(r"([\"'`])(/" + _ROOTS + r"/[^\"'`\n]+)\1", re.I)
PATH = re.compile(r"(?<![\w/:.@-])/" + _ROOTS + r"/[^\s'\"`<>,;()\[\]{}|]+", re.I)
URL = re.compile(r"\b(?:s3a?|s3n|abfss?|wasbs?|gs|adl|dbfs|https?)://?[^\s'\"`<>,;()\[\]{}|]+", re.I)
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_TRAILING = ".,:;!?)]}'\""


@dataclass
class Entity:
    kind: str  # "path" | "url" | "email"
    value: str
    start: int
    end: int
    used: bool = False


@dataclass
class Scan:
    text: str
    masked: str = ""
    entities: list[Entity] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.masked = self.text

    def consume(self, start: int, end: int) -> None:
        if end > start:
            self.masked = self.masked[:start] + " " * (end - start) + self.masked[end:]

    def release(self, start: int, end: int) -> None:
        """Undo `consume` for words a grammar read but could not act on, so they are reported as unused
        (entities stay blanked: whether they were used is their own flag)."""
        for i in range(start, end):
            if not any(e.start <= i < e.end for e in self.entities):
                self.masked = self.masked[:i] + self.text[i] + self.masked[i + 1 :]

    def find(self, pattern: re.Pattern[str] | str, flags: int = re.I) -> list[re.Match[str]]:
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)
        return list(rx.finditer(self.masked))

    def take(self, pattern: re.Pattern[str] | str, flags: int = re.I) -> list[re.Match[str]]:
        """Find every match and blank it."""
        found = self.find(pattern, flags)
        for m in found:
            self.consume(*m.span())
        return found

    def take_one(self, pattern: re.Pattern[str] | str, flags: int = re.I) -> re.Match[str] | None:
        found = self.find(pattern, flags)
        if found:
            self.consume(*found[0].span())
            return found[0]
        return None

    def has(self, pattern: re.Pattern[str] | str, flags: int = re.I) -> bool:
        rx = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, flags)
        return rx.search(self.masked) is not None

    def of(self, kind: str, *, unused: bool = True) -> list[Entity]:
        return [e for e in self.entities if e.kind == kind and (not unused or not e.used)]


def extract_entities(scan: Scan) -> None:
    """Paths, URLs and e-mail addresses first: their dots, digits and words must not feed other rules."""
    for m in scan.find(QUOTED_PATH, 0):
        _add(scan, "path", m.group(2).strip(), m.start(), m.end())
    for m in scan.find(PATH, 0):
        _add(scan, "path", m.group(0), m.start(), m.end())
    for m in scan.find(URL, 0):
        _add(scan, "url", m.group(0), m.start(), m.end())
    for m in scan.find(EMAIL, 0):
        _add(scan, "email", m.group(0), m.start(), m.end())
    scan.entities.sort(key=lambda e: e.start)


def _add(scan: Scan, kind: str, value: str, start: int, end: int) -> None:
    keep_slash = kind == "url" or value.lower().startswith("/volumes/")
    stripped = value.rstrip(_TRAILING)
    if not keep_slash:
        stripped = stripped.rstrip("/")
    end -= len(value) - len(stripped) if scan.text[start] not in "\"'`" else 0
    scan.entities.append(Entity(kind, stripped, start, end))
    scan.consume(start, end)


def basename(path: str) -> str:
    """Last path segment without its extension ("/Repos/etl/ingest.py" → "ingest")."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"\.(py|sql|ipynb|scala|r|whl|jar)$", "", name, flags=re.I) or name


class ValuesShown:
    """Within the block, unused URLs and paths typed as values ("target=s3://x/y", "input: /Volumes/a")
    show through the mask, so key=value grammars read them whole; on exit any a grammar took are marked
    used and the rest are blanked again.
    """

    def __init__(self, scan: Scan) -> None:
        self.scan = scan
        self.shown: list[Entity] = []

    def __enter__(self) -> Scan:
        s = self.scan
        for e in s.entities:
            if e.used or e.kind not in ("url", "path") or s.masked[e.start : e.end].strip():
                continue
            if re.search(r"[\w.-]\s*[=:]\s*$", s.masked[max(0, e.start - 40) : e.start]):
                s.masked = s.masked[: e.start] + s.text[e.start : e.end] + s.masked[e.end :]
                self.shown.append(e)
        return s

    def __exit__(self, *exc: object) -> None:
        for e in self.shown:
            if self.scan.masked[e.start : e.end].strip():
                self.scan.consume(e.start, e.end)
            else:
                e.used = True
