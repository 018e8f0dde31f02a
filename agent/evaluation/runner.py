"""Run the Tech Lead over a dataset (one MLflow trace per row) and score it with ``mlflow.models.evaluate``.

Everything happens inside one MLflow run: the traces, the metrics (``<name>/pass_rate``, ``<name>/mean``,
``<name>/p90``), the 👍/👎 figures from the state DB (``feedback/…``), params, and the per-row table
(``eval_rows.json``) the report reads back. Update rows are planned against an in-memory workspace
that serves each row's ``base`` job, so a run needs no Databricks workspace.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agent.evaluation import rules
from agent.evaluation.dataset import DEFAULT_DATASET, Row, load_rows
from agent.evaluation.metrics import Metric, Result, aggregate, check_names, primary
from agent.evaluation.summary import gated_names, row_score
from agent.evaluation.tracing import configure, response_dict, trace_tool_calls, traced_assign

log = logging.getLogger(__name__)


@dataclass
class RowRun:
    row: Row
    fields: dict[str, Any]  # the evaluation row: request, response, retrieved_context, expected_*, …
    trace_id: str | None = None
    error: str | None = None
    results: dict[str, Result] = field(default_factory=dict)


@dataclass
class Gate:
    threshold: rules.Threshold
    key: str
    value: float | None

    @property
    def ok(self) -> bool:
        return self.value is None or self.threshold.passes(self.value)


@dataclass
class EvalReport:
    metrics: dict[str, float]
    definitions: dict[str, Metric]  # the metrics run, by name
    rows: list[RowRun]
    gates: list[Gate]
    run_id: str
    experiment_id: str
    tracking_uri: str
    seconds: float = 0.0

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if not g.ok]


class FixtureWorkspace:
    """Just enough of `agent.workspace.Workspace` for the Tech Lead: the rows' ``base`` jobs, in memory."""

    def __init__(self) -> None:
        self.jobs: dict[int, dict[str, Any]] = {}

    def get_job(self, job_id: int) -> Any:
        from databricks.sdk.service.jobs import JobSettings

        base = self.jobs.get(int(job_id))
        return None if base is None else SimpleNamespace(job_id=job_id, settings=JobSettings.from_dict(base))

    def jobs_named(self, name: str) -> dict[int, dict[str, str]]:
        return {i: dict(s.get("tags") or {}) for i, s in self.jobs.items() if s.get("name") == name}


class TracedIndex:
    """The docs index with each search recorded as a RETRIEVER span (the row's retrieval, in the trace)."""

    def __init__(self, index: Any):
        self._index = index

    def search(self, query: str, k: int = 5) -> list[Any]:
        import mlflow
        from mlflow.entities import SpanType

        with mlflow.start_span(name="docs.search", span_type=SpanType.RETRIEVER) as span:
            span.set_inputs({"query": query, "k": k})
            hits = self._index.search(query, k=k)
            span.set_outputs(
                [{"doc_uri": h.url, "title": h.title, "page_content": h.text[:500]} for h in hits]
            )
            return hits


def build_lead(settings: Any, workdir: Path, workspace: FixtureWorkspace, index: Callable[[], Any]) -> Any:
    """The Tech Lead exactly as `TechLead.from_settings` wires it (LLM, Unity Catalog functions), on
    scratch state and the fixture workspace, reading the docs through `TracedIndex`."""
    from agent.notes import NoteBook
    from agent.state import open_store
    from agent.tech_lead import TechLead

    scratch = SimpleNamespace(
        store=open_store(workdir / "state"), notes=NoteBook(workdir / "notes"), workspace=workspace
    )
    lead = TechLead.from_settings(settings, scratch)
    traced = TracedIndex(index())
    lead._index = lambda: traced  # from_settings takes no index; this is its one private seam we use
    return lead


def default_index(settings: Any) -> Callable[[], Any]:
    from retrieval import DocsIndex

    docs = settings.docs_dir if Path(settings.docs_dir).is_dir() else None
    return lambda: DocsIndex.load_or_build(docs_dir=docs, cache_dir=settings.index_dir)


