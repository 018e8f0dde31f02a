"""GitOps export (agent/export.py, `jobagent export`): a job as bundle YAML or Jobs API JSON, and back."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from databricks.sdk.service.jobs import JobSettings

from agent import export
from agent.config import Settings
from agent.errors import JobAgentError
from agent.models import TaskState
from agent.state import TaskRecord, open_store
from tests.test_cli import SPECS, run_cli, task_id_from

MAVEN = (
    "com.databricks.labs:dbldatagen-with-a-very-long-artifact-name-for-wide-tables_2.12:"
    "0.4.0-incubating-and-an-equally-long-version-qualifier"
)
JOB = {  # a realistic multi-task job, as a team would keep it in Git
    "name": "Nightly Ingest (prod)",
    "description": "Loads yesterday's files.\nThen builds the marts.",
    "tasks": [
        {
            "task_key": "ingest",
            "job_cluster_key": "main",
            "notebook_task": {
                "notebook_path": "/Repos/etl/ingest",
                "base_parameters": {"env": "prod", "on": "yes"},
            },
            "libraries": [
                {"maven": {"coordinates": MAVEN, "exclusions": ["org.slf4j:slf4j-log4j12"]}},
                {"pypi": {"package": "pandas==2.2.0"}},
                {"whl": "/Volumes/main/libs/wheels/acme_etl-1.2.3-py3-none-any.whl"},
            ],
            "max_retries": 2,
            "min_retry_interval_millis": 60000,
            "retry_on_timeout": True,
        },
        {
            "task_key": "transform",
            "depends_on": [{"task_key": "ingest"}],
            "job_cluster_key": "main",
            "spark_python_task": {
                "python_file": "/Workspace/Shared/etl/transform.py",
                "parameters": ["--day", "{{job.start_time.iso_date}}", "0755", "true"],
            },
            "timeout_seconds": 3600,
        },
        {
            "task_key": "report",
            "depends_on": [{"task_key": "transform"}],
            "sql_task": {"warehouse_id": "abc123", "query": {"query_id": "q-1"}},
        },
    ],
    "job_clusters": [
        {
            "job_cluster_key": "main",
            "new_cluster": {
                "spark_version": "15.4.x-scala2.12",
                "node_type_id": "i3.xlarge",
                "autoscale": {"min_workers": 2, "max_workers": 8},
                "spark_conf": {"spark.sql.shuffle.partitions": "200"},
            },
        }
    ],
    "parameters": [{"name": "env", "default": "prod"}],
    "schedule": {"quartz_cron_expression": "0 30 2 ? * MON-FRI", "timezone_id": "Europe/Berlin"},
    "email_notifications": {"on_failure": ["data-eng@example.com", "oncall@example.com"]},
    "max_concurrent_runs": 2,
    "run_as": {"service_principal_name": "6f0c1b1e-2a6b-4c1e-9a5e-0d6d3b2f8a11"},
    "tags": {"team": "data-eng", "cost_center": "42"},
}
KEY = "nightly_ingest_prod"


def canonical(settings: dict) -> dict:
    return JobSettings.from_dict(settings).as_dict()


def test_a_bundle_round_trips_a_realistic_job():
    text = export.bundle_yaml(JOB, source="task t-1 / job 7 in a test workspace")
    first, second = text.splitlines()[:2]
    assert first == "# exported by jobagent from task t-1 / job 7 in a test workspace"
    assert second.startswith("# save as resources/nightly_ingest_prod.job.yml") and "include:" in second
    job = yaml.safe_load(text)["resources"]["jobs"][KEY]
    assert list(job)[:3] == ["name", "description", "tasks"] and list(job["tasks"][0])[0] == "task_key"
    assert canonical(job) == canonical(JOB)
    assert canonical(export.parse_bundle(text)[KEY]) == canonical(JOB)
    assert f"coordinates: {MAVEN}\n" in text  # one line, whole: never cut or folded
    assert export.left_out(JOB) == []


def test_json_round_trips():
    text = export.jobs_json(JOB)
    assert canonical(json.loads(text)) == canonical(JOB)
    assert text.index('"name"') < text.index('"tasks"')


def test_what_a_bundle_must_not_carry_is_left_out_and_named():
    stored = {
        **JOB,
        "format": "MULTI_TASK",
        "edit_mode": "UI_LOCKED",
        "deployment": {"kind": "BUNDLE", "metadata_file_path": "/Workspace/.bundle/x/metadata.json"},
        "tags": {**JOB["tags"], "jobagent_task": "t-1"},
        "git_source": {
            "git_url": "https://github.com/acme/etl",
            "git_provider": "github",  # the API reads it without regard to case
            "git_branch": "main",
            "git_snapshot": {"used_commit": "abc123"},
        },
        "access_control_list": [{"group_name": "data-eng", "permission_level": "CAN_MANAGE"}],
        "schedule": {**JOB["schedule"], "pause_status": "SOMETIMES"},
    }
    text = export.bundle_yaml(stored)
    job = yaml.safe_load(text)["resources"]["jobs"][KEY]
    assert not {"format", "edit_mode", "deployment", "access_control_list"} & set(job)
    assert job["tags"] == JOB["tags"] and job["git_source"]["git_provider"] == "gitHub"
    assert "git_snapshot" not in job["git_source"] and "pause_status" not in job["schedule"]
    assert job["permissions"] == [{"level": "CAN_MANAGE", "group_name": "data-eng"}]
    for line in (
        "edit_mode (set by the bundle deploy)",
        "git_source.git_snapshot (read-only)",
        "tags.jobagent_task (jobagent's own marker)",
    ):
        assert re.search(rf"^# left out {re.escape(line)}", text, re.M), line
    assert "# left out schedule.pause_status (not a Jobs API field or value" in text
    assert export.parse_bundle(text)[KEY]["access_control_list"] == stored["access_control_list"]
    data = json.loads(export.jobs_json(stored))  # jobs/create may set edit_mode; never format/deployment
    assert data["edit_mode"] == "UI_LOCKED" and not {"format", "deployment"} & set(data)
    assert data["access_control_list"] == stored["access_control_list"]
    warned = export.bundle_yaml({"name": "x", "parameters": [{"name": "p", "default": "${var.env}"}]})
    assert "# warning: parameters[0].default has ${var.env}, which a bundle reads" in warned


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("nightly-ingest", "nightly_ingest"),
        ("Nightly Ingest (prod)", "nightly_ingest_prod"),
        ("2024 report", "job_2024_report"),
        ("Café  über--alles", "cafe_uber_alles"),
        ("", "job"),
        ("---", "job"),
        ("日本語", "job"),
    ],
)
def test_resource_key(name, key):
    assert export.resource_key(name) == key
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", key)


def test_task_settings_prefers_the_job_as_stored_and_refuses_a_question():
    planned = {"name": "x", "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/a"}}]}
    record = TaskRecord(id="t-1", request="r", requester="alice", thread="th", settings=planned)
    assert export.task_settings(record) == planned
    stored = {**planned, "timeout_seconds": 0, "max_concurrent_runs": 1, "webhook_notifications": {}}
    stored["tasks"] = [{**planned["tasks"][0], "run_if": "ALL_SUCCESS", "max_retries": 3}]
    record.meta["applied"] = {"settings": stored}
    assert export.task_settings(record) == {  # minus what the service fills in by itself
        "name": "x",
        "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/a"}, "max_retries": 3}],
    }
    assert export.export_filename(planned, "bundle") == "x.job.yml"
    asking = TaskRecord(id="t-2", request="r", requester="a", thread="th", questions=["What should it run?"])
    asking.state = TaskState.NEEDS_INPUT
    with pytest.raises(JobAgentError, match="t-2 has no job settings to export.*answer its question"):
        export.task_settings(asking)


def test_cli_exports_a_planned_task(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JOBAGENT_STATE_PATH", str(tmp_path / "state"))
    code, out, _ = run_cli(capsys, "plan", "--file", str(SPECS / "ingest.json"))
    task = task_id_from(out)
    code, out, err = run_cli(capsys, "export", task)
    assert code == 0 and "State store:" in err and "planned settings" in err
    planned = open_store(Settings.from_env().state_path).get(task).settings
    job = yaml.safe_load(out)["resources"]["jobs"]["nightly_ingest"]
    assert canonical(job) == canonical(planned)
    target = tmp_path / "new-dir" / "nightly-ingest.json"
    code, out, err = run_cli(capsys, "export", task, "--format", "json", "-o", str(target))
    assert code == 0 and out == "" and f"Wrote {target}" in err
    assert json.loads(target.read_text())["name"] == "nightly-ingest"
    store = open_store(Settings.from_env().state_path)
    store.add(TaskRecord(id="t-asks", request="r", requester="a", thread="q", state=TaskState.NEEDS_INPUT))
    code, out, err = run_cli(capsys, "export", "t-asks")
    assert code == 1 and out == "" and "error: Task t-asks has no job settings to export" in err
