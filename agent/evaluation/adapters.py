"""`@metric` functions as MLflow metrics: ``make_metric`` for ``mlflow.models.evaluate(extra_metrics=…)``
and `as_scorer` for ``mlflow.genai.evaluate(scorers=…)``.

``mlflow.evaluate`` is, since MLflow 3.0, a deprecated alias of ``mlflow.models.evaluate`` (it warns, then
calls it); we call the latter. The evaluation frame holds one row per request with the Databricks row
fields as columns (JSON text; ``trace`` holds the trace id), and ``response`` is the predictions column.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from agent.evaluation.metrics import Metric, Result, aggregate
from agent.evaluation.tracing import trace_tool_calls

JSON_COLUMNS = (
    "retrieved_context",
    "expected_response",
    "expected_retrieved_context",
    "custom_expected",
    "tool_calls",
    "extras",
)


def row_fields(
    columns: Mapping[str, Any], response: str, resolve_trace: Callable[[str], Any]
) -> dict[str, Any]:
    """One frame row decoded back into the fields a metric may ask for."""
    row = {"request": columns["request"], "response": json.loads(response)}
    for name in JSON_COLUMNS:
        row[name] = json.loads(columns[name]) if columns.get(name) else None
    row.update(row.pop("extras") or {})
    row["trace"] = resolve_trace(columns["trace"]) if columns.get("trace") else None
    return row


def to_mlflow_metric(m: Metric, traces: Mapping[str, Any], collected: dict[str, dict[str, Result]]) -> Any:
    """An ``EvaluationMetric`` that calls `m` per row; per-row Results also land in ``collected[m.name]``."""
    from mlflow.metrics import MetricValue, make_metric

    def resolve(trace_id: str) -> Any:
        if "trace" not in m.params and m.params != ("**",):
            return None
        if trace_id not in traces:
            import mlflow

            return mlflow.get_trace(trace_id)
        return traces[trace_id]

    def eval_fn(
        predictions,
        request,
        retrieved_context,
        expected_response,
        expected_retrieved_context,
        custom_expected,
        trace,
        tool_calls,
        extras,
        row_id,
    ):
        frame = {
            "request": request,
            "retrieved_context": retrieved_context,
            "expected_response": expected_response,
            "expected_retrieved_context": expected_retrieved_context,
            "custom_expected": custom_expected,
            "trace": trace,
            "tool_calls": tool_calls,
            "extras": extras,
        }
        results = []
        for i in range(len(predictions)):
            columns = {k: v.iloc[i] for k, v in frame.items()}
            results.append(m.evaluate(row_fields(columns, predictions.iloc[i], resolve)))
        collected[m.name] = dict(zip(list(row_id), results, strict=True))
        return MetricValue(
            scores=[r.score for r in results],
            justifications=[r.rationale or r.error or "" for r in results],
            aggregate_results=aggregate(results),
        )

    return make_metric(
        eval_fn=eval_fn,
        greater_is_better=m.greater_is_better,
        name=m.name,
        metric_details=m.description or None,
    )


def as_scorer(m: Metric) -> Any:
    """The same metric as an ``mlflow.genai`` scorer.

    Field mapping: ``request`` ← ``inputs["request"]`` (or the inputs themselves), ``response`` ←
    ``outputs``, ``expected_*``/``custom_expected`` ← the same keys of ``expectations`` (other keys of
    ``expectations`` go into ``custom_expected``), ``retrieved_context`` ← ``outputs["citations"]`` or the
    trace's RETRIEVER spans, ``tool_calls`` ← the trace's TOOL spans, ``trace`` ← the trace.
    """
    from mlflow.entities import Feedback
    from mlflow.genai.scorers import scorer

    def score(inputs, outputs, expectations, trace):
        result = m.evaluate(genai_fields(inputs, outputs, expectations, trace))
        if result.error:
            raise RuntimeError(result.error)
        if result.value is None:
            return None  # does not apply: MLflow records no assessment
        return Feedback(value=result.value, rationale=result.rationale)

    score.__doc__ = m.description
    return scorer(score, name=m.name)


def genai_fields(inputs: Any, outputs: Any, expectations: Any, trace: Any) -> dict[str, Any]:
    expectations = dict(expectations or {})
    request = inputs.get("request") if isinstance(inputs, dict) and "request" in inputs else inputs
    named = {k: expectations.pop(k, None) for k in ("expected_response", "expected_retrieved_context")}
    custom = expectations.pop("custom_expected", None) or {}
    custom.update(expectations)
    retrieved = (outputs or {}).get("citations") if isinstance(outputs, dict) else None
    if retrieved is None and trace is not None:
        retrieved = [
            doc for s in trace.data.spans if str(s.span_type) == "RETRIEVER" for doc in (s.outputs or [])
        ]
    return {
        "request": request,
        "response": outputs,
        "retrieved_context": retrieved,
        **named,
        "custom_expected": custom or None,
        "trace": trace,
        "tool_calls": trace_tool_calls(trace),
    }


def genai_rows(frame_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluation rows (`runner.RowRun.fields`) as ``mlflow.genai.evaluate`` data."""
    out = []
    for row in frame_rows:
        expectations = {
            k: row[k]
            for k in ("expected_response", "expected_retrieved_context", "custom_expected")
            if row.get(k)
        }
        out.append(
            {"inputs": {"request": row["request"]}, "outputs": row["response"], "expectations": expectations}
        )
    return out