def plan_rows(lead: Any, workspace: FixtureWorkspace, rows: list[Row], progress: bool) -> list[RowRun]:
    from tqdm import tqdm

    runs = []
    for row in tqdm(rows, desc="planning", unit="row", file=sys.stderr, disable=None if progress else True):
        workspace.jobs = {row.job_id: row.base} if row.base and row.job_id else {}
        kwargs = {"job_id": row.job_id if row.follow_up else None, "requester_email": row.requester_email}
        run = RowRun(row, {})
        try:
            assignment, run.trace_id = traced_assign(lead, row.request, **kwargs)
            response = response_dict(assignment)
        except Exception as exc:  # a crash is a result to report, not a reason to stop
            log.warning("row %s: the Tech Lead failed: %s", row.id, exc)
            run.error = f"{type(exc).__name__}: {exc}"
            response = {
                "action": None,
                "job_settings": None,
                "questions": [],
                "citations": [],
                "error": run.error,
            }
        run.fields = {
            "request": row.request,
            "response": response,
            "retrieved_context": response.get("citations") or [],
            "expected_response": row.expected_response,
            "expected_retrieved_context": row.expected_retrieved_context,
            "custom_expected": row.custom_expected,
            **row.extra,
        }
        runs.append(run)
    return runs


def _frame(runs: list[RowRun], traces: dict[str, Any]) -> Any:
    import pandas as pd

    def js(value: Any) -> str:
        return json.dumps(value, default=str)

    records = []
    for r in runs:
        f = r.fields
        records.append(
            {
                "row_id": r.row.id,
                "request": f["request"],
                "response": js(f["response"]),
                "retrieved_context": js(f["retrieved_context"]),
                "expected_response": js(f["expected_response"]),
                "expected_retrieved_context": js(f["expected_retrieved_context"]),
                "custom_expected": js(f["custom_expected"]),
                "trace": r.trace_id or "",
                "tool_calls": js(trace_tool_calls(traces.get(r.trace_id or ""))),
                "extras": js(r.row.extra),
            }
        )
    return pd.DataFrame.from_records(records)


def _fetch_traces(run_id: str, ids: Iterable[str | None]) -> dict[str, Any]:
    """The rows' traces, complete: MLflow logs traces asynchronously, so flush before reading."""
    import mlflow

    mlflow.flush_trace_async_logging()
    wanted = {i for i in ids if i}
    found = {t.info.trace_id: t for t in mlflow.search_traces(run_id=run_id, return_type="list")}
    for missing in wanted - set(found):
        trace = mlflow.get_trace(missing)
        if trace is not None:
            found[missing] = trace
    return found


