"""What is approved is what runs: the plan shows every difference, updates go through the partial
`jobs/update` (so untouched fields survive), the job read back equals the plan, and faults never make
two jobs or a false "stale". Real databricks-sdk over a socket to the emulator throughout."""

from __future__ import annotations

import copy
import socket

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config
from databricks.sdk.service.jobs import JobSettings

from agent.config import Settings
from agent.errors import ConfigError
from agent.models import Assignment, TaskState
from agent.workspace import TASK_TAG, Workspace

BASE = {
    "name": "parity",
    "tasks": [
        {
            "task_key": "check",
            "condition_task": {"op": "EQUAL_TO", "left": "{{job.parameters.mode}}", "right": "full"},
        },
        {
            "task_key": "full_load",
            "depends_on": [{"task_key": "check", "outcome": "true"}],
            "notebook_task": {"notebook_path": "/Repos/etl/ingest"},
            "job_cluster_key": "main",
        },
        {
            "task_key": "delta_load",
            "depends_on": [{"task_key": "check", "outcome": "false"}],
            "notebook_task": {"notebook_path": "/Repos/etl/transform"},
            "job_cluster_key": "main",
        },
    ],
    "job_clusters": [
        {
            "job_cluster_key": "main",
            "new_cluster": {
                "spark_version": "15.4.x-scala2.12",
                "node_type_id": "i3.xlarge",
                "num_workers": 2,
            },
        }
    ],
    "parameters": [{"name": "mode", "default": "full"}],
    "edit_mode": "UI_LOCKED",
    "description": "loads either everything or the changes",
}


def run(rt, settings: dict, job_id: int | None = None, thread: str = "T1"):
    """Plan, approve and apply `settings` (a create, or an update of `job_id`) like `jobagent plan --file`."""
    assignment = Assignment(
        settings=JobSettings.from_dict(settings), action="update" if job_id else "create", job_id=job_id
    )
    record = rt.worker.submit(assignment, request="spec", requester="alice", thread=thread)
    assert record.state is TaskState.PLANNED, record.error
    rt.worker.approve(record.id, by="bob")
    return record, rt.worker.apply(record.id)


def stored(emulator, job_id: int) -> dict:
    return emulator.client().jobs.get(job_id).settings.as_dict()


def update_calls(emulator) -> list[tuple[str, str]]:
    return [c for c in emulator.calls if c[1].startswith(("/api/2.2/jobs/update", "/api/2.2/jobs/reset"))]


@pytest.fixture
def job(runtime):
    _, done = run(runtime, BASE, thread="T0")
    assert done.state is TaskState.COMPLETE
    return done


def test_swapping_condition_outcomes_is_planned_and_applied(runtime, emulator, job):
    wanted = copy.deepcopy(BASE)
    wanted["tasks"][1]["depends_on"][0]["outcome"] = "false"
    wanted["tasks"][2]["depends_on"][0]["outcome"] = "true"
    emulator.reset_calls()
    record, done = run(runtime, wanted, job.job_id)
    paths = [c["path"] for c in record.plan["changes"]]
    assert paths == ['tasks["delta_load"].depends_on', 'tasks["full_load"].depends_on']
    assert 'jobs/update (sets tasks["delta_load"], tasks["full_load"])' in record.plan["text"]
    assert done.state is TaskState.COMPLETE and "differs_from_plan" not in done.steps[0]["result"]
    tasks = {t["task_key"]: t for t in stored(emulator, job.job_id)["tasks"]}
    assert tasks["full_load"]["depends_on"] == [{"task_key": "check", "outcome": "false"}]
    assert [c[1] for c in update_calls(emulator)] == ["/api/2.2/jobs/update"]


def test_fields_left_out_are_shown_removed_and_removed(runtime, emulator, job):
    wanted = {k: v for k, v in BASE.items() if k not in ("edit_mode", "description")}
    record, done = run(runtime, wanted, job.job_id)
    got = [(c["op"], c["path"]) for c in record.plan["changes"]]
    assert got == [("-", "description"), ("-", "edit_mode")]
    assert "removes description, edit_mode" in record.plan["text"]
    after = stored(emulator, job.job_id)
    assert "edit_mode" not in after and "description" not in after
    assert done.state is TaskState.COMPLETE


