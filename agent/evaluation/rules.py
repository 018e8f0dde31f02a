"""Guideline rules and thresholds from guidelines.yaml: what a good plan does and what figures gate CI."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PATH = Path(__file__).with_name("guidelines.yaml")
_UNSET = (None, "", 0, False, [], {})


@dataclass
class Rule:
    name: str
    description: str = ""
    when: dict[str, Any] = field(default_factory=dict)
    require: dict[str, Any] = field(default_factory=dict)
    advisory: bool = False  # scored as its own metric, left out of guideline_compliance

    def applies(self, request: str, response: dict[str, Any]) -> bool:
        settings = response.get("job_settings")
        if not settings or response.get("questions"):
            return False  # a draft behind a question is not a plan anyone will approve
        pattern = self.when.get("request_matches")
        if pattern and not re.search(pattern, request or "", re.I | re.S):
            return False
        if self.when.get("action") and response.get("action") != self.when["action"]:
            return False
        return not (self.when.get("has") and not _is_set(values(settings, self.when["has"])))

    def violation(self, settings: dict[str, Any]) -> str | None:
        """Why the settings break this rule, or None when they follow it."""
        req = self.require
        missing = [p for p in req.get("all_of", []) if not _is_set(values(settings, p))]
        if missing:
            return f"{', '.join(missing)} not set"
        if req.get("any_of") and not any(_some_set(values(settings, p)) for p in req["any_of"]):
            return f"none of {', '.join(req['any_of'])} is set"
        for bound, over in (("max", lambda v, n: v > n), ("min", lambda v, n: v < n)):
            for path, limit in (req.get(bound) or {}).items():
                bad = [v for v in values(settings, path) if isinstance(v, int | float) and over(v, limit)]
                if bad:
                    return f"{path} = {bad[0]} ({bound} {limit})"
        return None


@dataclass
class Threshold:
    """A gate on one aggregate: ``value >= limit`` (minimum) or ``value <= limit`` (maximum)."""

    name: str
    limit: float
    maximum: bool = False

    def passes(self, value: float) -> bool:
        return value <= self.limit if self.maximum else value >= self.limit

    def describe(self) -> str:
        return f"{'<=' if self.maximum else '>='} {self.limit:g}"


@dataclass
class Guidelines:
    rules: list[Rule]
    thresholds: dict[str, Threshold]  # gates for `jobagent eval` (and the monitor)
    monitor: dict[str, Any]
    source: Path
    monitor_thresholds: dict[str, Threshold] = field(default_factory=dict)  # the monitor's extra gates


def load(path: str | Path | None = None) -> Guidelines:
    """The guidelines file: the argument, else $JOBAGENT_GUIDELINES, else the one shipped here."""
    path = Path(path or os.environ.get("JOBAGENT_GUIDELINES") or DEFAULT_PATH)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = [
        Rule(
            name,
            body.get("description", ""),
            body.get("when") or {},
            body.get("require") or {},
            bool(body.get("advisory")),
        )
        for name, body in (data.get("rules") or {}).items()
        if body.get("enabled", True)
    ]
    thresholds = {k: _threshold(k, v) for k, v in (data.get("thresholds") or {}).items()}
    monitor = dict(data.get("monitor") or {})
    extra = {k: _threshold(k, v) for k, v in (monitor.pop("thresholds", None) or {}).items()}
    return Guidelines(rules, thresholds, monitor, path, extra)


def _threshold(name: str, spec: Any) -> Threshold:
    if isinstance(spec, dict):
        if "max" in spec:
            return Threshold(name, float(spec["max"]), maximum=True)
        return Threshold(name, float(spec["min"]))
    return Threshold(name, float(spec))


def parse_threshold(text: str, lower_is_better: set[str] | None = None) -> Threshold:
    """``name=0.9`` (a minimum; a maximum for lower-is-better metrics), ``name>=0.9`` or ``name<=0.3``."""
    m = re.fullmatch(r"\s*([\w./-]+)\s*(<=|>=|=)\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*", text, re.I)
    if not m:
        raise ValueError(f"--threshold {text!r}: write name=value, name>=value or name<=value")
    name, op, value = m.groups()
    maximum = op == "<=" or (op == "=" and name.split("/")[0] in (lower_is_better or set()))
    return Threshold(name, float(value), maximum)


def values(settings: dict[str, Any], path: str) -> list[Any]:
    """Every value at a dotted path; ``tasks[]`` fans out over list items."""
    found: list[Any] = [settings]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nxt: list[Any] = []
        for node in found:
            child = node.get(key) if isinstance(node, dict) else None
            if many:
                nxt.extend(child if isinstance(child, list) else [])
            elif child is not None:
                nxt.append(child)
        found = nxt
    return found


def _is_set(found: list[Any]) -> bool:
    return bool(found) and all(v not in _UNSET for v in found)


def _some_set(found: list[Any]) -> bool:
    return any(v not in _UNSET for v in found)
