"""Evaluation: @metric through mlflow.models.evaluate, the genai scorer adapter, feedback on traces,
the monitor's once-per-incident alert on the Slack stand-in, the CI gate, and feedback export.

MLflow's import and sqlite set-up are slow, so the module shares one tracking store, one docs index
and one evaluation run; datasets here are a few rows written in this file.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config import Settings
from agent.evaluation import Assessment, metric
from agent.evaluation.metrics import normalize
from agent.state import TaskRecord, TaskStore, open_store

ROWS = [
    {
        "id": "chain",
        "request": "run /Repos/etl/ingest then /Repos/etl/transform every weekday at 2:30am Berlin time, "
        "retry twice, email data-eng@example.com on failure, call it nightly-ingest",
        "expected_response": {
            "action": "create",
            "job_settings": {
                "name": "nightly-ingest",
                "schedule": {"quartz_cron_expression": "0 30 2 ? * MON-FRI", "timezone_id": "Europe/Berlin"},
                "email_notifications": {"on_failure": ["data-eng@example.com"]},
            },
        },
        "expected_retrieved_context": [{"title": "(schedule.quartz_cron_expression)"}],
        "custom_expected": {"name": "nightly-ingest", "min_citations": 3},
    },
    {
        "id": "hourly",
        "request": "run /Repos/etl/poll hourly",
        "expected_response": {"action": "create", "job_settings": {"name": "wrong-name-on-purpose"}},
        "custom_expected": {"name": "hourly-poller", "min_citations": 50},
    },
    {
        "id": "ask",
        "request": "create a job that runs every day at 5am",
        "expected_response": {"questions": True},
    },
]


@metric
def names_the_job(response, custom_expected):
    """yes/no: the job is named as the row expects."""
    if not custom_expected or not response["job_settings"]:
        return None
    return "yes" if response["job_settings"]["name"] == custom_expected["name"] else "no"


@metric
def span_count(trace):
    """A number read from the row's MLflow trace."""
    return len(trace.data.spans)


@metric
def traced_the_request(request, trace):
    """A bool: the trace's root span recorded this request as its input."""
    root = next(s for s in trace.data.spans if s.parent_id is None)
    return root.inputs["request"] == request


@metric
def cites_enough(retrieved_context, custom_expected):
    """Pass/fail with a rationale."""
    if not custom_expected:
        return None
    n, want = len(retrieved_context), custom_expected["min_citations"]
    return Assessment(value=n >= want, rationale=f"{n} citations, wanted {want}")


