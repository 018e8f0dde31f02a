"""The emulator's job-settings rules, driven through the real databricks-sdk.

Every refused shape goes to jobs/create, jobs/reset and jobs/update and must come back as the SDK
exception the real service's answer maps to (400 INVALID_PARAMETER_VALUE or MALFORMED_REQUEST), with
a message naming the field, and leave the workspace unchanged. Valid shapes near each rule must be
accepted by all three. Where each rule comes from is written beside it in standins/databricks/.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from databricks.sdk import errors as dbx
from databricks.sdk.service import jobs

from standins.databricks import WorkspaceEmulator

NOTEBOOK = "/Repos/etl/ingest"
CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
SINGLE_NODE = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "i3.xlarge",
    "num_workers": 0,
    "spark_conf": {"spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*]"},
    "custom_tags": {"ResourceClass": "SingleNode"},
}
ENV = {"environment_key": "default", "spec": {"environment_version": "2"}}
GIT = {"git_url": "https://github.com/acme/etl.git", "git_provider": "gitHub", "git_branch": "main"}
HOOK = {"id": "0c6e5a5e-1f1a-4d53-9d62-5d0e7b4f6a11"}
GIT_PROVIDERS = {
    "github",
    "gitlab",
    "bitbucketcloud",
    "gitlabenterpriseedition",
    "bitbucketserver",
    "azuredevopsservices",
    "githubenterprise",
    "awscodecommit",
}


@pytest.fixture(scope="module")
def emu():
    with WorkspaceEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def w(emu):
    return emu.client(retry_timeout_seconds=10, http_timeout_seconds=10)


def base() -> dict[str, Any]:
    """A small valid job: one notebook task on a job cluster, a job parameter and a weekday schedule."""
    return {
        "name": "rules-base",
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": dict(CLUSTER)}],
        "tasks": [
            {"task_key": "ingest", "notebook_task": {"notebook_path": NOTEBOOK}, "job_cluster_key": "main"}
        ],
        "parameters": [{"name": "env", "default": "dev"}],
        "schedule": {"quartz_cron_expression": "0 0 2 ? * MON-FRI", "timezone_id": "UTC"},
    }


# -- building variants ---------------------------------------------------------------------------------


def _set(target: dict, fields: dict[str, Any]) -> None:
    """Set each field on `target` (a copy of the value); None removes the field."""
    for key, value in fields.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = copy.deepcopy(value)


def top(**fields: Any) -> Callable[[dict], None]:
    """Set top-level fields (None removes one)."""

    return lambda s: _set(s, fields)


def task(**fields: Any) -> Callable[[dict], None]:
    """Change the one task (None removes a field)."""

    return lambda s: _set(s["tasks"][0], fields)


def only_task(**fields: Any) -> Callable[[dict], None]:
    """Replace the task by `ingest` with just these fields (no job cluster)."""

    def apply(s: dict) -> None:
        s["tasks"] = [{"task_key": "ingest", **copy.deepcopy(fields)}]

    return apply


def cluster(**fields: Any) -> Callable[[dict], None]:
    """Change the job cluster's new_cluster (None removes a field)."""

    return lambda s: _set(s["job_clusters"][0]["new_cluster"], fields)


def cron(expr: str) -> Callable[[dict], None]:
    return top(schedule={"quartz_cron_expression": expr, "timezone_id": "UTC"})


def both(*changes: Callable[[dict], None]) -> Callable[[dict], None]:
    def apply(s: dict) -> None:
        for change in changes:
            change(s)

    return apply


def variant(change: Callable[[dict], None]) -> dict:
    settings = base()
    change(settings)
    return settings


def python_on_env(**env_spec: Any) -> Callable[[dict], None]:
    return both(
        top(environments=[{"environment_key": "default", **env_spec}]),
        only_task(spark_python_task={"python_file": "/Shared/scripts/etl.py"}, environment_key="default"),
    )


