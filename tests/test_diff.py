from agent.diff import diff_settings, fingerprint


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
    assert diff_settings(remote, wanted) == []


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
