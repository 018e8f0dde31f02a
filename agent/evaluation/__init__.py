"""The agent measures itself: `@metric` functions scored through MLflow, traces, feedback, monitoring.

Importing this package is cheap; mlflow, pandas and apscheduler load only when used.

    from agent.evaluation import metric

    @metric
    def names_the_job(response, custom_expected):
        want = (custom_expected or {}).get("name")
        return None if not want else ((response["job_settings"] or {}).get("name") == want, "job name")
"""

from __future__ import annotations

from typing import Any

from agent.evaluation.metrics import Assessment, Metric, metric

__all__ = [
    "Assessment",
    "Metric",
    "as_scorer",
    "metric",
    "run_evaluation",
    "start_monitor",
    "sync_feedback",
    "trace_plan",
]


def __getattr__(name: str) -> Any:  # the heavier helpers, imported on first use
    if name == "as_scorer":
        from agent.evaluation.adapters import as_scorer

        return as_scorer
    if name == "trace_plan":
        from agent.evaluation.tracing import trace_plan

        return trace_plan
    if name == "start_monitor":
        from agent.evaluation.monitor import start_monitor

        return start_monitor
    if name == "run_evaluation":
        from agent.evaluation.runner import run_evaluation

        return run_evaluation
    if name == "sync_feedback":
        from agent.evaluation.feedback import sync_feedback

        return sync_feedback
    raise AttributeError(f"module 'agent.evaluation' has no attribute {name!r}")