def test_update_keeps_fields_jobagent_does_not_model(runtime, emulator, job):
    # A field only newer API versions know: the SDK drops it when reading, so jobagent never sees it.
    with emulator.store.transaction():
        emulator.store.data["jobs"][str(job.job_id)]["settings"]["future_field"] = {"keep": "me"}
        emulator.store.mark_dirty()
    wanted = copy.deepcopy(BASE)
    wanted["tasks"][1]["max_retries"] = 3
    record, done = run(runtime, wanted, job.job_id)
    assert [c["path"] for c in record.plan["changes"]] == ['tasks["full_load"].max_retries']
    assert done.state is TaskState.COMPLETE
    with emulator.store.transaction():
        assert emulator.store.data["jobs"][str(job.job_id)]["settings"]["future_field"] == {"keep": "me"}


def test_emptied_tags_and_lists_clear_them(runtime, emulator, job):
    wanted = copy.deepcopy(BASE) | {"tags": {}, "parameters": [], "email_notifications": {"on_failure": []}}
    wanted["tasks"][0]["condition_task"]["left"] = "full"
    record, done = run(runtime, wanted, job.job_id)
    assert ("-", 'parameters["mode"].default') in [(c["op"], c["path"]) for c in record.plan["changes"]]
    after = stored(emulator, job.job_id)
    assert "parameters" not in after
    assert after["tags"] == {TASK_TAG: job.id}  # the provenance tag stays
    assert done.state is TaskState.COMPLETE and "differs_from_plan" not in done.steps[0]["result"]


def test_read_back_difference_is_recorded_never_passed_over(runtime, emulator, job):
    from agent.models import Step

    # As if the workspace had normalised a value on write: what it stores is not what was planned.
    record = runtime.store.get(job.id)
    planned = runtime.worker.desired_settings(record, None) | {"max_concurrent_runs": 4}
    step = Step("update_job", "x")
    runtime.worker._check_result(record, step, job.job_id, planned)
    assert step.result["differs_from_plan"] == ["max_concurrent_runs: planned 4, stored (unset)"]
    assert "stored the job differently from the plan" in runtime.notes.read(record.thread)


def approved_update(rt, job_id: int, **fields):
    """An approved, not yet applied, update of the BASE job with these top-level fields changed."""
    wanted = copy.deepcopy(BASE) | fields
    assignment = Assignment(settings=JobSettings.from_dict(wanted), action="update", job_id=job_id)
    record = rt.worker.submit(assignment, request="spec", requester="alice", thread=f"T-{job_id}-{fields}")
    return rt.worker.approve(record.id, by="bob")


def test_resume_recognises_its_own_update_after_a_crash(runtime, emulator, job):
    record = approved_update(runtime, job.job_id, max_concurrent_runs=3)
    runtime.store.transition(record.id, TaskState.IN_PROGRESS, by="worker", expect=TaskState.APPROVED)
    # The update landed, then the process died before it could record the step.
    emulator.client().jobs.update(job.job_id, new_settings=JobSettings(max_concurrent_runs=3))
    emulator.reset_calls()
    done = runtime.worker.apply(record.id, resume=True)
    assert done.state is TaskState.COMPLETE
    assert done.steps[0]["result"]["already_applied"] is True
    assert update_calls(emulator) == []


def test_a_different_outside_change_still_makes_the_plan_stale(runtime, emulator, job):
    from agent.errors import StalePlan

    record = approved_update(runtime, job.job_id, max_concurrent_runs=3)
    emulator.client().jobs.update(job.job_id, new_settings=JobSettings(max_concurrent_runs=7))
    with pytest.raises(StalePlan):
        runtime.worker.apply(record.id)
    assert runtime.store.get(record.id).state is TaskState.STALE