# With a git_source, a notebook without `source` comes from git; this one stays in the workspace.
WORKSPACE_NB = task(notebook_task={"notebook_path": NOTEBOOK, "source": "WORKSPACE"})

CONDITION = {
    "task_key": "check",
    "condition_task": {"op": "EQUAL_TO", "left": "{{job.parameters.env}}", "right": "prod"},
}


def after_condition(outcome: str, on: str = "check") -> Callable[[dict], None]:
    def apply(s: dict) -> None:
        s["tasks"][0]["depends_on"] = [{"task_key": on, "outcome": outcome}]
        s["tasks"].insert(0, copy.deepcopy(CONDITION))
        s["tasks"].insert(0, {"task_key": "plain", "notebook_task": {"notebook_path": NOTEBOOK}})

    return apply


# -- the rules ----------------------------------------------------------------------------------------


@dataclass
class Bad:
    id: str
    change: Callable[[dict], None]
    fragment: str  # part of the message: names the field
    code: str = "INVALID_PARAMETER_VALUE"


INVALID = "INVALID_PARAMETER_VALUE"
MALFORMED = "MALFORMED_REQUEST"

REFUSED = [
    Bad(
        "git-notebook-absolute",
        both(top(git_source=GIT), task(notebook_task={"notebook_path": NOTEBOOK, "source": "GIT"})),
        "must be relative",
    ),
    Bad(
        "git-python-file-absolute",
        both(
            top(git_source=GIT),
            task(spark_python_task={"python_file": "/etl/run.py"}, notebook_task=None),
        ),
        "must be relative",
    ),
    # 1. Quartz cron (agent/quartz.py, after Quartz's CronExpression.buildExpression)
    Bad(
        "cron-L-with-other-weekdays",
        cron("0 0 2 ? * 2L,3"),
        "(schedule.quartz_cron_expression): 'L' (last weekday of the month",
    ),
    Bad("cron-L-alone-in-weekday-list", cron("0 0 2 ? * SAT,SUN,L"), "cannot be combined"),
    Bad("cron-several-nth-weekdays", cron("0 0 2 ? * 2#1,4#3"), "only one 'n#m'"),
    Bad("cron-L-with-other-days-of-month", cron("0 0 2 L,15 * ?"), "day-of-month"),
    Bad("cron-question-mark-in-both-day-fields", cron("0 0 2 ? * ?"), "not both"),
    # 2. git_source
    Bad(
        "git-without-provider",
        top(git_source={"git_url": GIT["git_url"], "git_branch": "main"}),
        "git_source.git_provider must be one of: ",
    ),
    Bad(
        "git-unknown-provider",
        top(git_source={**GIT, "git_provider": "sourceforge"}),
        "git_source.git_provider must be one of: ",
    ),
    Bad("git-branch-and-tag", top(git_source={**GIT, "git_tag": "v1.2"}), "git_branch and git_tag"),
    Bad(
        "git-branch-and-commit", top(git_source={**GIT, "git_commit": "4f2a9c1"}), "git_branch and git_commit"
    ),
    Bad(
        "git-without-url",
        top(git_source={"git_provider": "gitHub", "git_branch": "main"}),
        "git_source.git_url",
    ),
    # 3. environments
    Bad("env-spec-without-version", python_on_env(spec={"dependencies": ["pyyaml"]}), "environments[0].spec"),
    Bad("env-without-spec", python_on_env(), "environments[0].spec"),
    Bad(
        "env-project-environment-with-version",
        python_on_env(
            spec={"project_environment": "/Workspace/app/pyproject.toml", "environment_version": "2"}
        ),
        "project_environment cannot be combined with environment_version",
    ),
    # 4. cluster size
    Bad(
        "job-cluster-without-size", cluster(num_workers=None), "job_clusters[main].new_cluster: exactly 1 of"
    ),
    Bad(
        "task-cluster-without-size",
        only_task(
            spark_python_task={"python_file": "/Shared/scripts/etl.py"},
            new_cluster={"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge"},
        ),
        "tasks[ingest].new_cluster: exactly 1 of num_workers or autoscale",
    ),
    Bad(
        "cluster-with-workers-and-autoscale",
        cluster(autoscale={"min_workers": 1, "max_workers": 4}),
        "job_clusters[main].new_cluster: set either num_workers or autoscale",
    ),
    Bad(
        "zero-workers-not-single-node",
        cluster(num_workers=0),
        "job_clusters[main].new_cluster: NumWorkers could be 0 only for SingleNode",
    ),
    # 5. webhooks
    Bad(
        "four-webhooks-on-failure",
        top(webhook_notifications={"on_failure": [HOOK] * 4}),
        "webhook_notifications.on_failure: at most 3",
    ),
    Bad(
        "four-task-webhooks-on-start",
        task(webhook_notifications={"on_start": [HOOK] * 4}),
        "tasks[ingest].webhook_notifications.on_start: at most 3",
    ),
    Bad(
        "webhook-without-id",
        top(webhook_notifications={"on_success": [{"url": "https://hooks.example"}]}),
        "webhook_notifications.on_success[0].id",
    ),
    # 6. health rules
    Bad(
        "health-op-less-than",
        top(health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "LESS_THAN", "value": 60}]}),
        "health.rules[0].op must be one of: GREATER_THAN",
    ),
    Bad(
        "health-unknown-metric",
        top(health={"rules": [{"metric": "RUN_TIME", "op": "GREATER_THAN", "value": 60}]}),
        "health.rules[0].metric must be one of: RUN_DURATION_SECONDS,",
    ),
    Bad(
        "health-value-a-string",
        top(health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": "60"}]}),
        "health.rules[0].value must be an integer",
        MALFORMED,
    ),
    Bad(
        "health-value-a-fraction",
        top(health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 1.5}]}),
        "health.rules[0].value must be an integer",
        MALFORMED,
    ),
    Bad(
        "health-without-value",
        top(health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN"}]}),
        "health.rules[0].value",
    ),
    Bad(
        "task-health-op",
        task(health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "EQUAL_TO", "value": 60}]}),
        "tasks[0].health.rules[0].op",
    ),
    # 7. job parameter names
    Bad("parameter-name-with-space", top(parameters=[{"name": "run date", "default": "x"}]), "'run date'"),
    Bad("parameter-name-with-slash", top(parameters=[{"name": "a/b", "default": "x"}]), "parameters[0].name"),
    Bad("parameter-name-not-ascii", top(parameters=[{"name": "día", "default": "x"}]), "parameters[0].name"),
    # 8. enum values, from the SDK's Enum classes
    Bad(
        "enum-edit-mode",
        top(edit_mode="LOCKED"),
        "edit_mode must be one of: EDITABLE,UI_LOCKED (got 'LOCKED')",
    ),
    Bad("enum-run-if", task(run_if="ALL_SUCCES"), "tasks[0].run_if must be one of: "),
    Bad("enum-run-if-not-a-string", task(run_if=5), "tasks[0].run_if must be a string", MALFORMED),
    # A JSON value of the wrong shape is a parse error, never a 500 (SDK types: ClusterSpec.autoscale
    # is an object, spark_version a string, ForEachTask.concurrency an integer, base_parameters a map).
    Bad(
        "shape-autoscale-number",
        cluster(num_workers=None, autoscale=1),
        "autoscale must be an object",
        MALFORMED,
    ),
    Bad(
        "shape-spark-version-object",
        cluster(spark_version={"v": 15}),
        "spark_version must be a str",
        MALFORMED,
    ),
    Bad(
        "shape-base-parameters-string",
        task(notebook_task={"notebook_path": NOTEBOOK, "base_parameters": "env=prod"}),
        "base_parameters must be an object",
        MALFORMED,
    ),
    Bad(
        "shape-spark-conf-list-single-node",
        cluster(num_workers=0, spark_conf=["spark.master", "local[*]"]),
        "spark_conf must be an object",
        MALFORMED,
    ),
    Bad(
        "enum-schedule-pause-status",
        top(schedule={**base()["schedule"], "pause_status": "PAUSE"}),
        "schedule.pause_status must be one of: PAUSED,UNPAUSED",
    ),
    Bad(
        "enum-notebook-source",
        task(notebook_task={"notebook_path": NOTEBOOK, "source": "REPO"}),
        "tasks[0].notebook_task.source must be one of: GIT,WORKSPACE",
    ),
    Bad(
        "enum-condition-op",
        top(tasks=[{**CONDITION, "condition_task": {**CONDITION["condition_task"], "op": "EQUALS"}}]),
        "tasks[0].condition_task.op must be one of: ",
    ),
    Bad(
        "enum-periodic-unit",
        both(top(schedule=None), top(trigger={"periodic": {"interval": 1, "unit": "SECONDS"}})),
        "trigger.periodic.unit must be one of: ",
    ),
    Bad(
        "enum-table-update-condition",
        both(
            top(schedule=None),
            top(trigger={"table_update": {"table_names": ["main.sales.orders"], "condition": "ALL"}}),
        ),
        "trigger.table_update.condition must be one of: ALL_UPDATED,ANY_UPDATED",
    ),
    Bad(
        "enum-trigger-pause-status",
        both(
            top(schedule=None),
            top(trigger={"pause_status": "STOPPED", "periodic": {"interval": 1, "unit": "DAYS"}}),
        ),
        "trigger.pause_status must be one of: ",
    ),
    Bad(
        "enum-continuous-pause-status",
        both(top(schedule=None), top(continuous={"pause_status": "OFF"})),
        "continuous.pause_status must be one of: ",
    ),
    Bad(
        "enum-data-security-mode",
        cluster(data_security_mode="SHARED"),
        "job_clusters[0].new_cluster.data_security_mode must be one of: ",
    ),
    Bad("enum-runtime-engine", cluster(runtime_engine="TURBO"), "job_clusters[0].new_cluster.runtime_engine"),
    Bad(
        "enum-aws-availability",
        cluster(aws_attributes={"availability": "SPOT_ONLY"}),
        "new_cluster.aws_attributes.availability must be one of: ON_DEMAND,SPOT,SPOT_WITH_FALLBACK",
    ),
    Bad(
        "enum-sql-file-source",
        only_task(sql_task={"warehouse_id": "abc", "file": {"path": "/Shared/q.sql", "source": "DBFS"}}),
        "tasks[0].sql_task.file.source",
    ),
    # 10. rules the emulator already meant to apply
    Bad(
        "schedule-and-trigger",
        top(trigger={"periodic": {"interval": 1, "unit": "HOURS"}}),
        "only one of schedule",
    ),
    Bad("schedule-and-continuous", top(continuous={"pause_status": "UNPAUSED"}), "schedule and continuous"),
    Bad("outcome-not-true-or-false", after_condition("yes"), "outcome must be 'true' or 'false'"),
    Bad(
        "outcome-on-a-plain-task",
        after_condition("true", on="plain"),
        "only be set on a dependency on a condition",
    ),
    Bad(
        "for-each-without-inputs",
        only_task(for_each_task={"task": {"task_key": "one", "notebook_task": {"notebook_path": NOTEBOOK}}}),
        "for_each_task.inputs",
    ),
    Bad(
        "for-each-nested",
        only_task(
            for_each_task={
                "inputs": "[1]",
                "task": {
                    "task_key": "one",
                    "for_each_task": {
                        "inputs": "[2]",
                        "task": {"task_key": "two", "notebook_task": {"notebook_path": NOTEBOOK}},
                    },
                },
            }
        ),
        "cannot contain another for_each_task",
    ),
    Bad(
        "dbt-eleven-commands",
        task(notebook_task=None, dbt_task={"commands": ["dbt run"] * 11}),
        "dbt_task needs 1-10",
    ),
    Bad(
        "file-arrival-every-30-seconds",
        both(
            top(schedule=None),
            top(
                trigger={
                    "file_arrival": {"url": "/Volumes/main/raw/in/", "min_time_between_triggers_seconds": 30}
                }
            ),
        ),
        "trigger.file_arrival.min_time_between_triggers_seconds must be at least 60",
    ),
    Bad(
        "table-update-wait-59-seconds",
        both(
            top(schedule=None),
            top(
                trigger={
                    "table_update": {
                        "table_names": ["main.sales.orders"],
                        "wait_after_last_change_seconds": 59,
                    }
                }
            ),
        ),
        "trigger.table_update.wait_after_last_change_seconds must be at least 60",
    ),
    Bad(
        "table-name-not-three-parts",
        both(top(schedule=None), top(trigger={"table_update": {"table_names": ["sales.orders"]}})),
        "'sales.orders' is not catalog.schema.table",
    ),
    Bad(
        "parameter-without-default",
        top(parameters=[{"name": "env"}]),
        "Job parameter 'env' needs a string default",
    ),
    Bad(
        "spark-submit-on-job-cluster",
        task(notebook_task=None, spark_submit_task={"parameters": ["--class", "Main", "dbfs:/app.jar"]}),
        "spark_submit_task can only run on a new_cluster",
    ),
    Bad(
        "sql-query-and-file",
        only_task(
            sql_task={"warehouse_id": "abc", "query": {"query_id": "q1"}, "file": {"path": "/Shared/q.sql"}}
        ),
        "sql_task needs exactly one of query, file",
    ),
    Bad(
        "relative-notebook-path-from-workspace",
        task(notebook_task={"notebook_path": "etl/ingest", "source": "WORKSPACE"}),
        "notebook_task.notebook_path must be an absolute workspace path",
    ),
    Bad("queue-without-enabled", top(queue={}), "queue.enabled is required"),
    Bad("name-over-4096-bytes", top(name="é" * 2049), "Job name is too long"),
    Bad(
        "serverless-python-file-without-environment",
        only_task(spark_python_task={"python_file": "/Shared/scripts/etl.py"}),
        "needs compute",
    ),
    Bad(
        "serverless-wheel-without-environment",
        only_task(python_wheel_task={"package_name": "etl", "entry_point": "main"}),
        "needs compute",
    ),
]


