"""Change sets merged into current settings, and answers in strict/wire shape read back (pure functions)."""

from __future__ import annotations

import json

import pytest

from agent.changeset import merge, parse_path
from agent.llm_answer import message_text, parse_answer
from agent.llm_schema import answer_schema, from_wire

CURRENT = {
    "name": "nightly",
    "tasks": [
        {
            "task_key": "ingest",
            "notebook_task": {"notebook_path": "/Repos/etl/ingest", "base_parameters": {"env": "prod"}},
            "libraries": [{"pypi": {"package": "requests"}}],
            "job_cluster_key": "main",
        },
        {
            "task_key": "report",
            "depends_on": [{"task_key": "ingest"}],
            "notebook_task": {"notebook_path": "/r"},
        },
    ],
    "job_clusters": [
        {
            "job_cluster_key": "main",
            "new_cluster": {
                "spark_version": "15.4.x-scala2.12",
                "node_type_id": "i3.xlarge",
                "num_workers": 2,
                "aws_attributes": {"availability": "SPOT"},
                "spark_env_vars": {"A": "1"},
            },
        }
    ],
    "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"},
    "webhook_notifications": {"on_failure": [{"id": "hook-1"}]},
    "tags": {"team": "data", "cost": "42"},
}


def test_set_merges_objects_and_keyed_lists_and_keeps_everything_else():
    merged = merge(
        CURRENT,
        {
            "schedule": {"quartz_cron_expression": "0 0 3 * * ?"},
            "tasks": [{"task_key": "ingest", "max_retries": 2}, {"task_key": "extra"}],
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": {"num_workers": 4}}],
            "tags": {"owner": "ana"},
        },
        [],
    ).settings
    assert merged["schedule"] == {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC"}
    ingest = merged["tasks"][0]
    assert ingest["max_retries"] == 2 and ingest["libraries"] == CURRENT["tasks"][0]["libraries"]
    assert [t["task_key"] for t in merged["tasks"]] == ["ingest", "report", "extra"]
    cluster = merged["job_clusters"][0]["new_cluster"]
    assert cluster["num_workers"] == 4 and cluster["aws_attributes"] == {"availability": "SPOT"}
    assert cluster["spark_env_vars"] == {"A": "1"}
    assert merged["webhook_notifications"] == CURRENT["webhook_notifications"]
    assert merged["tags"] == {"team": "data", "cost": "42", "owner": "ana"}
    assert CURRENT["schedule"]["quartz_cron_expression"] == "0 0 2 * * ?"  # the input is not touched


def test_plain_lists_are_replaced_whole():
    merged = merge(CURRENT, {"tasks": [{"task_key": "report", "depends_on": []}]}, []).settings
    assert merged["tasks"][1]["depends_on"] == []


@pytest.mark.parametrize(
    ("path", "check"),
    [
        ("schedule", lambda s: "schedule" not in s),
        ("tasks/report", lambda s: [t["task_key"] for t in s["tasks"]] == ["ingest"]),
        ('tasks["report"]', lambda s: len(s["tasks"]) == 1),
        ("tasks[ingest].libraries", lambda s: "libraries" not in s["tasks"][0]),
        ("tags.cost", lambda s: s["tags"] == {"team": "data"}),
        ("webhook_notifications.on_failure", lambda s: "webhook_notifications" not in s),
        ("job_clusters/main.new_cluster.aws_attributes", lambda s: "aws_attributes" not in str(s)),
    ],
)
def test_remove_paths(path, check):
    merged = merge(CURRENT, {}, [path])
    assert merged.removed == [path] and not merged.not_found
    assert check(merged.settings)


def test_remove_that_matches_nothing_is_reported_not_ignored():
    merged = merge(CURRENT, {}, ["trigger", "tasks/nope"])
    assert merged.not_found == ["trigger", "tasks/nope"] and merged.settings == CURRENT


def test_remove_then_set_replaces_a_task_type():
    merged = merge(
        CURRENT,
        {"tasks": [{"task_key": "report", "spark_python_task": {"python_file": "/r.py"}}]},
        ["tasks/report.notebook_task"],
    ).settings
    assert merged["tasks"][1] == {
        "task_key": "report",
        "depends_on": [{"task_key": "ingest"}],
        "spark_python_task": {"python_file": "/r.py"},
    }


@pytest.mark.parametrize("bad", ["tasks/a/b", "tasks[x", ""])
def test_unreadable_paths_are_problems(bad):
    assert merge(CURRENT, {}, [bad]).problems
    with pytest.raises(ValueError):
        parse_path(bad)


def test_from_wire_drops_nulls_and_empties_and_rebuilds_maps():
    wire = {
        "name": "x",
        "description": None,
        "environments": None,
        "job_clusters": [],
        "tags": [{"key": "team", "value": "data"}],
        "email_notifications": {"on_failure": ["a@b.c"], "on_success": None, "on_start": []},
        "tasks": [
            {
                "task_key": "t",
                "existing_cluster_id": "",
                "job_cluster_key": "",
                "notebook_task": {
                    "notebook_path": "/n",
                    "base_parameters": [{"key": "k", "value": "v"}, {"key": "empty", "value": ""}],
                    "source": None,
                },
                "depends_on": [],
                "timeout_seconds": 0,
                "retry_on_timeout": False,
            }
        ],
    }
    assert from_wire(wire) == {
        "name": "x",
        "tags": {"team": "data"},
        "email_notifications": {"on_failure": ["a@b.c"]},
        "tasks": [
            {
                "task_key": "t",
                "notebook_task": {"notebook_path": "/n", "base_parameters": {"k": "v", "empty": ""}},
                "timeout_seconds": 0,
                "retry_on_timeout": False,
            }
        ],
    }


def _strict_nulls(schema: dict) -> dict:
    """Every property of the answer schema's top level present, the unused ones null (strict style)."""
    return {name: None for name in schema["properties"]}


def test_strict_style_create_answer_validates():
    answer = {
        **_strict_nulls(answer_schema("create")),
        "job_settings": {
            **{
                k: None
                for k in answer_schema("create")["properties"]["job_settings"]["anyOf"][0]["properties"]
            },
            "name": "daily",
            "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/x"}, "environment_key": None}],
            "environments": None,
        },
        "assumptions": [],
        "questions": [],
        "unused": [],
        "citations": [1],
    }
    parsed, problems = parse_answer(json.dumps(answer))
    assert problems == []
    assert parsed.settings == {
        "name": "daily",
        "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/x"}}],
    }