def run_evaluation(
    settings: Any,
    *,
    dataset: str | Path | None = None,
    rows: list[Row] | None = None,
    extra_metrics: Iterable[Metric] = (),
    tracking: str | None = None,
    experiment: str | None = None,
    thresholds: dict[str, rules.Threshold] | None = None,
    guidelines: rules.Guidelines | None = None,
    index: Callable[[], Any] | None = None,
    progress: bool = False,
    run_name: str | None = None,
) -> EvalReport:
    """Plan every row, score it with the built-in and extra metrics, log it all to one MLflow run."""
    import mlflow

    from agent.evaluation.adapters import to_mlflow_metric
    from agent.evaluation.builtin import builtin_metrics
    from agent.evaluation.feedback import feedback_metrics

    started = time.perf_counter()
    guidelines = guidelines or rules.load()
    rows = rows if rows is not None else load_rows(dataset)
    metrics = [*builtin_metrics(guidelines), *extra_metrics]
    check_names(metrics)
    gates_wanted = {**guidelines.thresholds, **(thresholds or {})}
    for name in gates_wanted:
        if not known_figure(name, metrics):
            log.warning("threshold %r names no metric of this run; it cannot fail", name)
    uri, experiment_id = configure(settings, tracking, experiment)
    index = index or default_index(settings)
    index()  # load (or build) the docs index before the clock of the first row starts
    workspace = FixtureWorkspace()
    with (
        tempfile.TemporaryDirectory(prefix="jobagent-eval-") as tmp,
        mlflow.start_run(run_name=run_name) as run,
    ):
        mlflow.set_tags({"jobagent.kind": "eval", "jobagent.dataset": str(dataset or DEFAULT_DATASET)})
        lead = build_lead(settings, Path(tmp), workspace, index)
        runs = plan_rows(lead, workspace, rows, progress)
        traces = _fetch_traces(run.info.run_id, (r.trace_id for r in runs))
        collected: dict[str, dict[str, Result]] = {}
        mlflow.models.evaluate(
            data=_frame(runs, traces),
            predictions="response",
            extra_metrics=[to_mlflow_metric(m, traces, collected) for m in metrics],
            evaluators="default",
        )
        for r in runs:
            r.results = {m.name: collected.get(m.name, {}).get(r.row.id, Result()) for m in metrics}
        values = {
            f"{m.name}/{agg}": v
            for m in metrics
            for agg, v in aggregate(collected.get(m.name, {}).values()).items()
        }
        values.update(feedback_metrics(settings, guidelines))
        values["eval/rows"] = float(len(runs))
        values["eval/plan_errors"] = float(sum(r.error is not None for r in runs))
        mlflow.log_metrics({k: v for k, v in values.items() if k.startswith(("feedback/", "eval/"))})
        gates = check(values, {m.name: m for m in metrics}, gates_wanted)
        mlflow.log_params(
            {
                "dataset": str(dataset or DEFAULT_DATASET),
                "rows": len(runs),
                "planner": runs[0].fields["response"].get("planner", "?") if runs else "?",
                "metrics": ",".join(m.name for m in metrics)[:6000],
                "guidelines": str(guidelines.source),
            }
        )
        mlflow.set_tag("jobagent.gate", "failed" if any(not g.ok for g in gates) else "passed")
        report = EvalReport(
            values, {m.name: m for m in metrics}, runs, gates, run.info.run_id, experiment_id, uri
        )
        chosen = gated_names(report)
        mlflow.log_dict({"rows": [row_summary(r, chosen) for r in runs]}, "eval_rows.json")
    report.seconds = time.perf_counter() - started
    return report


def known_figure(name: str, metrics: Iterable[Metric]) -> bool:
    """Whether a threshold name can refer to a figure of an evaluation run."""
    return name.startswith(("feedback/", "eval/")) or name.split("/")[0] in {m.name for m in metrics}


def check(
    values: dict[str, float], metrics: dict[str, Metric], wanted: dict[str, rules.Threshold]
) -> list[Gate]:
    """Each threshold against its figure; a bare metric name means its pass_rate or mean."""
    gates = []
    for name, threshold in wanted.items():
        key = name
        if name not in values and name in metrics:
            aggs = {k.split("/", 1)[1]: v for k, v in values.items() if k.split("/", 1)[0] == name}
            key = f"{name}/{primary(aggs)}" if primary(aggs) else f"{name}/pass_rate"
        gates.append(Gate(threshold, key, values.get(key)))
    return gates


def row_summary(run: RowRun, chosen: set[str]) -> dict[str, Any]:
    """One row's outcome for eval_rows.json (the report's worst rows)."""
    response = run.fields.get("response") or {}
    mean, misses = row_score(run, chosen)
    return {
        "mean": mean,
        "misses": {k: r.rationale for k, r in misses},
        "id": run.row.id,
        "request": run.row.request,
        "trace_id": run.trace_id,
        "error": run.error,
        "action": response.get("action"),
        "questions": response.get("questions"),
        "scores": {k: r.score for k, r in run.results.items() if r.score is not None},
        "rationales": {
            k: r.rationale or r.error for k, r in run.results.items() if r.score is not None or r.error
        },
    }