ACCEPTED = [
    # near 1: one L, one #, L-nW and a lone L are all Quartz
    ("cron-last-friday", cron("0 0 2 ? * 6L")),
    ("cron-lone-L-is-saturday", cron("0 0 2 ? * L")),
    ("cron-first-monday", cron("0 0 2 ? * 2#1")),
    ("cron-weekday-nearest-to-third-last-day", cron("0 0 2 L-2W * ?")),
    ("cron-last-weekday", cron("0 0 2 LW * ?")),
    # near 2: the provider is case-insensitive (GitSource docstring; "github" recorded accepted)
    ("git-provider-lower-case", both(top(git_source={**GIT, "git_provider": "github"}), WORKSPACE_NB)),
    (
        "git-commit-only",
        both(
            top(git_source={"git_url": GIT["git_url"], "git_provider": "gitLab", "git_commit": "4f2a9c1"}),
            WORKSPACE_NB,
        ),
    ),
    ("git-relative-notebook", both(top(git_source=GIT), task(notebook_task={"notebook_path": "etl/ingest"}))),
    # near 3
    ("env-version-only", python_on_env(spec={"environment_version": "2"})),
    ("env-deprecated-client-only", python_on_env(spec={"client": "1", "dependencies": ["pyyaml"]})),
    ("env-base-environment", python_on_env(spec={"base_environment": "/Workspace/envs/env.yaml"})),
    (
        "env-project-environment-alone",
        python_on_env(spec={"project_environment": "/Workspace/app/pyproject.toml"}),
    ),
    # near 4
    ("single-node-cluster", top(job_clusters=[{"job_cluster_key": "main", "new_cluster": SINGLE_NODE}])),
    ("autoscale-only", cluster(num_workers=None, autoscale={"min_workers": 1, "max_workers": 4})),
    (
        "policy-supplies-the-size",
        cluster(num_workers=None, policy_id="0018B70A5594EB56", apply_policy_default_values=True),
    ),
    ("is-single-node", cluster(num_workers=None, kind="CLASSIC_PREVIEW", is_single_node=True)),
    ("one-worker", cluster(num_workers=1)),
    # near 5
    (
        "three-webhooks-per-event",
        top(webhook_notifications={"on_failure": [HOOK] * 3, "on_start": [HOOK] * 3}),
    ),
    ("three-task-webhooks", task(webhook_notifications={"on_success": [HOOK] * 3})),
    # near 6
    (
        "health-run-duration",
        top(health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 3600}]}),
    ),
    (
        "task-health-backlog",
        task(health={"rules": [{"metric": "STREAMING_BACKLOG_FILES", "op": "GREATER_THAN", "value": 100}]}),
    ),
    # near 7
    (
        "parameter-names-with-dot-dash-underscore",
        top(parameters=[{"name": "run.date", "default": ""}, {"name": "run-id_2", "default": "x"}]),
    ),
    # near 8
    (
        "enums-known-values",
        both(
            top(edit_mode="UI_LOCKED", performance_target="STANDARD"),
            task(run_if="ALL_DONE"),
            cluster(data_security_mode="SINGLE_USER"),
        ),
    ),
    ("condition-on-true-outcome", after_condition("true")),
    # near 10
    (
        "trigger-every-60-seconds",
        both(
            top(schedule=None),
            top(
                trigger={
                    "file_arrival": {
                        "url": "/Volumes/main/raw/in/",
                        "min_time_between_triggers_seconds": 60,
                        "wait_after_last_change_seconds": 60,
                    }
                }
            ),
        ),
    ),
    ("continuous-alone", both(top(schedule=None), top(continuous={"pause_status": "PAUSED"}))),
    ("ten-dbt-commands", task(notebook_task=None, dbt_task={"commands": ["dbt run"] * 10})),
    ("serverless-python-with-environment", python_on_env(spec={"environment_version": "2"})),
    (
        "spark-submit-on-new-cluster",
        only_task(spark_submit_task={"parameters": ["--class", "Main", "dbfs:/a.jar"]}, new_cluster=CLUSTER),
    ),
    ("name-of-4096-bytes", top(name="é" * 2048)),
    ("queue-enabled-false", top(queue={"enabled": False})),
]


