"""The offline Tech Lead over the real parser, docs index, state, notes and emulator."""

from __future__ import annotations

import json

import pytest

from agent.cli import main
from agent.models import TaskState
from agent.tech_lead import TechLead

CREATE = (
    "run /Repos/etl/ingest then /Repos/etl/transform every weekday at 2:30am Berlin time on a small cluster, "
    "retry twice, email data-eng@example.com on failure, call it nightly-ingest"
)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("index")


@pytest.fixture
def lead(runtime, index_dir) -> TechLead:
    from retrieval import DocsIndex

    return TechLead(
        store=runtime.store,
        notes=runtime.notes,
        workspace=lambda: runtime.workspace,
        index=lambda: DocsIndex.load_or_build(cache_dir=index_dir),
    )


def plan_and_apply(runtime, lead, request, thread):
    record = runtime.worker.submit(
        lead.assign(request, thread=thread), request=request, requester="alice", thread=thread
    )
    assert record.state is TaskState.PLANNED, record.error or record.questions
    runtime.worker.approve(record.id, by="bob")
    return runtime.worker.apply(record.id)


def test_create_then_follow_up_in_thread_is_an_update_with_diff(runtime, lead):
    done = plan_and_apply(runtime, lead, CREATE, "S1")
    assert done.state is TaskState.COMPLETE
    follow = lead.assign("make it 3am instead, and also email bob@example.com", thread="S1")
    assert follow.action == "update" and follow.job_id == done.job_id
    record = runtime.worker.submit(follow, request="make it 3am", requester="alice", thread="S1")
    changes = {(c["op"], c["path"]) for c in record.plan["changes"]}
    assert changes == {("~", "schedule.quartz_cron_expression"), ("~", "email_notifications.on_failure")}
    assert "0 0 3 ? * MON-FRI" in record.plan["text"]


def test_update_by_job_id_and_by_name_keep_the_rest(runtime, lead):
    done = plan_and_apply(runtime, lead, CREATE, "S2")
    by_id = lead.assign(f"update job {done.job_id} to run at 5am")
    assert by_id.action == "update" and by_id.job_id == done.job_id
    assert by_id.settings.schedule.quartz_cron_expression == "0 0 5 ? * MON-FRI"  # weekdays kept
    assert [t.task_key for t in by_id.settings.tasks] == ["ingest", "transform"]
    by_name = lead.assign("change nightly-ingest to retry 3 times")
    assert by_name.job_id == done.job_id and all(t.max_retries == 3 for t in by_name.settings.tasks)
    missing = lead.assign("change no-such-job to run hourly")
    assert missing.settings is None and "No job is named" in missing.questions[0]


def test_question_then_reply_in_thread_continues_the_task(runtime, lead):
    first = lead.assign("set up a daily job at 6am please", thread="S3")
    record = runtime.worker.submit(
        first, request="set up a daily job at 6am please", requester="alice", thread="S3"
    )
    assert record.state is TaskState.NEEDS_INPUT and "What should the job run" in record.questions[0]
    reply = lead.assign("the notebook /Repos/etl/publish", thread="S3")
    assert reply.settings.tasks[0].notebook_task.notebook_path == "/Repos/etl/publish"
    assert reply.settings.schedule.quartz_cron_expression == "0 0 6 * * ?"
    second = runtime.worker.submit(
        reply, request="the notebook /Repos/etl/publish", requester="alice", thread="S3"
    )
    assert second.state is TaskState.PLANNED
    assert runtime.store.get(record.id).state is TaskState.SUPERSEDED


@pytest.mark.parametrize(
    ("request_text", "cited"),
    [
        ("run /Repos/etl/ingest every weekday at 2am Pacific", "schedule.quartz_cron_expression"),
        ("run /Repos/etl/ingest on a cluster that autoscales 2 to 8 workers", "autoscale"),
        (
            "run /Repos/etl/ingest daily, email ops@example.com when it fails",
            "email_notifications.on_failure",
        ),
        ("run /Repos/etl/ingest hourly, retry 3 times every 10 minutes", "max_retries"),
        ("run /Repos/etl/ingest with param env=prod daily", "base_parameters"),
        ("run /Repos/etl/ingest whenever a file lands in /Volumes/main/raw/incoming/", "file_arrival"),
    ],
)
def test_the_passage_documenting_each_family_is_cited(lead, request_text, cited):
    assignment = lead.assign(request_text)
    titles = [c.title for c in assignment.citations]
    assert any(cited in t for t in titles), titles
    assert all(c.url.startswith("https://docs.databricks.com/") for c in assignment.citations)
    assert any(cited.split(".")[0] in n for n in assignment.notes)  # explained in the plan


