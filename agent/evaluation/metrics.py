"""The `@metric` decorator: a plain function that scores one evaluation row, named by its parameters.

The contract is Databricks Agent Evaluation's custom metric contract, so one function runs on both:

- parameters are chosen *by name* from the evaluation row: ``request``, ``response``,
  ``retrieved_context``, ``expected_response``, ``expected_retrieved_context``, ``custom_expected``,
  ``trace``, ``tool_calls`` (and Databricks' ``expected_facts``, ``guidelines``, ``custom_inputs``,
  ``custom_outputs``); take only the ones you need;
- it returns ``"yes"``/``"no"`` or a bool (a pass/fail metric, aggregated as ``<name>/pass_rate``), or
  a number (aggregated as ``<name>/mean`` and ``<name>/p90``), optionally with a rationale: return an
  `Assessment` (or anything with ``.value`` and ``.rationale``: MLflow's ``Feedback``, Databricks'
  ``Assessment``) or a ``(value, rationale)`` tuple. ``None`` means "does not apply to this row".

To run a jobagent metric on Databricks, decorate the same function with ``databricks.agents.evals.metric``
(``dbx_metric(my_metric.fn)``) and pass it in ``extra_metrics``; to run a Databricks metric here,
decorate it with this `metric` (or load its file with ``jobagent eval --metrics FILE.py``). For
``mlflow.genai.evaluate``, `agent.evaluation.as_scorer` wraps the same metric as a scorer. Here
``response`` is the Tech Lead's assignment as a dict (`agent.evaluation.tracing.response_dict`), so a
metric that reads fields of it runs on Databricks wherever the agent's output has the same shape.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import math
import numbers
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from agent.errors import JobAgentError

log = logging.getLogger(__name__)

ROW_FIELDS = (
    "request",
    "response",
    "retrieved_context",
    "expected_response",
    "expected_retrieved_context",
    "custom_expected",
    "trace",
    "tool_calls",
    "expected_facts",
    "guidelines",
    "custom_inputs",
    "custom_outputs",
)
PASS_FAIL, NUMERIC = "pass_fail", "numeric"


class MetricError(JobAgentError):
    """A metric cannot be used (bad file, no metrics in it, two with one name); the message says which."""


@dataclass
class Assessment:
    """A metric's value with the reason for it (the shape of Databricks' and MLflow's assessments)."""

    value: Any
    rationale: str | None = None
    name: str | None = None


@dataclass
class Result:
    """One metric on one row: the raw value, its score (1/0 for pass/fail) and the rationale."""

    value: Any = None
    score: float | None = None
    kind: str | None = None
    rationale: str | None = None
    error: str | None = None


@dataclass
class Metric:
    """A decorated metric function; calling it calls the function unchanged."""

    fn: Callable[..., Any]
    name: str
    greater_is_better: bool = True
    description: str = ""
    params: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        # inspect.signature(metric) then shows the function's parameters, as name-based harnesses
        # (Databricks' @metric, MLflow's @scorer) expect.
        self.__wrapped__ = self.fn
        self.__name__ = self.name
        self.__doc__ = self.description

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def evaluate(self, row: dict[str, Any]) -> Result:
        """Call the function with the row fields it asks for; never raises (errors become a Result)."""
        kwargs = {p: row.get(p) for p in self.params} if self.params != ("**",) else dict(row)
        try:
            return normalize(self.fn(**kwargs))
        except Exception as exc:  # one bad row must not sink the evaluation
            log.warning("metric %s failed on a row: %s", self.name, exc, exc_info=log.isEnabledFor(10))
            return Result(error=f"{type(exc).__name__}: {exc}", rationale=f"error: {exc}")


def metric(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    greater_is_better: bool = True,
    description: str | None = None,
) -> Any:
    """Turn ``fn(request, response, …)`` into a `Metric` (usable bare or with arguments)."""

    def wrap(f: Callable[..., Any]) -> Metric:
        return Metric(
            fn=f,
            name=name or f.__name__,
            greater_is_better=greater_is_better,
            description=description if description is not None else (inspect.getdoc(f) or ""),
            params=_params(f),
        )

    return wrap(fn) if fn is not None else wrap


def _params(fn: Callable[..., Any]) -> tuple[str, ...]:
    names = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return ("**",)
        if p.kind is p.VAR_POSITIONAL:
            continue
        if p.name not in ROW_FIELDS and p.default is p.empty:
            raise TypeError(
                f"metric {fn.__name__}: parameter {p.name!r} is not an evaluation row field; "
                f"use any of {', '.join(ROW_FIELDS)}"
            )
        if p.name in ROW_FIELDS:
            names.append(p.name)
    return tuple(names)


def normalize(raw: Any) -> Result:
    """A metric's return value as a Result: yes/no and bool → pass/fail, numbers → numeric."""
    rationale = None
    if isinstance(raw, tuple) and len(raw) == 2:
        raw, rationale = raw
    elif isinstance(raw, dict) and "value" in raw:
        raw, rationale = raw["value"], raw.get("rationale")
    elif hasattr(raw, "value") and hasattr(raw, "rationale"):
        raw, rationale = raw.value, raw.rationale
    raw = raw.value if isinstance(raw, Enum) else raw  # e.g. MLflow's CategoricalRating.YES
    rationale = str(rationale) if rationale not in (None, "") else None
    if raw is None:
        return Result(rationale=rationale)
    if isinstance(raw, bool):
        return Result(raw, 1.0 if raw else 0.0, PASS_FAIL, rationale)
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in ("yes", "no"):
            return Result(word, 1.0 if word == "yes" else 0.0, PASS_FAIL, rationale)
        raise ValueError(f'a metric returns "yes"/"no", a bool or a number, not {raw!r}')
    if isinstance(raw, numbers.Real) and not math.isnan(raw):
        return Result(raw, float(raw), NUMERIC, rationale)
    raise ValueError(f"a metric returns yes/no, a bool or a number, not {type(raw).__name__}")


def aggregate(results: Iterable[Result]) -> dict[str, float]:
    """``pass_rate`` for pass/fail metrics, ``mean`` and ``p90`` for numbers; skipped rows left out."""
    results = list(results)
    scored = [r for r in results if r.score is not None]
    out: dict[str, float] = {}
    errors = sum(r.error is not None for r in results)
    if errors:
        out["error_count"] = float(errors)
    if not scored:
        return out
    scores = [r.score for r in scored]
    if all(r.kind == PASS_FAIL for r in scored):
        out["pass_rate"] = sum(scores) / len(scores)
    else:
        out["mean"] = sum(scores) / len(scores)
        out["p90"] = percentile(scores, 90)
    return out


def primary(aggregates: dict[str, float]) -> str | None:
    """The aggregate a bare threshold name refers to."""
    return next((k for k in ("pass_rate", "mean") if k in aggregates), None)


def check_names(metrics: Iterable[Metric]) -> None:
    names = [m.name for m in metrics]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise MetricError(f"two metrics are named {', '.join(clash)}; rename one (@metric(name=...))")


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without needing numpy here."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def load_metrics_file(path: str | Path) -> list[Metric]:
    """Every `Metric` defined at the top level of a Python file (``jobagent eval --metrics FILE``)."""
    path = Path(path)
    if not path.is_file():
        raise MetricError(f"metrics file {path} does not exist")
    name = f"jobagent_user_metrics_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MetricError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    found = [v for v in vars(module).values() if isinstance(v, Metric)]
    if not found:
        raise MetricError(f"{path} defines no @metric functions")
    return found