def test_update_answer_is_a_change_set_merged_into_the_base():
    answer = {
        "change_set": {
            "set": {"schedule": {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": None}},
            "remove": [],
        },
        "assumptions": [],
        "questions": [],
        "unused": [],
        "citations": [],
        "refusal": None,
    }
    parsed, problems = parse_answer(json.dumps(answer), action="update", base=CURRENT)
    assert problems == []
    assert parsed.settings["schedule"]["quartz_cron_expression"] == "0 0 3 * * ?"
    assert parsed.settings["webhook_notifications"] == CURRENT["webhook_notifications"]
    assert parsed.settings["job_clusters"][0]["new_cluster"]["aws_attributes"] == {"availability": "SPOT"}


def test_whole_settings_for_an_update_are_merged_never_removing():
    full = {"job_settings": {"name": "renamed", "tasks": [{"task_key": "ingest", "max_retries": 1}]}}
    parsed, problems = parse_answer(json.dumps(full), action="update", base=CURRENT)
    assert problems == [] and parsed.settings["name"] == "renamed"
    assert [t["task_key"] for t in parsed.settings["tasks"]] == ["ingest", "report"]
    assert parsed.settings["webhook_notifications"] == CURRENT["webhook_notifications"]
    change = {
        "change_set": {
            "set": {"name": "new", "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/a"}}]},
            "remove": [],
        }
    }
    parsed, problems = parse_answer(json.dumps(change))
    assert problems == [] and parsed.settings["name"] == "new"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("plain", "plain"),
        (None, ""),
        (
            [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
                {"type": "text", "text": "{}"},
            ],
            "{}",
        ),
        ([{"type": "text", "text": '{"a"'}, {"type": "text", "text": ": 1}"}], '{"a": 1}'),
    ],
)
def test_message_text_takes_the_text_blocks(content, expected):
    assert message_text(content) == expected


def test_fenced_json_is_read():
    body = "```json\n" + json.dumps({"job_settings": None, "questions": ["Which notebook?"]}) + "\n```"
    parsed, problems = parse_answer(body)
    assert problems == [] and parsed.questions == ["Which notebook?"]