# -- sending ------------------------------------------------------------------------------------------


def create(w, settings: dict) -> int:
    return w.api_client.do("POST", "/api/2.2/jobs/create", body=settings)["job_id"]


def reset(w, job_id: int, settings: dict) -> None:
    w.api_client.do("POST", "/api/2.2/jobs/reset", body={"job_id": job_id, "new_settings": settings})


def update(w, job_id: int, settings: dict) -> None:
    """jobs/update with these settings, removing the top-level fields of the base job they lack."""
    removed = [key for key in base() if key not in settings]
    body = {"job_id": job_id, "new_settings": settings, "fields_to_remove": removed}
    w.api_client.do("POST", "/api/2.2/jobs/update", body=body)


def stored(w, job_id: int) -> dict:
    return w.api_client.do("GET", "/api/2.2/jobs/get", query={"job_id": job_id})["settings"]


def assert_refused(call: Callable[[], Any], bad: Bad) -> None:
    expected = dbx.InvalidParameterValue if bad.code == INVALID else dbx.BadRequest
    with pytest.raises(dbx.DatabricksError) as err:
        call()
    assert type(err.value) is expected, (type(err.value), str(err.value))
    assert err.value.error_code == bad.code
    assert bad.fragment in str(err.value), str(err.value)


def test_the_base_job_is_valid_for_create_reset_and_update(w):
    job_id = create(w, base())
    reset(w, job_id, base())
    update(w, job_id, base())
    assert stored(w, job_id)["name"] == "rules-base"


