"""Unit tests of the planner's checks: `unknown_fields` (what the SDK would drop or misread) and
`settings_problems` (what the Jobs API would refuse), without a workspace. The parity with the
emulator is tests/test_validation_parity.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.validation import find_cycle, settings_problems, unknown_fields

CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
HOOK = {"id": "0c6e5a5e-1f1a-4d53-9d62-5d0e7b4f6a11"}


def job(**fields: Any) -> dict[str, Any]:
    """A valid job: one notebook task on a job cluster; `fields` replace top-level fields."""
    settings = {
        "name": "nightly-ingest",
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": dict(CLUSTER)}],
        "tasks": [
            {
                "task_key": "ingest",
                "notebook_task": {"notebook_path": "/Repos/etl/ingest"},
                "job_cluster_key": "main",
            }
        ],
    }
    settings.update(copy.deepcopy(fields))
    return settings


def with_task(**fields: Any) -> dict[str, Any]:
    settings = job()
    settings["tasks"][0].update(copy.deepcopy(fields))
    return settings


def test_the_base_job_is_valid():
    assert unknown_fields(job()) == []
    assert settings_problems(job()) == []


# -- unknown_fields ------------------------------------------------------------------------------------


def test_empty_collections_are_values_not_problems():
    settings = job(
        tags={},
        parameters=[],
        email_notifications={"on_failure": []},
        webhook_notifications={},
        environments=[],
    )
    settings["tasks"][0]["notebook_task"]["base_parameters"] = {}
    settings["tasks"][0]["depends_on"] = []
    settings["tasks"][0]["libraries"] = []
    assert unknown_fields(settings) == []
    assert settings_problems(settings) == []


def test_an_unknown_enum_value_lists_the_values():
    problems = unknown_fields(job(edit_mode="x"))
    assert problems == ["invalid value 'x' for edit_mode (one of EDITABLE, UI_LOCKED)."]


def test_an_enum_value_in_the_wrong_case_says_how_to_write_it():
    (problem,) = unknown_fields(job(edit_mode="ui_locked"))
    assert "invalid value 'ui_locked' for edit_mode" in problem
    assert "Write it as 'UI_LOCKED'" in problem


def test_an_enum_value_that_is_not_a_string_is_invalid():
    (problem,) = unknown_fields(with_task(run_if=5))
    assert problem.startswith("Task 'ingest': invalid value 5 for tasks[0].run_if (one of ")


def test_an_unknown_key_gets_a_suggestion():
    (problem,) = unknown_fields(job(tag={"team": "etl"}))
    assert problem == "Unknown field 'tag' (Databricks would ignore it). Did you mean 'tags'?"


def test_an_unknown_field_inside_a_task_is_named_by_task_and_path():
    settings = job()
    settings["tasks"][0]["notebook_task"]["notebok_path"] = "/Repos/etl/x"
    (problem,) = unknown_fields(settings)
    assert problem.startswith("Task 'ingest': Unknown field 'tasks[0].notebook_task.notebok_path'")
    assert problem.endswith("Did you mean 'notebook_path'?")


def test_unknown_fields_deep_inside_clusters_and_for_each_tasks():
    settings = job()
    settings["job_clusters"][0]["new_cluster"]["size"] = "large"
    settings["tasks"].append(
        {
            "task_key": "loop",
            "for_each_task": {
                "inputs": "[1, 2]",
                "task": {"task_key": "one", "notebook_task": {"notebook_path": "/x", "params": {}}},
            },
        }
    )
    problems = unknown_fields(settings)
    assert any("Unknown field 'job_clusters[0].new_cluster.size'" in p for p in problems), problems
    assert any(
        p.startswith("Task 'loop': Unknown field 'tasks[1].for_each_task.task.notebook_task.params'")
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            job(timeout_seconds="3600"),
            "timeout_seconds must be a whole number, not a string ('3600'). Write 3600 without quotes.",
        ),
        (job(timeout_seconds=60.5), "timeout_seconds must be a whole number, not a number (60.5)."),
        (job(max_concurrent_runs=True), "max_concurrent_runs must be a whole number, not true."),
        (job(tasks={"ingest": {}}), "tasks must be a list, not an object."),
        (job(name=5), "name must be a string, not a number (5)."),
        (job(tags={"cost_center": 42}), "tags.cost_center must be a string, not a number (42)."),
        (job(tags=["etl"]), "tags must be an object (a map of names to values), not a list."),
        (
            job(queue={"enabled": "true"}),
            "queue.enabled must be true or false, not a string ('true'). Write true without quotes.",
        ),
        (
            with_task(max_retries="3"),
            "Task 'ingest': tasks[0].max_retries must be a whole number, not a string ('3').",
        ),
        (
            with_task(depends_on={"task_key": "x"}),
            "Task 'ingest': tasks[0].depends_on must be a list, not an object.",
        ),
        (
            with_task(dbt_task={"commands": ["dbt run", 7]}),
            "Task 'ingest': tasks[0].dbt_task.commands[1] must be a string",
        ),
        (job(tasks=[None]), "tasks[0] is null; remove it from the list."),
    ],
    ids=[
        "int-as-string",
        "int-as-fraction",
        "int-as-flag",
        "list-as-object",
        "name-as-number",
        "tag-value-as-number",
        "map-as-list",
        "flag-as-string",
        "task-int-as-string",
        "task-list-as-object",
        "dbt-command-as-number",
        "null-in-a-list",
    ],
)
def test_a_value_of_the_wrong_json_type(settings, expected):
    problems = unknown_fields(settings)
    assert any(p.startswith(expected) for p in problems), problems


def test_numbers_pass_as_text_where_the_api_reads_them_as_text():
    settings = job()
    settings["tasks"][0]["notebook_task"]["base_parameters"] = {"days": 7, "full": True}
    settings["job_clusters"][0]["new_cluster"]["spark_conf"] = {"spark.sql.shuffle.partitions": 200}
    settings["environments"] = [{"environment_key": "default", "spec": {"environment_version": 2}}]
    settings["tasks"].append(
        {"task_key": "child", "run_job_task": {"job_id": "123"}, "depends_on": [{"task_key": "ingest"}]}
    )
    assert unknown_fields(settings) == []
    settings["tasks"][1]["run_job_task"]["job_id"] = "abc"
    assert unknown_fields(settings) == [
        "Task 'child': tasks[1].run_job_task.job_id must be a whole number, not a string ('abc')."
    ]


def test_settings_that_are_not_an_object():
    assert unknown_fields("x") == ["The job settings must be an object, not a string ('x')."]
    assert unknown_fields([]) == ["The job settings must be an object, not a list."]
    assert settings_problems(None) == ["The job settings must be an object."]  # type: ignore[arg-type]


def test_the_sdk_round_trip_argument_is_not_needed():
    raw = job(tag={"team": "etl"})
    assert unknown_fields(raw, {"name": "nightly-ingest"}) == unknown_fields(raw)


# -- settings_problems: every problem at once -----------------------------------------------------------


def test_several_problems_are_reported_together():
    settings = job(
        name="",
        schedule={"quartz_cron_expression": "0 0 2 ? * 2#1,4#3", "timezone_id": "Mars/Base"},
        continuous={"pause_status": "UNPAUSED"},
        webhook_notifications={"on_failure": [HOOK] * 4},
        parameters=[{"name": "run date"}],
        queue={},
        max_concurrent_runs=1001,
    )
    settings["job_clusters"][0]["new_cluster"]["num_workers"] = 0
    settings["tasks"] += [
        {"task_key": "ingest", "notebook_task": {"notebook_path": "etl/x"}},
        {"task_key": "publish", "depends_on": [{"task_key": "load"}], "dbt_task": {"commands": ["run"]}},
    ]
    problems = settings_problems(settings)
    expected = [
        "The job has no name",
        "'0 0 2 ? * 2#1,4#3' is not valid Quartz cron",
        "Time zone 'Mars/Base'",
        "both schedule and continuous",
        "webhook_notifications.on_failure has 4 destinations",
        "Job parameter 'run date': names may use only",
        "Job parameter 'run date' has no default",
        'queue needs "enabled"',
        "max_concurrent_runs is 1001",
        "Job cluster 'main': new_cluster.num_workers is 0",
        "Task key 'ingest' is used more than once",
        "notebook_task.notebook_path 'etl/x' is relative",
        "Task 'publish' depends on 'load', which is not a task of this job",
        "dbt_task command 'run' must start with 'dbt'",
        "Task 'publish' runs dbt_task on serverless compute without an environment",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(set(problems))


def test_every_task_and_every_cluster_is_checked_not_just_the_first():
    settings = job()
    settings["job_clusters"].append(
        {"job_cluster_key": "big", "new_cluster": {"spark_version": "15.4.x-scala2.12"}}
    )
    settings["tasks"] = [
        {"task_key": f"t{i}", "spark_jar_task": {}, "job_cluster_key": "main", "max_retries": -2}
        for i in range(3)
    ]
    problems = settings_problems(settings)
    for i in range(3):
        assert f"Task 't{i}': spark_jar_task needs main_class_name" in " ".join(problems)
        assert f"Task 't{i}': max_retries must be -1" in " ".join(problems)
    assert any(p.startswith("Job cluster 'big': new_cluster needs node_type_id") for p in problems)
    assert any(p.startswith("Job cluster 'big': new_cluster needs a size") for p in problems)


def test_a_cycle_is_reported_with_its_path():
    settings = job()
    settings["tasks"] = [
        {"task_key": "a", "notebook_task": {"notebook_path": "/a"}, "depends_on": [{"task_key": "c"}]},
        {"task_key": "b", "notebook_task": {"notebook_path": "/b"}, "depends_on": [{"task_key": "a"}]},
        {"task_key": "c", "notebook_task": {"notebook_path": "/c"}, "depends_on": [{"task_key": "b"}]},
    ]
    assert "Tasks depend on each other in a cycle: a → c → b → a." in settings_problems(settings)
    assert find_cycle(settings["tasks"][:2]) == []


def test_an_empty_required_string_says_it_is_empty():
    settings = job()
    settings["tasks"].append(
        {
            "task_key": "check",
            "condition_task": {"op": "EQUAL_TO", "left": "{{job.parameters.env}}", "right": ""},
        }
    )
    assert (
        "Task 'check': condition_task.right is required and cannot be empty; give it a value."
        in settings_problems(settings)
    )


def test_an_empty_task_body_still_needs_its_required_fields():
    problems = settings_problems(with_task(notebook_task={}))
    assert "Task 'ingest': notebook_task.notebook_path is required." in problems


def test_values_of_the_wrong_type_do_not_crash_the_checks():
    """Raw settings (an LLM's answer, a spec file) may hold anything; the type problems are
    `unknown_fields`' to report, and `settings_problems` must still say what else is wrong."""
    settings = job(
        job_clusters=[{"job_cluster_key": ["main"], "new_cluster": "big"}],
        environments=[{"environment_key": {}}],
    )
    settings["tasks"] = [
        {"task_key": ["ingest"], "notebook_task": "x", "depends_on": [{"task_key": {"a": 1}}, None]},
        None,
        {"task_key": "b", "depends_on": "ingest", "notebook_task": {"notebook_path": 5}, "libraries": "x"},
    ]
    problems = settings_problems(settings)
    assert problems  # said, not raised
    assert unknown_fields(settings)


@pytest.mark.parametrize(
    "settings",
    [
        job(tags={}, parameters=[], email_notifications={"on_failure": []}),
        job(
            job_clusters=[
                {
                    "job_cluster_key": "main",
                    "new_cluster": {
                        **CLUSTER,
                        "num_workers": 0,
                        "spark_conf": {
                            "spark.databricks.cluster.profile": "singleNode",
                            "spark.master": "local[*]",
                        },
                        "custom_tags": {"ResourceClass": "SingleNode"},
                    },
                }
            ]
        ),
        job(schedule={"quartz_cron_expression": "0 0 2 L * ?", "timezone_id": "Europe/Berlin"}),
        job(schedule={"quartz_cron_expression": "0 0 2 ? * 2#1", "timezone_id": "UTC"}),
        job(webhook_notifications={"on_failure": [HOOK] * 3}),
        job(
            run_as={"service_principal_name": "6f1e2c1a-7a0e-4b52-9f1a-1f6a0a6d2b11"}, queue={"enabled": True}
        ),
        job(
            git_source={
                "git_url": "https://github.com/acme/etl.git",
                "git_provider": "gitHub",
                "git_tag": "v1.2",
            },
            tasks=[
                {
                    "task_key": "ingest",
                    "notebook_task": {"notebook_path": "notebooks/ingest"},
                    "job_cluster_key": "main",
                }
            ],
        ),
        job(
            environments=[{"environment_key": "default", "spec": {"environment_version": "2"}}],
            tasks=[
                {
                    "task_key": "run",
                    "python_wheel_task": {"package_name": "etl", "entry_point": "main"},
                    "environment_key": "default",
                }
            ],
        ),
    ],
    ids=[
        "empties",
        "single-node",
        "last-day",
        "first-monday",
        "three-webhooks",
        "run-as-and-queue",
        "git-tag",
        "wheel-on-env",
    ],
)
def test_valid_real_world_settings_pass(settings):
    assert unknown_fields(settings) == []
    assert settings_problems(settings) == []
