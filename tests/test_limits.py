"""The team's sanity limits (agent/limits.py): each limit, each place a cluster can be declared, the
environment variables, and one plan through the Worker against the emulator."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigError
from agent.limits import VARIABLES, Limits, limit_problems
from agent.models import TaskState
from agent.specfile import assignment_from_spec
from agent.validation import settings_problems

REAL_JOBS = sorted((Path(__file__).parent / "data" / "real_jobs").glob("*.json"))
SPEC = json.loads((Path(__file__).parent / "specs" / "ingest.json").read_text(encoding="utf-8"))
CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
NOTEBOOK = {"notebook_path": "/Repos/etl/ingest"}
TEAM = "a jobagent limit, not a Databricks rule"


@pytest.fixture(autouse=True)
def _default_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults, whatever the shell running the tests has set."""
    for name, _, _ in VARIABLES.values():
        monkeypatch.delenv(name, raising=False)


def job(**fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SPEC), **fields}


def task(key: str = "t", **fields: Any) -> dict[str, Any]:
    return {"task_key": key, "notebook_task": NOTEBOOK, **fields}


def loop(key: str, inner: dict[str, Any], concurrency: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"inputs": "[1, 2]", "task": inner}
    if concurrency is not None:
        body["concurrency"] = concurrency
    return {"task_key": key, "for_each_task": body}


# -- ordinary requests pass -------------------------------------------------------------------------


def test_the_defaults_refuse_nothing_a_data_team_ordinarily_runs():
    big_but_ordinary = job(
        max_concurrent_runs=20,
        timeout_seconds=24 * 3600,
        health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 6 * 3600}]},
        job_clusters=[
            {"job_cluster_key": "main", "new_cluster": {**CLUSTER, "num_workers": 200}},
            {
                "job_cluster_key": "wide",
                "new_cluster": {
                    **CLUSTER,
                    "num_workers": None,
                    "autoscale": {"min_workers": 2, "max_workers": 400},
                },
            },
        ],
        tasks=[task(f"t{i}", job_cluster_key="main", max_retries=3) for i in range(50)]
        + [
            task("forever", job_cluster_key="wide", max_retries=-1, min_retry_interval_millis=600_000),
            task("own", new_cluster={**CLUSTER, "num_workers": 100}, timeout_seconds=0),
        ],
    )
    assert Limits.from_env({}) == Limits()
    assert limit_problems(big_but_ordinary, Limits()) == []
    assert settings_problems(SPEC) == []


# -- workers, in every place a cluster can be declared --------------------------------------------


def _with_cluster(where: str, spec: dict[str, Any]) -> tuple[dict[str, Any], str]:
    if where == "job cluster":
        return job(job_clusters=[{"job_cluster_key": "main", "new_cluster": spec}]), "Job cluster 'main'"
    if where == "task":
        return job(tasks=[task("solo", new_cluster=spec)], job_clusters=[]), "Task 'solo'"
    inner = task("inner", new_cluster=spec)
    return job(tasks=[loop("each", inner)], job_clusters=[]), "The inner task of for_each task 'each'"


@pytest.mark.parametrize("where", ["job cluster", "task", "for_each inner task"])
@pytest.mark.parametrize(
    "size, field",
    [
        ({"num_workers": 501}, "num_workers"),
        ({"autoscale": {"min_workers": 501, "max_workers": 501}}, "autoscale.min_workers"),
        ({"autoscale": {"min_workers": 1, "max_workers": 501}}, "autoscale.max_workers"),
    ],
)
def test_workers_over_the_limit_are_refused_wherever_the_cluster_is(where, size, field):
    spec = {k: v for k, v in CLUSTER.items() if k != "num_workers"} | size
    settings, name = _with_cluster(where, spec)
    problems = limit_problems(settings, Limits())
    assert (
        f"{name}: new_cluster.{field} is 501; this team's limit is 500 workers per cluster "
        f"(JOBAGENT_MAX_WORKERS: {TEAM}). Ask for fewer workers, or ask whoever runs jobagent to raise "
        "JOBAGENT_MAX_WORKERS." in problems
    )
    at_limit, _ = _with_cluster(where, {**CLUSTER, "num_workers": 500})
    assert limit_problems(at_limit, Limits()) == []


def test_a_hundred_million_workers_is_one_clear_problem():
    settings = job()
    settings["job_clusters"][0]["new_cluster"]["num_workers"] = 100_000_000
    problems = limit_problems(settings, Limits())
    assert len(problems) == 1  # not repeated as "the job's clusters add up to …"
    assert problems[0].startswith("Job cluster 'main': new_cluster.num_workers is 100,000,000;")
    settings["job_clusters"][0]["new_cluster"]["num_workers"] = "100000000"  # the API reads it as a number
    assert len(limit_problems(settings, Limits())) == 1