@pytest.mark.parametrize("bad", REFUSED, ids=[b.id for b in REFUSED])
@pytest.mark.parametrize("op", ["create", "reset", "update"])
def test_refused(emu, w, op, bad):
    settings = variant(bad.change)
    if op == "create":
        before = len(emu.jobs_snapshot())
        assert_refused(lambda: create(w, settings), bad)
        assert len(emu.jobs_snapshot()) == before
        return
    job_id = create(w, base())
    kept = stored(w, job_id)
    send = reset if op == "reset" else update
    assert_refused(lambda: send(w, job_id, settings), bad)
    assert stored(w, job_id) == kept


@pytest.mark.parametrize(("name", "change"), ACCEPTED, ids=[name for name, _ in ACCEPTED])
def test_accepted(w, name, change):
    settings = variant(change)
    job_id = create(w, settings)
    reset(w, job_id, base())
    reset(w, job_id, settings)
    other = create(w, base())
    update(w, other, settings)
    assert stored(w, job_id)["name"] == settings["name"]


def test_git_provider_message_lists_the_providers_like_the_service(w):
    with pytest.raises(dbx.InvalidParameterValue) as err:
        create(w, variant(top(git_source={"git_url": GIT["git_url"], "git_branch": "main"})))
    prefix, _, values = str(err.value).partition(" must be one of: ")
    assert prefix == "git_source.git_provider"
    assert set(values.split(",")) == GIT_PROVIDERS  # as recorded by the Databricks CLI, in any order