def test_job_with_more_than_a_page_of_tasks_updates_one_task(runtime, emulator):
    tasks = [
        {
            "task_key": f"t{i:03}",
            "notebook_task": {"notebook_path": "/Repos/etl/ingest"},
            "job_cluster_key": "main",
        }
        for i in range(150)
    ]
    big = {"name": "big", "tasks": tasks, "job_clusters": BASE["job_clusters"]}
    _, created = run(runtime, big, thread="T4")
    wanted = copy.deepcopy(big)
    wanted["tasks"][140]["max_retries"] = 2
    record, done = run(runtime, wanted, created.job_id, thread="T5")
    assert [c["path"] for c in record.plan["changes"]] == ['tasks["t140"].max_retries']
    assert done.state is TaskState.COMPLETE
    with emulator.store.transaction():
        assert len(emulator.store.data["jobs"][str(created.job_id)]["settings"]["tasks"]) == 150


def _slow_create(runtime, emulator, latency: float, settle: float):
    assignment = Assignment(settings=JobSettings.from_dict(BASE))
    record = runtime.worker.submit(assignment, request="spec", requester="alice", thread="T6")
    runtime.worker.approve(record.id, by="bob")
    # The create lands `latency` s later; the client gives up after 1 s. The SDK would re-send it.
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", latency=latency, count=1)
    runtime.worker._workspace = Workspace(emulator.client(http_timeout_seconds=1, retry_timeout_seconds=20))
    runtime.worker.settle_seconds = settle
    emulator.reset_calls()
    return record, runtime.worker.apply(record.id)


def tagged(emulator, task_id: str) -> list[int]:
    return [
        j["job_id"]
        for j in emulator.jobs_snapshot()
        if j["settings"].get("tags", {}).get(TASK_TAG) == task_id
    ]


def test_create_that_times_out_is_never_sent_twice_and_is_adopted(runtime, emulator):
    record, done = _slow_create(runtime, emulator, latency=2.5, settle=15)
    assert emulator.wait_idle()
    assert done.state is TaskState.COMPLETE
    assert tagged(emulator, record.id) == [done.job_id]
    assert [c for c in emulator.calls if c[1] == "/api/2.2/jobs/create"] == [("POST", "/api/2.2/jobs/create")]


def test_create_still_unanswered_fails_clearly_and_a_retry_adopts_it(runtime, emulator):
    record, failed = _slow_create(runtime, emulator, latency=4.5, settle=0.1)
    assert failed.state is TaskState.FAILED
    assert "may still be created" in failed.error and "Apply again" in failed.error
    assert emulator.wait_idle()  # the first create lands late
    done = runtime.worker.apply(record.id)
    assert done.state is TaskState.COMPLETE and done.steps[0]["result"]["adopted"] is True
    assert tagged(emulator, record.id) == [done.job_id]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_workspace_reports_quickly_what_to_check(runtime):
    config = Config(
        host=f"http://127.0.0.1:{_closed_port()}",
        token="x",
        auth_type="pat",
        retry_timeout_seconds=1,
        http_timeout_seconds=1,
    )
    ws = Workspace(WorkspaceClient(config=config), "down")
    runtime.worker._workspace = ws
    assignment = Assignment(settings=JobSettings.from_dict(BASE), action="update", job_id=1)
    record = runtime.worker.submit(assignment, request="spec", requester="alice", thread="T7")
    assert record.state is TaskState.FAILED
    assert "did not answer" in record.error and "DATABRICKS_HOST" in record.error
    assert "JOBAGENT_DATABRICKS_TIMEOUT" in record.error
    assert ws._down is not None  # later calls fail at once instead of waiting out the budget again
    with pytest.raises(Exception, match="did not answer"):
        ws.path_exists("/Repos/etl/ingest")


@pytest.mark.parametrize("raw, ok", [("5", 5), ("", 20), ("0", None), ("soon", None)])
def test_databricks_timeout_setting(raw, ok):
    env = {"JOBAGENT_DATABRICKS_TIMEOUT": raw}
    if ok is None:
        with pytest.raises(ConfigError, match="JOBAGENT_DATABRICKS_TIMEOUT"):
            Settings.from_env(env)
    else:
        assert Settings.from_env(env).databricks_timeout == ok
