"""Retrieval quality: recall@k and MRR of an index over a set of plain-English requests.

Shared by benchmarks/bench_retrieval_quality.py and the regression test, so both score the same way.
The set (tests/data/retrieval_eval.yaml) names expected passages by field path, Class.field or
identifier rather than by rank, so it survives chunking changes that keep the right passages on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PATHS_LINE = re.compile(r"^Path in job settings: (.+)$", re.M)
_WORD_SPLIT = re.compile(r"[\s()<>,;:\[\]]+|\.")


@dataclass
class Case:
    request: str
    expect: list[list[str]]  # each item: alternatives, any of which counts


@dataclass
class CaseResult:
    case: Case
    found: list[bool]
    first_rank: int | None  # 1-based rank of the first relevant passage
    titles: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return sum(self.found) / len(self.found)


def load_cases(path: Path) -> list[Case]:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for raw in data["cases"]:
        items = [[str(x) for x in item] if isinstance(item, list) else [str(item)] for item in raw["expect"]]
        out.append(Case(str(raw["request"]), items))
    return out


def _paths(passage: Any) -> list[str]:
    found = [passage.metadata.get("path") or ""]
    if m := _PATHS_LINE.search(passage.text):
        found += [p.strip() for p in m.group(1).split(";")]
    return [p for p in found if p]


def matches(name: str, passage: Any) -> bool:
    """Whether `passage` is the passage `name` designates (see the eval file's header)."""
    meta = passage.metadata
    title = passage.title
    if "." in name or "[" in name or " " in name:
        return name in title or any(p == name or p.endswith("." + name) for p in _paths(passage))
    words = set(_WORD_SPLIT.split(title)) | {str(meta.get("field", "")), str(meta.get("class", ""))}
    return name in words


def evaluate(index: Any, cases: list[Case], k: int = 5) -> list[CaseResult]:
    results = []
    for case in cases:
        top = index.search(case.request, k=k)
        found = [any(matches(n, p) for p in top for n in alts) for alts in case.expect]
        rank = next((i for i, p in enumerate(top, 1) if any(matches(n, p) for alts in case.expect
                                                             for n in alts)), None)
        results.append(CaseResult(case, found, rank, [p.title for p in top]))
    return results


def summary(results: list[CaseResult]) -> tuple[float, float]:
    """(mean recall@k, MRR) over the results."""
    n = len(results) or 1
    recall = sum(r.recall for r in results) / n
    mrr = sum(1 / r.first_rank for r in results if r.first_rank) / n
    return recall, mrr


def path_lookups(index: Any, k: int = 5) -> tuple[int, int, list[str]]:
    """How often a field path, queried the way the Tech Lead cites it ("tasks notebook_task
    notebook_path"), finds the passage documenting that path in the top k: (hits, total, misses)."""
    from .sdk_reference import field_paths, load_classes

    paths = sorted({found[0] for found in field_paths(load_classes()).values()})
    misses = []
    for path in paths:
        top = index.search(path.replace("[]", "").replace(".", " "), k=k)
        if not any(p.metadata.get("path") == path for p in top):
            misses.append(path)
    return len(paths) - len(misses), len(paths), misses
