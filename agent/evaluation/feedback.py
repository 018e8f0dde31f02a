"""👍/👎 from Slack (TaskRecord.feedback) as figures, as MLflow trace assessments, and as dataset rows.

A vote is a user's latest reaction on a task (added, or taken back by removing it). Tasks whose plan
was traced (``meta["trace_id"]``, see `agent.evaluation.tracing.trace_plan`) get each vote attached to
the trace as a ``user_feedback`` assessment from a HUMAN source; what was already attached is kept in
``$JOBAGENT_HOME/feedback_synced.json``, so a changed vote replaces the old assessment. Untraced tasks
still count in the ``feedback/…`` figures every evaluation run logs.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock

log = logging.getLogger(__name__)
FEEDBACK_NAME = "user_feedback"


def votes(record: Any) -> dict[str, int]:
    """{user: +1 | -1}: each user's standing vote on the task."""
    out: dict[str, int] = {}
    for entry in record.feedback:
        user = entry.get("user") or "?"
        if entry.get("action") == "removed":
            if out.get(user) == entry.get("value"):
                out.pop(user)
        elif entry.get("value") in (1, -1):
            out[user] = entry["value"]
    return out


def _last_vote_at(record: Any) -> datetime | None:
    stamps = [e.get("at") for e in record.feedback if e.get("at")]
    return _parse_time(max(stamps)) if stamps else None


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def load_records(settings: Any) -> list[Any]:
    """Tasks from the state DB (none when there is no DB yet; reading never creates one)."""
    if not Path(settings.state_path).exists():
        return []
    from agent.state import open_store

    return open_store(settings.state_path).find()


def rate(
    records: list[Any], *, since: datetime | None = None, action: str | None = None
) -> tuple[float | None, int]:
    """(share of 👎 among standing votes, number of votes) for tasks voted on since `since`."""
    up = down = 0
    for rec in records:
        if action and rec.action != action:
            continue
        at = _last_vote_at(rec)
        if since and (at is None or at < since):
            continue
        for value in votes(rec).values():
            up, down = up + (value > 0), down + (value < 0)
    total = up + down
    return (down / total if total else None), total


def feedback_metrics(settings: Any, guidelines: Any, now: datetime | None = None) -> dict[str, float]:
    """``feedback/thumbs_down_rate`` (recent window), ``…_create``/``…_update`` and vote counts."""
    records = load_records(settings)
    days = float(guidelines.monitor.get("feedback_window_days", 7))
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    out: dict[str, float] = {}
    value, n = rate(records, since=since)
    out["feedback/votes"] = float(n)
    if value is not None and n >= int(guidelines.monitor.get("min_votes", 1)):
        out["feedback/thumbs_down_rate"] = value
    for action in ("create", "update"):
        value, n = rate(records, since=since, action=action)
        if value is not None:
            out[f"feedback/thumbs_down_rate_{action}"] = value
    value, n = rate(records)
    if value is not None:
        out["feedback/thumbs_down_rate_all_time"] = value
    return out


def history(records: list[Any], period: str = "week") -> list[dict[str, Any]]:
    """👎 rate per ISO week (or day) and action, oldest first: the report's feedback-over-time table."""
    buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for rec in records:
        at = _last_vote_at(rec)
        if at is None:
            continue
        key = at.strftime("%G-W%V") if period == "week" else at.strftime("%Y-%m-%d")
        for value in votes(rec).values():
            buckets[(key, rec.action)][0 if value > 0 else 1] += 1
    return [
        {"period": k, "action": a, "up": up, "down": down, "thumbs_down_rate": down / (up + down)}
        for (k, a), (up, down) in sorted(buckets.items())
        if up + down
    ]


def sync_feedback(settings: Any, tracking: str | None = None, experiment: str | None = None) -> int:
    """Attach standing votes of traced tasks to their traces; returns how many assessments changed."""
    records = [r for r in load_records(settings) if r.meta.get("trace_id") and r.feedback]
    if not records:
        return 0
    ledger_path = Path(settings.home) / "feedback_synced.json"
    with FileLock(str(ledger_path) + ".lock", timeout=30):
        ledger = json.loads(ledger_path.read_text()) if ledger_path.is_file() else {}
        todo = [(rec, user) for rec in records for user in _changed(rec, ledger.get(rec.id, {}))]
        if not todo:
            return 0  # nothing new: MLflow is not even imported
        changed = _attach(settings, tracking, experiment, todo, ledger)
        ledger_path.write_text(json.dumps(ledger, indent=1))
    return changed


def _changed(record: Any, done: dict[str, Any]) -> list[str]:
    want = votes(record)
    return [u for u in sorted(set(want) | set(done)) if not (u in done and done[u]["value"] == want.get(u))]


def _attach(settings: Any, tracking: str | None, experiment: str | None, todo: list, ledger: dict) -> int:
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    from agent.evaluation.tracing import configure, ensure_stored

    configure(settings, tracking, experiment)
    ensure_stored({rec.meta["trace_id"] for rec, _ in todo})
    changed = 0
    for rec, user in todo:
        trace_id, done, want = rec.meta["trace_id"], ledger.setdefault(rec.id, {}), votes(rec)
        try:
            if user in done:
                mlflow.delete_assessment(trace_id=trace_id, assessment_id=done.pop(user)["assessment_id"])
            if user in want:
                fb = mlflow.log_feedback(
                    trace_id=trace_id,
                    name=FEEDBACK_NAME,
                    value=want[user] > 0,
                    source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=user),
                    rationale=f"{'👍' if want[user] > 0 else '👎'} on the plan in Slack",
                    metadata={"task_id": rec.id, "action": rec.action},
                )
                done[user] = {"value": want[user], "assessment_id": fb.assessment_id}
            changed += 1
        except Exception as exc:  # a trace from another tracking store, or gone: try next time
            log.warning("feedback on task %s not attached to trace %s: %s", rec.id, trace_id, exc)
    return changed


def export_rows(settings: Any) -> list[dict[str, Any]]:
    """👎 tasks as candidate dataset rows (``review: true``) — the plan as made, for a person to correct."""
    rows = []
    for rec in load_records(settings):
        standing = votes(rec)
        if not any(v < 0 for v in standing.values()):
            continue
        planned = {"action": rec.action, "job_settings": rec.settings, "questions": rec.questions}
        rows.append(
            {
                "id": f"feedback-{rec.id}",
                "request": rec.request,
                "review": True,
                "expected_response": {
                    "action": rec.action,
                    "job_settings": rec.settings,
                    "questions": bool(rec.questions),
                },
                **({"job_id": rec.job_id} if rec.action == "update" and rec.job_id else {}),
                "tags": ["feedback", rec.action],
                "source": {
                    "task_id": rec.id,
                    "thread": rec.thread,
                    "created_at": rec.created_at,
                    "thumbs_down": sorted(u for u, v in standing.items() if v < 0),
                    "trace_id": rec.meta.get("trace_id"),
                },
                "planned": planned,
            }
        )
    return rows
