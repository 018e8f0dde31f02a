"""Drift: an update plan for a job jobagent applied says first, and apart from the requested changes,
what was changed on the job outside jobagent since that apply."""

from __future__ import annotations

from pathlib import Path

from databricks.sdk.service.jobs import JobSettings

from agent.diff import fingerprint
from agent.models import FieldChange, Plan, TaskState
from agent.specfile import assignment_from_spec, load_spec

SPECS = Path(__file__).parent / "specs"


def submit(rt, spec: dict, job_id: int | None = None):
    assignment = assignment_from_spec(spec, job_id)
    return rt.worker.submit(assignment, request="spec", requester="alice", thread="D1")


def applied(rt, record):
    rt.worker.approve(record.id, by="bob")
    done = rt.worker.apply(record.id, by="bob")
    assert done.state is TaskState.COMPLETE, done.error
    return done


def outside(emulator, job_id: int, **fields) -> None:
    """A change made in the Databricks UI or API, not through jobagent."""
    emulator.client().jobs.update(job_id, new_settings=JobSettings.from_dict(fields))


def test_outside_change_is_shown_first_and_apart_and_a_revert_is_marked(runtime, emulator):
    created = applied(runtime, submit(runtime, load_spec(SPECS / "ingest.json")))
    job_id = created.job_id
    kept = created.meta["applied"]
    assert kept["fingerprint"] == fingerprint(kept["settings"]) and kept["at"]
    outside(emulator, job_id, max_concurrent_runs=5)

    keeping = {**load_spec(SPECS / "ingest.yml"), "max_concurrent_runs": 5}
    emulator.reset_calls()
    plan = Plan.from_dict(submit(runtime, keeping, job_id).plan)
    assert [p for _, p in emulator.calls].count("/api/2.2/jobs/get") == 1  # the read plan already makes
    assert plan.drift == [FieldChange("+", "max_concurrent_runs", None, 5)]
    assert plan.drift_since and plan.drift_since["task"] == created.id and plan.base is not None
    lines = plan.text.splitlines()
    assert lines[0].startswith(
        f"⚠ Job {job_id} was changed outside jobagent since task {created.id} applied it ("
    )
    assert lines[1] == "      + max_concurrent_runs = 5"
    requested = plan.text.split("Task ", 1)[1]
    assert "max_concurrent_runs" not in requested and "outside change" not in requested
    assert "schedule.quartz_cron_expression" in requested

    reverting = load_spec(SPECS / "ingest.yml")  # the spec file as it was: no max_concurrent_runs
    record = submit(runtime, reverting, job_id)
    assert "      - max_concurrent_runs = 5 (reverts an outside change)" in record.plan["text"]

    done = applied(runtime, record)  # what it left is the new baseline: nothing changed outside since
    assert done.meta["applied"]["fingerprint"] == fingerprint(
        emulator.client().jobs.get(job_id).settings.as_dict()
    )
    again = Plan.from_dict(submit(runtime, reverting, job_id).plan)
    assert again.drift == [] and again.drift_since is None and again.text.startswith("Task ")


def test_no_drift_when_nothing_changed_outside(runtime):
    created = applied(runtime, submit(runtime, load_spec(SPECS / "ingest.json")))
    plan = Plan.from_dict(submit(runtime, load_spec(SPECS / "ingest.yml"), created.job_id).plan)
    assert plan.drift == [] and plan.drift_since is None
    assert plan.base is not None and fingerprint(plan.base) == plan.fingerprint
    assert plan.text.startswith("Task ") and "outside" not in plan.text
