"""MLflow set-up and tracing of Tech Lead calls, shared by evaluation runs and live plans.

Tracking URI: ``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///$JOBAGENT_HOME/mlflow.db``
(MLflow refuses a plain file store). Experiment: ``--experiment``, else ``JOBAGENT_MLFLOW_EXPERIMENT``
or ``MLFLOW_EXPERIMENT_NAME``, else ``jobagent``. mlflow is imported inside functions: it takes a
second to import and the CLI and bot must not pay for it unless they use it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DEFAULT_EXPERIMENT = "jobagent"
_LOCK = threading.Lock()
_CONFIGURED: dict[str, str] = {}


def tracking_uri(settings: Any, uri: str | None = None) -> str:
    if uri or os.environ.get("MLFLOW_TRACKING_URI"):
        return uri or os.environ["MLFLOW_TRACKING_URI"]
    home = Path(settings.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow.db'}"


def experiment_name(name: str | None = None) -> str:
    env = os.environ
    return (
        name
        or env.get("JOBAGENT_MLFLOW_EXPERIMENT")
        or env.get("MLFLOW_EXPERIMENT_NAME")
        or DEFAULT_EXPERIMENT
    )


def configure(settings: Any, uri: str | None = None, experiment: str | None = None) -> tuple[str, str]:
    """Point MLflow at the tracking store and experiment; returns (uri, experiment_id)."""
    uri, name = tracking_uri(settings, uri), experiment_name(experiment)
    with _LOCK:
        _quiet()
        import mlflow

        if _CONFIGURED.get("key") == f"{uri}|{name}":
            return uri, _CONFIGURED["experiment_id"]
        mlflow.set_tracking_uri(uri)
        client = mlflow.MlflowClient()
        if client.get_experiment_by_name(name) is None:
            with contextlib.suppress(mlflow.exceptions.MlflowException):  # another process was first
                client.create_experiment(name, artifact_location=_artifact_root(uri))
        exp = mlflow.set_experiment(name)
        _CONFIGURED.update(key=f"{uri}|{name}", experiment_id=exp.experiment_id)
        return uri, exp.experiment_id


def _artifact_root(uri: str) -> str | None:
    """Artifacts beside a sqlite store (MLflow's default would be ./mlruns in whatever the cwd is)."""
    if not uri.startswith("sqlite:///"):
        return None  # a tracking server or Databricks knows where its artifacts go
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()


def _quiet() -> None:
    """Offline-friendly defaults and no MLflow chatter on the user's terminal (-v shows it)."""
    cache = _tiktoken_cache()
    if cache:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))  # no download for token counts
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"mlflow\..*")
    warnings.filterwarnings("ignore", message=r".*(pkg_resources|Hint: Inferred schema).*")


def _tiktoken_cache() -> Path | None:
    """The tiktoken files llama-index-core ships (found without importing llama_index)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("llama_index.core")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "_static" / "tiktoken_cache"
    return path if path.is_dir() else None


def response_dict(assignment: Any) -> dict[str, Any]:
    """The assignment as an evaluation row's ``response``: settings, plan text, citations, questions."""
    from agent.diff import diff_settings, render_changes

    settings = assignment.settings.as_dict() if assignment.settings is not None else None
    plan = ""
    if settings is not None:
        head = f"{assignment.action} job {settings.get('name', '')!r}"
        lines = render_changes(diff_settings(None, settings), indent="  ")
        plan = "\n".join([head, *lines, *(f"note: {n}" for n in assignment.notes)])
    return {
        "action": assignment.action,
        "job_id": assignment.job_id,
        "job_settings": settings,
        "plan": plan,
        "citations": [
            {"title": c.title, "doc_uri": c.url, "score": round(c.score, 3), "content": c.text}
            for c in assignment.citations
        ],
        "questions": list(assignment.questions),
        "assumptions": list(assignment.assumptions),
        "planner": assignment.planner,
        "usage": dict(assignment.usage),
    }


def traced_assign(lead: Any, request: str, **kwargs: Any) -> tuple[Any, str]:
    """``lead.assign(request, **kwargs)`` inside an AGENT span, with a child span for the validation
    the Worker will run; returns (assignment, trace_id). Exceptions are recorded on the span and raised."""
    import mlflow
    from mlflow.entities import SpanType

    from agent.validation import settings_problems

    with mlflow.start_span(name="tech_lead.assign", span_type=SpanType.AGENT) as root:
        shown = {k: v for k, v in kwargs.items() if v is not None and k != "requester_email"}  # no PII
        root.set_inputs({"request": request, **shown})
        assignment = lead.assign(request, **kwargs)
        response = response_dict(assignment)
        with mlflow.start_span(name="worker.validate", span_type=SpanType.PARSER) as check:
            check.set_inputs({"job_settings": response["job_settings"]})
            problems = settings_problems(response["job_settings"]) if response["job_settings"] else []
            check.set_outputs({"problems": problems})
        root.set_attributes({"jobagent.action": assignment.action, "jobagent.planner": assignment.planner})
        root.set_outputs(
            {k: v for k, v in response.items() if k != "citations"}
            | {"citations": [{k: c[k] for k in ("title", "doc_uri", "score")} for c in response["citations"]]}
        )
        return assignment, root.trace_id


def trace_plan(
    settings: Any,
    lead: Any,
    request: str,
    *,
    thread: str | None = None,
    job_id: int | None = None,
    requester_email: str | None = None,
    tracking: str | None = None,
    experiment: str | None = None,
) -> tuple[Any, str | None]:
    """Plan a live request with a trace: returns (assignment, trace_id or None).

    Pass ``meta={"trace_id": trace_id}`` to ``Worker.submit`` so 👍/👎 on the plan reach the trace
    (`agent.evaluation.feedback.sync_feedback`). Tracing never costs the user a plan: if MLflow fails,
    the plan is made untraced and the trace id is None.
    """
    kwargs = {"thread": thread, "job_id": job_id, "requester_email": requester_email}
    try:
        configure(settings, tracking, experiment)
    except Exception as exc:
        log.warning("tracing unavailable, planning without a trace: %s", exc)
        return lead.assign(request, **kwargs), None
    return traced_assign(lead, request, **kwargs)


def ensure_stored(trace_ids: set[str]) -> None:
    """Flush MLflow's async trace queue only if one of these traces is not in the store yet
    (a flush waits up to a second for the queue's consumer thread)."""
    import mlflow

    for trace_id in trace_ids:
        try:
            found = mlflow.get_trace(trace_id) is not None
        except Exception:
            found = False
        if not found:
            mlflow.flush_trace_async_logging()
            return


def trace_tool_calls(trace: Any) -> list[dict[str, Any]]:
    """TOOL spans of a trace as ``[{"name", "inputs", "outputs"}]`` (Databricks' ``tool_calls``)."""
    if trace is None:
        return []
    return [
        {"name": s.name, "inputs": s.inputs, "outputs": s.outputs}
        for s in trace.data.spans
        if str(s.span_type) == "TOOL"
    ]