def test_the_workers_of_all_clusters_of_a_run_are_added_up():
    five = [{"job_cluster_key": f"c{i}", "new_cluster": {**CLUSTER, "num_workers": 500}} for i in range(5)]
    problems = limit_problems(job(job_clusters=five), Limits())
    assert problems == [
        "The job's clusters add up to 2,500 workers in one run; this team's limit is 2,000 workers per job "
        f"(JOBAGENT_MAX_JOB_WORKERS: {TEAM}). Use fewer or smaller clusters (tasks can share a job cluster), "
        "or ask whoever runs jobagent to raise JOBAGENT_MAX_JOB_WORKERS."
    ]
    assert limit_problems(job(job_clusters=five[:4]), Limits()) == []


def test_a_loop_starts_one_cluster_per_concurrent_iteration():
    inner = task("inner", new_cluster={**CLUSTER, "num_workers": 100})
    busy = job(tasks=[loop("each", inner, concurrency=30)], job_clusters=[])
    assert any("add up to 3,000 workers" in p for p in limit_problems(busy, Limits()))
    calm = job(tasks=[loop("each", inner, concurrency=10)], job_clusters=[])
    assert limit_problems(calm, Limits()) == []


# -- concurrency, tasks, retries ---------------------------------------------------------------------


def test_concurrent_runs_team_limit_and_service_rule_are_told_apart():
    assert limit_problems(job(max_concurrent_runs=100), Limits()) == []
    (team,) = limit_problems(job(max_concurrent_runs=101), Limits())
    assert "max_concurrent_runs is 101; this team's limit is 100 runs at once" in team
    assert "JOBAGENT_MAX_CONCURRENT_RUNS" in team and TEAM in team
    both = settings_problems(job(max_concurrent_runs=1001))
    assert "max_concurrent_runs is 1001; the Jobs API allows between 0 and 1000." in both
    assert any("this team's limit is 100 runs at once" in p for p in both)


def test_number_of_tasks():
    many = job(tasks=[task(f"t{i}", job_cluster_key="main") for i in range(201)])
    (problem,) = limit_problems(many, Limits())
    assert problem.startswith("The job has 201 tasks; this team's limit is 200 tasks per job")
    assert problem.endswith("Split the job, or ask whoever runs jobagent to raise JOBAGENT_MAX_TASKS.")
    assert limit_problems(job(tasks=many["tasks"][:200]), Limits()) == []


def test_retries_are_unlimited_unless_the_team_sets_a_limit():
    settings = job(tasks=[task("a", max_retries=1000), task("b", max_retries=-1), task("c", max_retries=3)])
    assert limit_problems(settings, Limits()) == []
    problems = limit_problems(settings, Limits(max_retries=3))
    assert [p.split(";")[0] for p in problems] == [
        "Task 'a': max_retries is 1,000",
        "Task 'b': max_retries is -1 (retry forever)",
    ]
    assert all("this team's limit is 3 retries (JOBAGENT_MAX_RETRIES" in p for p in problems)
    inner = job(tasks=[loop("each", task("inner", max_retries=9))])
    assert limit_problems(inner, Limits(max_retries=3))[0].startswith(
        "The inner task of for_each task 'each': max_retries is 9;"
    )


# -- durations -----------------------------------------------------------------------------------------


def test_timeouts_and_waits_between_retries_are_held_to_the_timeout_limit():
    week = 168 * 3600
    settings = job(
        timeout_seconds=week + 1,
        tasks=[
            task("a", timeout_seconds=week + 1),
            task("b", min_retry_interval_millis=(week + 1) * 1000),
            loop("each", task("inner", timeout_seconds=week + 1, min_retry_interval_millis=week * 2000)),
        ],
    )
    got = [p.split(" is ")[0] for p in limit_problems(settings, Limits())]
    assert got == [
        "timeout_seconds",
        "Task 'a': timeout_seconds",
        "Task 'b': min_retry_interval_millis",
        "The inner task of for_each task 'each': timeout_seconds",
        "The inner task of for_each task 'each': min_retry_interval_millis",
    ]
    (one,) = limit_problems(job(timeout_seconds=3_600_000), Limits())
    assert one == (
        "timeout_seconds is 3,600,000 (1,000 h); this team's limit is 168 hours "
        f"(JOBAGENT_MAX_TIMEOUT_HOURS: {TEAM}). Ask for a shorter timeout, or ask whoever runs jobagent "
        "to raise JOBAGENT_MAX_TIMEOUT_HOURS."
    )
    at_limit = job(timeout_seconds=week, tasks=[task("b", min_retry_interval_millis=week * 1000)])
    assert limit_problems(at_limit, Limits()) == []


