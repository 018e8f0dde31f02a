import pytest

from agent.diff import diff_settings, fingerprint, render_changes, update_for


def test_tasks_are_matched_by_key_not_position():
    old = {
        "name": "j",
        "tasks": [
            {"task_key": "a", "notebook_task": {"notebook_path": "/a"}},
            {"task_key": "b", "notebook_task": {"notebook_path": "/b"}},
        ],
    }
    new = {"name": "j", "tasks": list(reversed(old["tasks"]))}
    assert diff_settings(old, new) == []


def test_server_defaults_are_not_false_diffs():
    remote = {
        "name": "j",
        "format": "MULTI_TASK",
        "max_concurrent_runs": 1,
        "timeout_seconds": 0,
        "email_notifications": {},
        "queue": {"enabled": True},
        "run_as": {"user_name": "x"},
        "tasks": [{"task_key": "a", "run_if": "ALL_SUCCESS", "notebook_task": {"notebook_path": "/a"}}],
    }
    wanted = {"name": "j", "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/a"}}]}
    assert diff_settings(remote, wanted, owner="x") == []  # run_as the owner is what "unset" stores


def test_change_add_remove():
    old = {"name": "j", "tags": {"a": "1", "b": "2"}, "schedule": {"quartz_cron_expression": "0 0 2 * * ?"}}
    new = {"name": "j", "tags": {"a": "1", "c": "3"}, "schedule": {"quartz_cron_expression": "0 0 3 * * ?"}}
    got = [(c.op, c.path, c.old, c.new) for c in diff_settings(old, new)]
    assert got == [
        ("~", "schedule.quartz_cron_expression", "0 0 2 * * ?", "0 0 3 * * ?"),
        ("-", "tags.b", "2", None),
        ("+", "tags.c", None, "3"),
    ]


def test_fingerprint_changes_with_remote():
    assert fingerprint({"a": 1}) == fingerprint({"a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint(None) != fingerprint({})


def test_defaults_spelled_out_are_no_change_and_setting_one_is_an_addition():
    remote = {"name": "j", "max_concurrent_runs": 1, "timeout_seconds": 0}
    assert diff_settings(remote, {"name": "j", "max_concurrent_runs": 1}) == []
    got = [(c.op, c.path) for c in diff_settings(remote, {"name": "j", "timeout_seconds": 60})]
    assert got == [("+", "timeout_seconds")]
    got = [
        (c.op, c.path)
        for c in diff_settings({"name": "j", "timeout_seconds": 60}, {"name": "j", "timeout_seconds": 0})
    ]
    assert got == [("-", "timeout_seconds")]


def _ops(changes):
    return [(c.op, c.path, c.old, c.new) for c in changes]


def test_swapping_a_condition_branch_outcome_is_a_change():
    def job(outcome):
        return {
            "name": "j",
            "tasks": [
                {"task_key": "check", "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"}},
                {
                    "task_key": "go",
                    "depends_on": [{"task_key": "check", "outcome": outcome}],
                    "notebook_task": {"notebook_path": "/go"},
                },
            ],
        }

    got = _ops(diff_settings(job("true"), job("false")))
    assert got == [("~", 'tasks["go"].depends_on', ["check (outcome true)"], ["check (outcome false)"])]


@pytest.mark.parametrize(
    "field, value",
    [
        ("run_as", {"service_principal_name": "9f0c-app-id"}),
        ("edit_mode", "UI_LOCKED"),
        ("deployment", {"kind": "BUNDLE", "metadata_file_path": "/Workspace/b/state/metadata.json"}),
        ("description", "nightly load"),
    ],
)
def test_leaving_out_a_field_the_job_has_is_a_shown_removal(field, value):
    remote = {"name": "j", field: value, "run_as": {"user_name": "owner@x.com"}} | {field: value}
    wanted = {"name": "j"}
    changes = diff_settings(remote, wanted, owner="owner@x.com")
    assert changes and all(c.path.startswith(field) for c in changes)
    if field == "run_as":  # the job will run as its owner again: the plan says so
        assert ("+", "run_as.user_name", None, "owner@x.com") in _ops(changes)
    update = update_for(changes, wanted)
    assert update.fields_to_remove == [field] and update.new_settings == {}


def test_emptied_collections_are_removals_not_unknown_fields():
    remote = {
        "name": "j",
        "tags": {"team": "data"},
        "email_notifications": {"on_failure": ["a@x.com"]},
        "parameters": [{"name": "day", "default": "today"}],
    }
    wanted = {"name": "j", "tags": {}, "email_notifications": {"on_failure": []}, "parameters": []}
    changes = diff_settings(remote, wanted)
    assert {c.op for c in changes} == {"-"}
    removed = sorted(update_for(changes, wanted).fields_to_remove)
    assert removed == ["email_notifications", "parameters", "tags"]


def test_update_sends_only_changed_tasks_and_removes_dropped_ones():
    remote = {
        "name": "j",
        "tasks": [
            {"task_key": "a", "notebook_task": {"notebook_path": "/a"}},
            {"task_key": "b", "notebook_task": {"notebook_path": "/b"}, "max_retries": 1},
            {"task_key": "c", "notebook_task": {"notebook_path": "/c"}},
        ],
        "timeout_seconds": 60,
    }
    wanted = {
        "name": "j",
        "tasks": [
            {"task_key": "a", "notebook_task": {"notebook_path": "/a"}},
            {"task_key": "b", "notebook_task": {"notebook_path": "/b"}, "max_retries": 3},
        ],
        "timeout_seconds": 60,
    }
    update = update_for(diff_settings(remote, wanted), wanted)
    assert update.new_settings == {"tasks": [wanted["tasks"][1]]}
    assert update.fields_to_remove == ["tasks/c"]
    assert update.describe() == 'sets tasks["b"]; removes tasks/c'


def test_long_values_render_whole_never_cut():
    value = "com.databricks:spark-xml_2.12:0.18.0," * 8
    [line] = render_changes(diff_settings({"name": "j"}, {"name": "j", "description": value}), indent="")
    assert value in line
