"""The Worker end to end: real databricks-sdk over a socket to the local emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import IllegalTransition, StalePlan
from agent.models import TaskState
from agent.specfile import assignment_from_spec, load_spec
from agent.workspace import TASK_TAG

SPECS = Path(__file__).parent / "specs"


def submit(rt, spec: str, job_id: int | None = None, thread: str = "T1", **kw):
    assignment = assignment_from_spec(load_spec(SPECS / spec), job_id)
    return rt.worker.submit(assignment, request=f"spec {spec}", requester="alice", thread=thread, **kw)


def create_job(rt):
    record = submit(rt, "ingest.json")
    rt.worker.approve(record.id, by="bob")
    return rt.worker.apply(record.id)


def test_create_plans_applies_and_records(runtime, emulator):
    record = submit(runtime, "ingest.json")
    assert record.state is TaskState.PLANNED
    text = record.plan["text"]
    assert 'create job "nightly-ingest"' in text
    assert '+ tasks["ingest"].notebook_task.notebook_path = "/Repos/etl/ingest"' in text
    assert '+ tasks["transform"].depends_on = ["ingest"]' in text
    assert "Plan: " in text and "0 to change, 0 to remove" in text

    with pytest.raises(IllegalTransition, match="Approve it first"):
        runtime.worker.apply(record.id)
    runtime.worker.approve(record.id, by="bob")
    done = runtime.worker.apply(record.id)

    assert done.state is TaskState.COMPLETE
    jobs = emulator.jobs_snapshot()
    assert len(jobs) == 1 and jobs[0]["job_id"] == done.job_id
    assert jobs[0]["settings"]["tags"][TASK_TAG] == record.id
    note = runtime.notes.read("T1")
    for expected in ("· request ·", "· plan ·", "Approved by **bob**", "· applied ·", f"Job {done.job_id}"):
        assert expected in note
    kinds = [e.kind for e in runtime.notes.entries("T1")]
    assert kinds == ["request", "plan", "decision", "apply started", "applied"]


def test_update_shows_field_level_diff_and_applies(runtime, emulator):
    created = create_job(runtime)
    record = submit(runtime, "ingest.yml", job_id=created.job_id)
    changes = {(c["op"], c["path"]) for c in record.plan["changes"]}
    assert changes == {
        ("~", "schedule.quartz_cron_expression"),
        ("~", "email_notifications.on_failure"),
        ("+", "timeout_seconds"),
    }, record.plan["text"]
    assert (
        '~ schedule.quartz_cron_expression: "0 0 2 ? * MON-FRI" → "0 0 3 ? * MON-FRI"' in record.plan["text"]
    )
    runtime.worker.approve(record.id, by="bob")
    done = runtime.worker.apply(record.id)
    assert done.state is TaskState.COMPLETE
    job = emulator.client().jobs.get(created.job_id)
    assert job.settings.schedule.quartz_cron_expression == "0 0 3 ? * MON-FRI"
    assert job.settings.tags[TASK_TAG] == created.id  # provenance kept across updates
    assert len(emulator.jobs_snapshot()) == 1


def test_unchanged_job_plans_no_changes(runtime):
    created = create_job(runtime)
    record = submit(runtime, "ingest.json", job_id=created.job_id)
    assert record.plan["changes"] == []
    assert "No changes" in record.plan["text"]


def test_stale_plan_is_refused(runtime, emulator):
    created = create_job(runtime)
    record = submit(runtime, "ingest.yml", job_id=created.job_id)
    runtime.worker.approve(record.id, by="bob")
    # Someone edits the job in the UI after the plan was shown.
    emulator.client().jobs.update(created.job_id, new_settings=_settings(max_concurrent_runs=5))
    with pytest.raises(StalePlan, match="stale"):
        runtime.worker.apply(record.id)
    assert runtime.store.get(record.id).state is TaskState.STALE
    job = emulator.client().jobs.get(created.job_id)
    assert job.settings.schedule.quartz_cron_expression == "0 0 2 ? * MON-FRI"  # nothing applied
    assert "stale" in runtime.notes.read("T1")


def _settings(**fields):
    from databricks.sdk.service.jobs import JobSettings

    return JobSettings.from_dict(fields)


def test_validation_failures_are_all_reported(runtime):
    record = submit(runtime, "broken.json")
    assert record.state is TaskState.FAILED
    assert "cycle" in record.error and "a → b → a" in record.error
    assert "Validation failed" in runtime.notes.read("T1")


def test_workspace_prerequisites_are_checked(runtime, tmp_path):
    spec = load_spec(SPECS / "ingest.json")
    spec["tasks"][0]["notebook_task"]["notebook_path"] = "/Repos/etl/missing"
    spec["job_clusters"][0]["new_cluster"]["node_type_id"] = "z9.gigantic"
    assignment = assignment_from_spec(spec)
    record = runtime.worker.submit(assignment, request="x", requester="alice", thread="T2")
    assert record.state is TaskState.FAILED
    assert "notebook /Repos/etl/missing does not exist" in record.error
    assert "Node type 'z9.gigantic' is not available" in record.error
    assert "does not exist" in runtime.notes.read("T2")


def test_duplicate_name_is_refused(runtime):
    create_job(runtime)
    record = submit(runtime, "ingest.json", thread="T3")
    assert record.state is TaskState.FAILED
    assert "A job named 'nightly-ingest' already exists" in record.error


def test_update_of_missing_job_fails_clearly(runtime):
    record = submit(runtime, "ingest.json", job_id=999999)
    assert record.state is TaskState.FAILED
    assert "Job 999999 does not exist" in record.error


def test_429_is_retried_and_500_is_reported_then_retry_creates_once(runtime, emulator):
    record = submit(runtime, "ingest.json")
    runtime.worker.approve(record.id, by="bob")
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", status=429, count=1, retry_after=1)
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", status=500, count=1)
    failed = runtime.worker.apply(record.id)
    assert failed.state is TaskState.FAILED
    assert "server error" in failed.error and "apply again" in failed.error
    assert emulator.jobs_snapshot() == []
    done = runtime.worker.apply(record.id)
    assert done.state is TaskState.COMPLETE
    assert len(emulator.jobs_snapshot()) == 1


def test_create_resent_by_sdk_after_timeout_leaves_one_job(runtime, emulator):
    from agent.workspace import Workspace

    record = submit(runtime, "ingest.json")
    runtime.worker.approve(record.id, by="bob")
    # The first create is processed after the client gave up waiting; the SDK re-sends it.
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", latency=1.5, count=1)
    impatient = emulator.client(http_timeout_seconds=1, retry_timeout_seconds=20)
    runtime.worker._workspace = Workspace(impatient, "impatient")
    done = runtime.worker.apply(record.id)
    assert done.state is TaskState.COMPLETE
    assert emulator.wait_idle()
    jobs = [j for j in emulator.jobs_snapshot() if j["settings"]["tags"].get(TASK_TAG) == record.id]
    assert [j["job_id"] for j in jobs] == [done.job_id]


def test_run_now_step(runtime, emulator):
    assignment = assignment_from_spec(load_spec(SPECS / "ingest.json"))
    record = runtime.worker.submit(assignment, request="x", requester="alice", thread="T4", run_now=True)
    assert [s["kind"] for s in record.plan["steps"]] == ["create_job", "run_now"]
    runtime.worker.approve(record.id, by="bob")
    done = runtime.worker.apply(record.id)
    assert done.steps[1]["result"]["run_id"] > 0


def test_rejected_task_cannot_be_applied(runtime, emulator):
    record = submit(runtime, "ingest.json")
    runtime.worker.reject(record.id, by="bob", reason="not now")
    with pytest.raises(IllegalTransition):
        runtime.worker.apply(record.id)
    assert emulator.jobs_snapshot() == []
    assert "Rejected by **bob**. not now" in runtime.notes.read("T1")


def test_new_request_in_thread_supersedes_open_plan(runtime):
    first = submit(runtime, "ingest.json")
    submit(runtime, "ingest.json")
    assert runtime.store.get(first.id).state is TaskState.SUPERSEDED


def test_failed_run_step_is_retried_without_redoing_the_update(runtime, emulator):
    created = create_job(runtime)
    assignment = assignment_from_spec(load_spec(SPECS / "ingest.yml"), created.job_id)
    record = runtime.worker.submit(assignment, request="x", requester="alice", thread="T5", run_now=True)
    runtime.worker.approve(record.id, by="bob")
    emulator.faults.add(path_prefix="/api/2.2/jobs/run-now", status=500, count=1)
    failed = runtime.worker.apply(record.id)
    assert failed.state is TaskState.FAILED and "starting a run" in failed.error
    emulator.reset_calls()
    done = runtime.worker.apply(record.id)  # not stale: the only change since the plan is our own
    assert done.state is TaskState.COMPLETE
    assert not any(c[1].startswith("/api/2.2/jobs/reset") for c in emulator.calls)
    assert done.steps[1]["result"]["run_id"] > 0


class BrokenPolicies:
    """An extension with a bug: the Worker must record a failure, not leave the task half-done."""

    def problems(self, settings):
        raise KeyError("policy bug")


def test_unexpected_errors_leave_consistent_state(runtime, emulator):
    runtime.worker.policies = BrokenPolicies()
    record = submit(runtime, "ingest.json")
    assert record.state is TaskState.FAILED and "Internal error (KeyError" in record.error
    runtime.worker.policies = None
    record = submit(runtime, "ingest.json", thread="T6")
    runtime.worker.approve(record.id, by="bob")
    runtime.worker.policies = BrokenPolicies()
    failed = runtime.worker.apply(record.id)
    assert failed.state is TaskState.FAILED and "apply again" in failed.error
    assert "Internal error" in runtime.notes.read("T6")
    runtime.worker.policies = None
    assert runtime.worker.apply(record.id).state is TaskState.COMPLETE
    assert len(emulator.jobs_snapshot()) == 1


def test_a_plan_the_store_cannot_save_leaves_the_thread_as_it_was(runtime):
    from agent.errors import StateWriteFailed
    from agent.state_tinydb import TinyStore

    first = submit(runtime, "ingest.json")
    store = runtime.store

    class DiskFull(TinyStore):
        def _insert(self, record):
            raise StateWriteFailed(self.root, OSError(28, "No space left on device"))

    runtime.worker.store = DiskFull(store.given)
    with pytest.raises(StateWriteFailed, match="No space left"):
        submit(runtime, "ingest.yml")
    assert [(t.id, t.state) for t in store.find(thread="T1")] == [(first.id, TaskState.PLANNED)]
    note = runtime.notes.read("T1")
    assert "not saved" in note and "Nothing was planned; ask again." in note