def test_next_run_times_shown(lead):
    assignment = lead.assign("run /Repos/etl/ingest every Sunday at 6pm Tokyo time")
    preview = next(n for n in assignment.notes if n.startswith("next runs"))
    assert preview.count("Sun") == 3 and "JST" in preview


def test_cli_plan_json_shape_and_question_exit_code(capsys):
    code = main(["plan", "run /Repos/etl/ingest daily at 2am, call it x-daily", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(data) >= {
        "task_id",
        "action",
        "job_id",
        "job_settings",
        "citations",
        "questions",
        "assumptions",
    }
    assert data["action"] == "create" and data["job_settings"]["name"] == "x-daily"
    assert {"title", "url", "score"} <= set(data["citations"][0])
    code = main(["plan", "make me a job"])
    captured = capsys.readouterr()
    assert code == 2 and "What should the job run" in captured.err


def test_limits_stated_in_the_docs_are_surfaced(lead):
    assignment = lead.assign("run /Repos/etl/ingest hourly, allow 3 concurrent runs")
    assert any(n.startswith("⚠ max_concurrent_runs") and "1000" in n for n in assignment.notes)
    assert not any("not found in the API reference" in n for n in assignment.notes)


def test_revising_an_open_update_plan_keeps_its_changes(runtime, lead):
    plan_and_apply(runtime, lead, CREATE, "S4")
    first = lead.assign("make it 3am instead", thread="S4")
    runtime.worker.submit(first, request="make it 3am instead", requester="alice", thread="S4")
    revised = lead.assign("also email bob@example.com", thread="S4")
    record = runtime.worker.submit(revised, request="also email bob", requester="alice", thread="S4")
    changes = {c["path"] for c in record.plan["changes"]}
    assert changes == {"schedule.quartz_cron_expression", "email_notifications.on_failure"}


def test_revised_plan_names_the_earlier_unapplied_requests_it_still_carries(runtime, lead):
    plan_and_apply(runtime, lead, CREATE, "S5")
    first = runtime.worker.submit(
        lead.assign("pause it", thread="S5"), request="pause it", requester="alice", thread="S5"
    )
    second = runtime.worker.submit(
        lead.assign("make it 3am instead", thread="S5"),
        request="make it 3am instead",
        requester="alice",
        thread="S5",
    )
    assert second.assumptions[0] == f"Also includes “pause it” from {first.id} (not applied)."
    third = lead.assign("also run it on saturdays too", thread="S5")
    assert third.assumptions[:2] == [
        f"Also includes “pause it” from {first.id} (not applied).",
        f"Also includes “make it 3am instead” from {second.id} (not applied).",
    ]
    schedule = third.settings.schedule
    assert schedule.pause_status.value == "PAUSED" and schedule.quartz_cron_expression.startswith("0 0 3 ")
    assert schedule.quartz_cron_expression.endswith("SAT")  # added to the days, not replacing them


def test_from_settings_loads_its_index_once(settings, runtime, monkeypatch):
    """Finding the index again means fingerprinting the corpus: done once, not once per plan."""
    from retrieval import DocsIndex

    loads = []

    def load_or_build(**kwargs):
        loads.append(kwargs)
        return DocsIndex(None, fingerprint="f", size=0, built_from_cache=False, cache_path=None)

    monkeypatch.setattr(DocsIndex, "load_or_build", staticmethod(load_or_build))
    lead = TechLead.from_settings(settings, runtime)
    assert loads == []  # nothing loaded before it is needed
    first = lead.assign(CREATE)
    assert lead._index() is lead._index() and len(loads) == 1
    assert loads[0]["cache_dir"] == settings.index_dir and first.settings is not None
