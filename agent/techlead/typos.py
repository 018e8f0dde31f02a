"""Near-misses of the grammar's own words ("evry", "retrys", "pacfic"), read generously and said aloud.

Only words no grammar used are candidates, and a correction is kept only if the grammars then use the
corrected word, so a real word that merely looks like a keyword is never rewritten.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache

from agent.techlead.clock import DAY_WORDS, MONTH_WORDS
from agent.techlead.timezones import PLACES

# The words the grammars act on, spelled right (days, months and places come from their grammars).
KEYWORDS = frozenset(
    """
    every daily nightly hourly weekly monthly yearly quarterly weekday weekdays weekend weekends
    morning mornings evening evenings afternoon night midnight noon minutes minute hours hour
    retry retries retried twice thrice once failure fails failed success succeeds succeeded
    timeout notify email emails alert alerts serverless parallel cluster workers worker autoscale
    autoscaling schedule pause paused unpause resume trigger triggered arrives tagged tags parameter
    parameters concurrent concurrently small medium large photon pipeline notebook warehouse
    between except tomorrow queue queued spot demand fallback warning warn longer duration
    libraries library requirements branch repository environment variables
    destination destinations webhook dashboard subscribers
    """.split()  # noqa: SIM905 - a word list reads best as words
)
# Real words near a keyword that must never be "corrected".
_REAL = frozenset("ever even very over hours house early other mail nice quite ours daily".split())  # noqa: SIM905
_CUTOFF = 0.8


@dataclass
class Fix:
    start: int
    end: int
    typed: str
    read: str


def _vocabulary() -> list[str]:
    words = set(KEYWORDS) | {w for w in DAY_WORDS if len(w) > 3} | {w for w in MONTH_WORDS if len(w) > 3}
    words |= {p for p in PLACES if " " not in p and len(p) > 3}
    return sorted(words)


VOCABULARY = _vocabulary()
_KNOWN = frozenset(VOCABULARY) | _REAL


def candidates(words: list[tuple[int, int, str]]) -> list[Fix]:
    """Unread words that are one slip away from a grammar word."""
    out = []
    for start, end, word in words:
        low = word.lower()
        if len(low) < 4 or not low.isalpha() or low in _KNOWN:
            continue
        match = closest(low)
        if match:
            read = match.capitalize() if word[0].isupper() else match
            out.append(Fix(start, end, word, read))
    return out


@lru_cache(maxsize=4096)  # the vocabulary is fixed, so the answer for a word never changes; words recur
def closest(word: str) -> str | None:
    """The grammar word `word` is one slip away from, if any (lower case in, lower case out)."""
    match = difflib.get_close_matches(word, VOCABULARY, n=1, cutoff=_CUTOFF)
    return match[0] if match else None


def apply(text: str, fixes: list[Fix]) -> tuple[str, list[tuple[int, int]]]:
    """The text with each fix applied, and where each corrected word now sits."""
    parts, spans, at, shift = [], [], 0, 0
    for f in sorted(fixes, key=lambda f: f.start):
        parts += [text[at : f.start], f.read]
        spans.append((f.start + shift, f.start + shift + len(f.read)))
        shift += len(f.read) - (f.end - f.start)
        at = f.end
    parts.append(text[at:])
    return "".join(parts), spans


def said(fixes: list[Fix]) -> str:
    return "Read " + ", ".join(f"“{f.typed}” as “{f.read}”" for f in fixes) + "."