# -- 9. unknown fields and dropped values ---------------------------------------------------------------


def test_unknown_fields_are_ignored_and_never_echoed(w):
    settings = base()
    settings["colour"] = "blue"
    settings["tasks"][0]["retries"] = 3
    settings["tasks"][0]["notebook_task"]["revision"] = 7
    settings["job_clusters"][0]["new_cluster"]["size"] = "large"
    settings["schedule"]["every"] = "day"
    job_id = create(w, settings)
    got = stored(w, job_id)
    assert "colour" not in got and "every" not in got["schedule"]
    assert "retries" not in got["tasks"][0] and "revision" not in got["tasks"][0]["notebook_task"]
    assert "size" not in got["job_clusters"][0]["new_cluster"]
    assert got["tasks"][0]["notebook_task"]["notebook_path"] == NOTEBOOK
    for send in (reset, update):
        send(w, job_id, {**settings, "shade": "dark"})
        assert "shade" not in stored(w, job_id) and "colour" not in stored(w, job_id)


def test_an_unknown_performance_target_is_accepted_and_dropped(w):
    # Measured on a live workspace (apache/airflow#72148): 200, and jobs/get shows no performance_target.
    job_id = create(w, variant(top(performance_target="STANDART")))
    assert "performance_target" not in stored(w, job_id)
    w.jobs.update(job_id, new_settings=jobs.JobSettings(performance_target=jobs.PerformanceTarget.STANDARD))
    assert stored(w, job_id)["performance_target"] == "STANDARD"


# -- Spark versions: known only when a run starts ------------------------------------------------------


def test_an_unknown_spark_version_is_accepted_and_fails_the_run(w):
    # The service creates the job; the run fails preparing the cluster with "Invalid spark version"
    # (databrickslabs/dbx#782). The emulator's list is clusters/spark-versions (seed.SPARK_VERSIONS).
    job_id = create(w, variant(cluster(spark_version="99.9.x-scala2.12")))
    run_id = w.jobs.run_now(job_id).run_id
    for _ in range(3):
        run = w.jobs.get_run(run_id)
    assert run.state.result_state.value == "FAILED"
    assert "Invalid spark version 99.9.x-scala2.12" in run.tasks[0].state.state_message
