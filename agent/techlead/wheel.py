"""Python wheel tasks: "wheel pkg `acme_tools` entry point `run`", "wheel my_pkg:ingest", a bare .whl path."""

from __future__ import annotations

import re

from agent.techlead.anchor import Anchor
from agent.techlead.scan import Scan, basename

_PKG = r"(?:package|pkg)"
# a value, bare or in matching quotes/backticks (the closing quote is part of the match)
_QUOTED = r"(?:(?P<{0}q>[`'\"])(?P<{0}>{1})(?P={0}q)|(?P<{0}b>{2}))"
_ENTRY = _QUOTED.format("e", r"[A-Za-z_][\w.:-]*", r"[A-Za-z_][\w.]*")


def find_wheels(scan: Scan, notes: list[str]) -> list[Anchor]:
    out = []
    files = [e for e in scan.of("path") + scan.of("url") if e.value.lower().endswith(".whl")]
    for m in scan.find(r"\b(?:python\s+)?(?:wheel|whl)\b|\bentry[\s_-]?point\b"):
        if any(a.start <= m.start() < a.end for a in out) or not scan.masked[m.start() : m.end()].strip():
            continue
        lo, hi = max(0, m.start() - 60), m.end() + 120
        window = scan.masked[lo:hi]
        cut = re.search(r"\.(?=\s|$)|[;\n]|\bthen\b|->|→", window[m.start() - lo :])
        if cut:
            window = window[: m.start() - lo + cut.start()]
        pkg = re.search(
            rf"\b{_PKG}(?:[\s_-]*name)?\s*(?:=|:|is|called|named)?\s*"
            + _QUOTED.format("p", r"[A-Za-z][\w.-]*", r"[A-Za-z][\w.-]*"),
            window,
            re.I,
        ) or re.search(
            rf"\b(?:wheel|whl)\s+(?:{_PKG}\s+)?(?:(?P<pq>[`'\"])(?P<p>[A-Za-z][\w.-]*)(?P=pq)|[`'\"]?"
            r"(?P<pb>(?!(?:package|pkg|task|with|entry|file)\b)[A-Za-z][\w.-]*?)"
            r"[`'\"]?(?=[:\s,;.]|$))",
            window,
            re.I,
        )
        entry = re.search(
            r"\bentry[\s_-]?point\s*(?:=|:|is|called|named|of|function)?\s*" + _ENTRY,
            window,
            re.I,
        ) or re.search(
            r"\b(?:wheel|whl)\s+(?:package\s+)?[`'\"]?[A-Za-z][\w-]*[:](?P<e>[A-Za-z_]\w*)", window, re.I
        )
        file = next((f for f in files if lo - 40 <= f.start <= hi and not f.used), None)
        spans = [(lo + x.start(), lo + x.end()) for x in (pkg, entry) if x] + [(m.start(), m.end())]
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        if not entry:  # the answer to an earlier question may stand on a line of its own
            entry = scan.take_one(
                r"(?<![\w-])entry[\s_-]?point\s*(?:=|:|is|called|named|of|function)?\s*" + _ENTRY
            )
        body: dict = {}
        package = _val(pkg, "p") if pkg else (basename(file.value).split("-")[0] if file else None)
        missing = []
        if package:
            body["package_name"] = package
        else:
            missing.append("Which Python package does the wheel task run (its package_name)?")
        if entry:
            body["entry_point"] = _val(entry, "e")
        else:
            missing.append(f"Which entry point of the wheel{' ' + package if package else ''} should run?")
        anchor = Anchor(
            "wheel",
            start,
            end,
            {"python_wheel_task": body},
            package or "wheel",
            f"wheel {package or ''}".strip(),
            missing=missing,
            source=package or "",
        )
        if file:
            file.used = True
            anchor.body["libraries"] = [{"whl": file.value}]
            anchor.end = max(anchor.end, file.end)
        scan.consume(anchor.start, anchor.end)
        out.append(anchor)
    for f in files:
        if not f.used:  # a bare .whl path: the package is its file name's first part
            f.used = True
            package = basename(f.value).split("-")[0]
            out.append(
                Anchor(
                    "wheel",
                    f.start,
                    f.end,
                    {"python_wheel_task": {"package_name": package}, "libraries": [{"whl": f.value}]},
                    package,
                    f"wheel {package}",
                    missing=[f"Which entry point of the wheel {package} should run?"],
                    source=package,
                )
            )
    return out


def _val(m: re.Match[str], name: str) -> str:
    """The value of a `_QUOTED` group (quoted or bare)."""
    return m.group(name) or m.groupdict().get(name + "b") or ""