@pytest.mark.parametrize("path", REAL_JOBS, ids=[p.stem for p in REAL_JOBS])
def test_every_real_job_definition_is_within_the_defaults(path):
    """Real-shaped jobs (tests/data/real_jobs) pass; one of them, the Terraform provider's own test job,
    has a run-duration health threshold of 50,000,000,000 s, which is why thresholds are not limited."""
    assert limit_problems(json.loads(path.read_text(encoding="utf-8")), Limits()) == []


# -- the environment ---------------------------------------------------------------------------------


def test_every_limit_is_read_from_its_variable():
    env = {
        "JOBAGENT_MAX_WORKERS": "64",
        "JOBAGENT_MAX_JOB_WORKERS": " 256 ",
        "JOBAGENT_MAX_CONCURRENT_RUNS": "5",
        "JOBAGENT_MAX_TASKS": "30",
        "JOBAGENT_MAX_TIMEOUT_HOURS": "0.5",
        "JOBAGENT_MAX_RETRIES": "0",
    }
    assert set(env) == {v[0] for v in VARIABLES.values()}
    assert Limits.from_env(env) == Limits(64, 256, 5, 30, 0.5, 0)
    assert Limits.from_env({"JOBAGENT_MAX_WORKERS": "", "JOBAGENT_MAX_RETRIES": "  "}) == Limits()
    problems = limit_problems(job(timeout_seconds=3600), Limits.from_env(env))
    assert problems[0].startswith("timeout_seconds is 3,600 (1 h); this team's limit is 0.5 hours")
    assert problems[1].startswith("Task 'transform': max_retries is 2; this team's limit is 0 retries")


@pytest.mark.parametrize(
    "name, raw",
    [
        ("JOBAGENT_MAX_WORKERS", "lots"),
        ("JOBAGENT_MAX_WORKERS", "-1"),
        ("JOBAGENT_MAX_WORKERS", "1.5"),
        ("JOBAGENT_MAX_JOB_WORKERS", "-5"),
        ("JOBAGENT_MAX_CONCURRENT_RUNS", "0"),
        ("JOBAGENT_MAX_TASKS", "ten"),
        ("JOBAGENT_MAX_TIMEOUT_HOURS", "0"),
        ("JOBAGENT_MAX_TIMEOUT_HOURS", "nan"),
        ("JOBAGENT_MAX_TIMEOUT_HOURS", "-2"),
        ("JOBAGENT_MAX_RETRIES", "-1"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_variable(name, raw):
    with pytest.raises(ConfigError, match=f"^{name}='{raw}' must be a") as err:
        Limits.from_env({name: raw})
    assert "; unset, " in str(err.value)


def test_settings_problems_reads_the_limits_from_the_environment(monkeypatch):
    settings = job()
    settings["job_clusters"][0]["new_cluster"]["num_workers"] = 20
    assert settings_problems(settings) == []
    monkeypatch.setenv("JOBAGENT_MAX_WORKERS", "10")
    assert any("this team's limit is 10 workers per cluster" in p for p in settings_problems(settings))
    assert settings_problems(settings, Limits()) == []  # limits passed in win
    monkeypatch.setenv("JOBAGENT_MAX_WORKERS", "ten")
    with pytest.raises(ConfigError, match="JOBAGENT_MAX_WORKERS='ten'"):
        settings_problems(settings)


# -- through the Worker, against the emulator ----------------------------------------------------------


def _submit(rt, spec: dict[str, Any], thread: str):
    return rt.worker.submit(
        assignment_from_spec(spec), request="make it huge", requester="alice", thread=thread
    )


def test_a_hundred_million_worker_plan_fails_and_nothing_is_created(runtime, emulator, monkeypatch):
    huge = job()
    huge["job_clusters"][0]["new_cluster"]["num_workers"] = 100_000_000
    record = _submit(runtime, huge, "T1")
    assert record.state is TaskState.FAILED
    assert record.error.startswith("Validation failed (1 problem):")
    assert (
        "Job cluster 'main': new_cluster.num_workers is 100,000,000; this team's limit is 500 workers per "
        "cluster (JOBAGENT_MAX_WORKERS" in record.error
    )
    assert "ask whoever runs jobagent to raise JOBAGENT_MAX_WORKERS" in runtime.notes.read("T1")
    assert emulator.jobs_snapshot() == []

    normal = _submit(runtime, job(), "T2")
    assert normal.state is TaskState.PLANNED and 'create job "nightly-ingest"' in normal.plan["text"]

    # checked again at apply: a limit lowered after the plan was made stops the create
    monkeypatch.setenv("JOBAGENT_MAX_WORKERS", "1")
    runtime.worker.approve(normal.id, by="bob")
    applied = runtime.worker.apply(normal.id)
    assert applied.state is TaskState.FAILED and "this team's limit is 1 workers per cluster" in applied.error
    assert emulator.jobs_snapshot() == []