USER_METRICS = [names_the_job, span_count, traced_the_request, cites_enough]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One tracking store, docs index and settings for the module (the slow parts, done once)."""
    root = tmp_path_factory.mktemp("evaluation")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JOBAGENT_LLM", "off")
        from retrieval import DocsIndex

        (root / "home").mkdir()
        settings = Settings.from_env({"JOBAGENT_HOME": str(root / "home"), "JOBAGENT_USER": "tester"})
        index = DocsIndex.load_or_build(cache_dir=settings.index_dir)
        dataset = root / "tiny.jsonl"
        dataset.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
        yield {
            "uri": f"sqlite:///{root / 'mlflow.db'}",
            "index": lambda: index,
            "dataset": dataset,
            "settings": settings,
            "home": root / "home",
        }


@pytest.fixture(scope="module")
def evaluated(shared):
    from agent.evaluation.runner import run_evaluation

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JOBAGENT_LLM", "off")
        return run_evaluation(
            shared["settings"],
            dataset=shared["dataset"],
            extra_metrics=USER_METRICS,
            tracking=shared["uri"],
            index=shared["index"],
        )


def test_metric_return_types_normalize():
    assert (normalize("Yes").score, normalize("no").score) == (1.0, 0.0)
    assert normalize(True).kind == normalize("yes").kind == "pass_fail"
    assert normalize(0.25).score == 0.25 and normalize(3).kind == "numeric"
    assert normalize((False, "why")).rationale == "why"
    assert normalize(Assessment(0.5, "half")).rationale == "half"
    assert normalize(None).score is None
    with pytest.raises(ValueError):
        normalize("maybe")
    with pytest.raises(TypeError, match="not an evaluation row field"):
        metric(lambda answer: 1.0)


def test_user_metrics_of_each_type_reach_the_mlflow_run(evaluated):
    import mlflow

    metrics = mlflow.MlflowClient().get_run(evaluated.run_id).data.metrics
    assert metrics["names_the_job/pass_rate"] == 0.5  # chain yes, hourly no, ask not applicable
    assert metrics["traced_the_request/pass_rate"] == 1.0  # bool, on every row, from the trace
    assert metrics["cites_enough/pass_rate"] == 0.5  # Assessment with rationale
    assert metrics["span_count/mean"] >= 3 and "span_count/p90" in metrics  # root + validate + searches
    assert metrics["field_accuracy/mean"] == pytest.approx((1.0 + 0.0) / 2)
    assert metrics["asks_when_needed/pass_rate"] == 1.0
    hourly = next(r for r in evaluated.rows if r.row.id == "hourly")
    assert hourly.results["cites_enough"].rationale.endswith("wanted 50")
    assert all(r.trace_id for r in evaluated.rows)
    trace = mlflow.get_trace(hourly.trace_id)
    assert {"tech_lead.assign", "worker.validate", "docs.search"} <= {s.name for s in trace.data.spans}


def test_metric_runs_as_a_genai_scorer(evaluated):
    import mlflow

    from agent.evaluation import as_scorer
    from agent.evaluation.adapters import genai_rows

    result = mlflow.genai.evaluate(
        data=genai_rows([r.fields for r in evaluated.rows]),
        scorers=[as_scorer(names_the_job), as_scorer(cites_enough)],
    )
    assert result.metrics["names_the_job/mean"] == pytest.approx(0.5)
    assert result.metrics["cites_enough/mean"] == pytest.approx(0.5)


def _vote(store: TaskStore, task_id: str, user: str, value: int, action: str = "added") -> None:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store.add_feedback(
        task_id,
        {
            "user": user,
            "message_ts": "1.0",
            "value": value,
            "reaction": "+1" if value > 0 else "-1",
            "action": action,
            "at": at,
        },
    )


def test_feedback_reaches_the_plans_trace(shared, settings, tmp_path):
    import mlflow

    from agent.evaluation import sync_feedback, trace_plan
    from agent.notes import NoteBook
    from agent.tech_lead import TechLead

    store = open_store(settings.state_path)
    lead = TechLead(store=store, notes=NoteBook(tmp_path / "notes"), index=shared["index"])
    request = "run /Repos/etl/ingest daily at 2am"
    assignment, trace_id = trace_plan(settings, lead, request, tracking=shared["uri"])
    assert trace_id and assignment.settings is not None
    record = store.add(
        TaskRecord(
            id="t-feedback",
            request=request,
            requester="alice",
            thread="T1",
            settings=assignment.settings.as_dict(),
            meta={"trace_id": trace_id},
        )
    )
    _vote(store, record.id, "U1", -1)
    assert sync_feedback(settings, shared["uri"]) == 1

    def user_feedback():
        found = [a for a in mlflow.get_trace(trace_id).info.assessments if a.name == "user_feedback"]
        return [(a.source.source_type, a.source.source_id, a.value) for a in found]

    assert user_feedback() == [("HUMAN", "U1", False)]
    _vote(store, record.id, "U1", -1, action="removed")  # a changed mind replaces the assessment
    _vote(store, record.id, "U1", 1)
    assert sync_feedback(settings, shared["uri"]) == 1
    assert user_feedback() == [("HUMAN", "U1", True)]
    assert sync_feedback(settings, shared["uri"]) == 0  # nothing new: nothing posted twice


def test_monitor_alerts_once_per_incident(shared, settings):
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    from agent.evaluation.monitor import JOB_ID, MonitorOptions, start_monitor
    from agent.evaluation.rules import Threshold
    from bot.alerts import slack_poster
    from standins.slack import SlackStandIn

    options = MonitorOptions(
        dataset=str(shared["dataset"]),
        tracking=shared["uri"],
        index=shared["index"],
        thresholds={"field_accuracy": Threshold("field_accuracy", 0.9)},  # the tiny dataset scores 0.5
    )
    ticks: list[int] = []
    done = threading.Condition()

    def count(event) -> None:
        with done:
            ticks.append(event.code)
            done.notify_all()

    def run_tick(scheduler, n: int) -> None:
        scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
        with done:
            assert done.wait_for(lambda: len(ticks) >= n, timeout=60), "monitor tick did not run"

    with SlackStandIn() as slack:
        env = {
            "JOBAGENT_ALERT_CHANNEL": "C0ALERTS",
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.url,
        }
        scheduler = start_monitor(settings, slack_poster(env), interval=60, options=options)
        scheduler.add_listener(count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        try:
            run_tick(scheduler, 1)
            run_tick(scheduler, 2)
        finally:
            scheduler.shutdown()
        assert ticks == [EVENT_JOB_EXECUTED, EVENT_JOB_EXECUTED]
        posts = slack.wait_for("chat.postMessage", 1)
        assert len(slack.received("chat.postMessage")) == 1
        assert posts[0]["channel"] == "C0ALERTS" and "field_accuracy/mean" in posts[0]["text"]
    incidents = json.loads((Path(settings.home) / "monitor_incidents.json").read_text())
    assert incidents["open"]["field_accuracy/mean"]["notified"] is True


def test_eval_command_fails_under_a_threshold(shared, monkeypatch, tmp_path, capsys):
    from agent.cli import main

    home = tmp_path / "home"
    home.mkdir()
    (home / "index").symlink_to(shared["settings"].index_dir)  # the module's docs index, not a rebuild
    monkeypatch.setenv("JOBAGENT_HOME", str(home))
    extra = tmp_path / "my_metrics.py"
    extra.write_text(
        "from agent.evaluation import metric\n\n@metric\ndef short_request(request):\n"
        "    return len(request) < 40\n"
    )
    argv = [
        "eval",
        "--dataset",
        str(shared["dataset"]),
        "--tracking-uri",
        shared["uri"],
        "--no-progress",
        "--metrics",
        str(extra),
    ]
    assert main([*argv, "--threshold", "field_accuracy=0.99"]) == 1
    out, err = capsys.readouterr()
    assert "short_request/pass_rate" in out and "FAIL field_accuracy/mean = 0.500" in err
    assert main([*argv, "--threshold", "field_accuracy=0.4"]) == 0


def test_feedback_export_turns_thumbs_down_into_review_rows(settings, capsys):
    from agent.cli import main

    store = open_store(settings.state_path)
    for task_id, votes in (("t-down", [-1]), ("t-up", [1]), ("t-undone", [-1, 0])):
        store.add(
            TaskRecord(
                id=task_id,
                request=f"request of {task_id}",
                requester="alice",
                thread=task_id,
                settings={"name": task_id, "tasks": []},
            )
        )
        for v in votes:
            _vote(store, task_id, "U1", v or -1, action="removed" if v == 0 else "added")
    assert main(["feedback", "export"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["feedback-t-down"]
    assert rows[0]["review"] is True and rows[0]["request"] == "request of t-down"
    assert rows[0]["planned"]["job_settings"] == {"name": "t-down", "tasks": []}
    assert rows[0]["source"]["thumbs_down"] == ["U1"]


def test_report_embeds_the_metric_history_chart(shared, evaluated, tmp_path, capsys):
    from agent.cli import main

    out = tmp_path / "report"
    assert main(["report", "--out", str(out), "--tracking-uri", shared["uri"]]) == 0
    page = (out / "report.html").read_text()
    assert 'src="data:image/png;base64,' in page and evaluated.run_id in page
    assert (out / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert "field_accuracy/mean" in (out / "report.md").read_text()
