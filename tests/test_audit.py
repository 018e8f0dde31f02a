"""The audit trail: every state change of a task has its entry in the thread's note (who and why), the
history keeps every error, and an apply's note lists the API calls it made as they went over HTTP."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from databricks.sdk.service.jobs import JobSettings

from agent.errors import StalePlan
from agent.models import TaskState
from agent.specfile import assignment_from_spec, load_spec
from agent.state import TaskRecord, new_task_id, open_store
from tests.test_state_contract import BACKENDS

SPECS = Path(__file__).parent / "specs"


def submit(rt, spec: str, thread: str, job_id: int | None = None):
    assignment = assignment_from_spec(load_spec(SPECS / spec), job_id)
    assignment.assumptions = ["the cluster size stays as it is"]
    return rt.worker.submit(assignment, request=f"spec {spec}", requester="alice", thread=thread)


def entries(rt, thread: str, task_id: str) -> list[tuple[str, str]]:
    return [(e.kind, e.body) for e in rt.notes.entries(thread) if e.task_id == task_id]


def calls_of(body: str) -> list[str]:
    """The API calls an entry lists (the lines after "API calls (n):")."""
    listed = body.split("API calls (", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [line.removeprefix("- `").removesuffix("`") for line in listed]


def test_create_approve_apply_leaves_an_entry_per_transition_and_the_exact_calls(runtime, emulator):
    record = submit(runtime, "ingest.json", "A1")
    runtime.worker.approve(record.id, by="bob")
    emulator.reset_calls()
    done = runtime.worker.apply(record.id, by="bob")
    assert done.state is TaskState.COMPLETE

    noted = entries(runtime, "A1", record.id)
    assert [kind for kind, _ in noted] == ["request", "plan", "decision", "apply started", "applied"]
    assert [h["state"] for h in done.history] == ["PLANNED", "APPROVED", "IN_PROGRESS", "COMPLETE"]
    plan = noted[1][1]
    assert "Planned for **alice**" in plan and "- the cluster size stays as it is" in plan
    assert noted[3][1] == "Apply started by **bob**."
    job = done.job_id
    assert calls_of(noted[4][1]) == [
        "GET /api/2.2/jobs/list?name=nightly-ingest → 200",
        "POST /api/2.2/jobs/create → 200",
        f"GET /api/2.2/jobs/get?job_id={job} → 200",
    ]
    assert [f"{m} {p}" for m, p in emulator.calls] == [
        c.split("?")[0].split(" →")[0] for c in calls_of(noted[4][1])
    ]
    assert "token" not in noted[4][1].lower() and "Bearer" not in runtime.notes.read("A1")


def test_a_failed_apply_and_its_retry_keep_the_earlier_error(runtime, emulator):
    record = submit(runtime, "ingest.json", "A2")
    runtime.worker.approve(record.id, by="bob")
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", status=500, count=1)
    failed = runtime.worker.apply(record.id, by="bob")
    assert failed.state is TaskState.FAILED
    first_error = failed.error
    done = runtime.worker.apply(record.id, by="carol")
    assert done.state is TaskState.COMPLETE and done.error is None

    kinds = [kind for kind, _ in entries(runtime, "A2", record.id)]
    assert kinds[-4:] == ["apply started", "failed (apply)", "apply retried", "applied"]
    bodies = dict(entries(runtime, "A2", record.id))
    assert "POST /api/2.2/jobs/create → 500" in calls_of(bodies["failed (apply)"])
    assert bodies["apply retried"] == (
        f"Apply started by **carol**: retry of a failed apply; earlier error: {first_error}"
    )
    failures = [h for h in done.history if h["state"] == "FAILED"]
    assert [(h["by"], h["error"]) for h in failures] == [("bob", first_error)]
    assert all("error" not in h for h in done.history if h["state"] != "FAILED")


@pytest.fixture(params=sorted(BACKENDS))
def store(request, tmp_path):
    s = open_store(BACKENDS[request.param](tmp_path))
    yield s
    s.close()


def test_history_keeps_each_error_whatever_the_backend(store):
    rec = store.add(TaskRecord(id=new_task_id(), request="run it", requester="alice", thread="th"))
    store.transition(rec.id, TaskState.APPROVED, by="bob")
    store.transition(rec.id, TaskState.IN_PROGRESS, by="bob")
    store.transition(rec.id, TaskState.FAILED, by="bob", error="first")
    store.transition(rec.id, TaskState.IN_PROGRESS, by="bob")
    store.transition(rec.id, TaskState.FAILED, by="bob", error="second")
    store.transition(rec.id, TaskState.IN_PROGRESS, by="bob")
    got = store.transition(rec.id, TaskState.COMPLETE, by="bob", error=None)
    assert got.error is None
    assert [h.get("error") for h in got.history] == [None, None, None, "first", None, "second", None, None]
    assert all("error" not in h for h in got.history if h["state"] != "FAILED")


def test_supersede_and_reject_say_who_and_why(runtime):
    first = submit(runtime, "ingest.json", "A3")
    second = submit(runtime, "ingest.json", "A3")
    superseded = runtime.store.get(first.id)
    assert superseded.state is TaskState.SUPERSEDED
    assert superseded.history[-1] == {
        **superseded.history[-1],
        "state": "SUPERSEDED",
        "by": "alice",
        "error": f"superseded by {second.id}",
    }
    kind, body = entries(runtime, "A3", first.id)[-1]
    assert kind == "superseded" and f"Superseded by task {second.id}" in body and "**alice**" in body

    runtime.worker.reject(second.id, by="bob", reason="not this week")
    assert entries(runtime, "A3", second.id)[-1] == ("decision", "Rejected by **bob**. not this week")


def test_a_stale_apply_says_what_changed_outside(runtime, emulator):
    created = submit(runtime, "ingest.json", "A4")
    runtime.worker.approve(created.id, by="bob")
    job_id = runtime.worker.apply(created.id).job_id
    record = submit(runtime, "ingest.yml", "A4", job_id=job_id)
    runtime.worker.approve(record.id, by="bob")
    emulator.client().jobs.update(job_id, new_settings=JobSettings.from_dict({"max_concurrent_runs": 5}))

    with pytest.raises(StalePlan) as raised:
        runtime.worker.apply(record.id, by="bob")
    what = "Changed outside jobagent since the plan was made:\n  + max_concurrent_runs = 5"
    assert what in str(raised.value)
    stale = runtime.store.get(record.id)
    assert stale.state is TaskState.STALE and what in stale.error
    assert stale.history[-1]["error"] == stale.error
    kind, body = entries(runtime, "A4", record.id)[-1]
    assert kind == "stale plan" and what in body
    assert f"GET /api/2.2/jobs/get?job_id={job_id} → 200" in calls_of(body)


def test_without_the_sdks_session_the_journal_describes_each_call(emulator, monkeypatch):
    from agent import workspace

    monkeypatch.setattr(workspace, "_listen", lambda client, hook: False)  # as if the SDK changed inside
    ws = workspace.Workspace(emulator.client())
    with ws.recording() as calls:
        ws.jobs_named("nightly-ingest")
        assert ws.get_job(424242) is None
    assert calls == ["listing jobs named 'nightly-ingest' → ok", "reading job 424242 → ok"]


def test_a_refused_call_is_journaled_once_and_an_unanswered_one_says_so(emulator, monkeypatch):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    from agent import workspace

    settings = JobSettings.from_dict({"name": "gone"})
    on_the_wire = workspace.Workspace(emulator.client())
    with on_the_wire.recording() as calls, pytest.raises(workspace.WorkspaceError):
        on_the_wire.reset_job(424242, settings)
    assert len(calls) == 1 and calls[0].startswith("POST /api/2.2/jobs/reset → 4"), calls

    monkeypatch.setattr(workspace, "_listen", lambda client, hook: False)
    described = workspace.Workspace(emulator.client())
    with described.recording() as calls, pytest.raises(workspace.WorkspaceError):
        described.reset_job(424242, settings)
    assert calls == ["updating job 424242 → InvalidParameterValue"], calls

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    monkeypatch.undo()
    config = Config(host=f"http://127.0.0.1:{port}", token="t", auth_type="pat", retry_timeout_seconds=1)
    unreachable = workspace.Workspace(WorkspaceClient(config=config))
    with unreachable.recording() as calls, pytest.raises(workspace.WorkspaceError, match="did not answer"):
        unreachable.get_job(5)
    assert len(calls) == 1 and calls[0].startswith("(no answer while reading job 5: "), calls
