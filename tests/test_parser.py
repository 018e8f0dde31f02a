"""The offline request parser: data-driven cases (tests/data/parser_cases.yaml) plus tricky merges."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from databricks.sdk.service.jobs import JobSettings

from agent.techlead import ParsedRequest, ParserDefaults, merge_settings, parse_request
from agent.techlead.markup import normalize

try:
    from agent.quartz import quartz_error, timezone_error
except ImportError:  # pragma: no cover - the validator lives in another module
    quartz_error = timezone_error = None

HERE = Path(__file__).parent
# The core file plus one file per family of job shapes (tests/data/parser_cases/*.yaml), same format.
CASE_FILES = [HERE / "data" / "parser_cases.yaml", *sorted((HERE / "data" / "parser_cases").glob("*.yaml"))]
CASES = [case for path in CASE_FILES for case in yaml.safe_load(path.read_text()) or []]
BASES = {"ingest": json.loads((HERE / "specs" / "ingest.json").read_text())}
TOPICS = {
    "tasks",
    "schedule",
    "trigger",
    "cluster",
    "notifications",
    "retries",
    "timeout",
    "concurrency",
    "parameters",
    "tags",
    "dependencies",
    "serverless",
    "sql",
    "dbt",
    "pipeline",
    "wheel",
    "run_job",
    "permissions",
    "condition",
    "for_each",
    "health",
    "queue",
    "run_as",
    "webhooks",
    "git",
    "libraries",
    "pool",
    "spot",
    "spark_conf",
}
_MISSING = object()


def _get(data: Any, path: str) -> Any:
    """Dotted path; ``tasks[key]`` selects a task by task_key, ``[0]`` by index; ``len(p)`` counts."""
    m = re.fullmatch(r"len\((.+)\)", path)
    if m:
        value = _get(data, m.group(1))
        return _MISSING if value is _MISSING else len(value)
    for part in re.findall(r"[^.\[\]]+(?:\[[^\]]+\])?", path):
        name, _, sel = part.partition("[")
        if not isinstance(data, dict) or name not in data:
            return _MISSING
        data = data[name]
        if sel:
            sel = sel.rstrip("]")
            if sel.isdigit():
                data = data[int(sel)] if int(sel) < len(data) else _MISSING
            else:
                data = next((t for t in data if t.get("task_key") == sel), _MISSING)
            if data is _MISSING:
                return _MISSING
    return data


def check_settings(settings: dict, *, patch: bool = False) -> None:
    """Every settings dict the parser makes is real Jobs API JSON, with sound keys, edges and crons.

    A patch (an update of a job not at hand) may hold one keyless task: the template for every task.
    """
    assert JobSettings.from_dict(settings).as_dict() == settings
    keys = [t.get("task_key") for t in settings.get("tasks", []) if t.get("task_key") or not patch]
    assert len(keys) == len(set(keys)), keys
    for key in keys:
        assert key and re.fullmatch(r"[\w\-.]{1,100}", key), key
    for t in settings.get("tasks", []):
        deps = [d["task_key"] for d in t.get("depends_on", [])]
        assert len(deps) == len(set(deps)), f"{t['task_key']} waits for the same task twice: {deps}"
        for dep in t.get("depends_on", []):
            assert (patch or dep["task_key"] in keys) and dep["task_key"] != t["task_key"]
    cluster_keys = {jc["job_cluster_key"] for jc in settings.get("job_clusters", [])}
    env_keys = {e["environment_key"] for e in settings.get("environments", [])}
    for t in settings.get("tasks", []):
        if t.get("job_cluster_key"):
            assert t["job_cluster_key"] in cluster_keys
        if t.get("environment_key"):
            assert t["environment_key"] in env_keys
    sched = settings.get("schedule")
    if sched and quartz_error and sched.get("quartz_cron_expression"):
        assert quartz_error(sched["quartz_cron_expression"]) is None, sched
        assert timezone_error(sched["timezone_id"]) is None, sched


def _run(case: dict) -> ParsedRequest:
    base = case.get("base")
    if isinstance(base, str):
        base = BASES[base]
    defaults = ParserDefaults(**case.get("defaults", {}))
    return parse_request(case["request"], base=copy.deepcopy(base) if base else None, defaults=defaults)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict) -> None:
    result = _run(case)
    assert result.action == case.get("action", "create")
    assert result.job_ref == case.get("job_ref")
    assert set(result.topics) <= TOPICS
    for topic in case.get("topics", []):
        assert topic in result.topics, result.topics
    for text in case.get("questions", []):
        assert any(text.lower() in q.lower() for q in result.questions), result.questions
    if "questions" not in case:
        assert result.questions == []
    for text in case.get("assumptions", []):
        assert any(text.lower() in a.lower() for a in result.assumptions), result.assumptions
    assert result.unused == case.get("unused", []), "not acted on: " + repr(result.unused)
    if case.get("settings", "given") is None:
        assert result.settings is None
        return
    if not case.get("expect") and not case.get("absent"):
        return
    settings = result.settings
    assert settings is not None, result.questions
    check_settings(settings, patch=result.action == "update" and not case.get("base"))
    for path, want in (case.get("expect") or {}).items():
        got = _get(settings, path)
        if want is None:
            assert got is _MISSING, f"{path} = {got!r}, expected absent"
        else:
            assert got == want, f"{path}: {got!r} != {want!r}"
    for path in case.get("absent", []):
        assert _get(settings, path) is _MISSING, f"{path} should be absent: {_get(settings, path)!r}"
    if result.action == "create":
        assert result.touched == set(settings)
        assert settings.get("name"), "a new job always has a name (given or derived)"
    else:
        assert result.touched


def test_case_count_and_coverage() -> None:
    """The data file keeps its breadth: many cases, many follow-ups and questions."""
    assert len(CASES) >= 90
    assert sum(1 for c in CASES if c.get("base")) >= 12
    assert sum(1 for c in CASES if c.get("questions")) >= 6


# ------------------------------------------------------------------------------- markup
def test_markup_normalisation() -> None:
    text = normalize(
        "<@U1> run <https://x.y/z|/Repos/a> &amp; email <mailto:a@b.co|a@b.co> in <#C9|ops> “now” — ok"
    )
    assert text == 'run /Repos/a & email a@b.co in #ops "now" - ok'


def test_slack_autolinked_file_name_is_read_as_typed() -> None:
    r = parse_request("run <http://etl.py|etl.py> from /Workspace/scripts/<http://etl.py|etl.py> hourly")
    assert r.settings["tasks"][0]["spark_python_task"]["python_file"] == "/Workspace/scripts/etl.py"


# ------------------------------------------------------------------------------- merges
BASE = BASES["ingest"]


def test_merge_leaves_inputs_untouched_and_patch_object_accepted() -> None:
    before = copy.deepcopy(BASE)
    patch = parse_request("update job 5: retry 4 times and tag it tier=gold")
    merged = merge_settings(BASE, patch, patch.touched)
    assert before == BASE
    assert [t["max_retries"] for t in merged["tasks"]] == [4, 4]
    assert merged["tags"] == {"tier": "gold"}
    assert merge_settings(BASE, patch) == merged  # touched taken from the ParsedRequest
    check_settings(merged)


@pytest.mark.parametrize(
    "request_text",
    [
        "make it 3am instead",
        "also email bob@corp.com on success",
        "use a large cluster",
        "rename it to x-ingest",
        "remove the schedule",
        "time out after 45 minutes and allow 2 concurrent runs",
        "switch to serverless",
        "add a task that runs /Repos/etl/publish after transform",
        "parameters env=prod",
        "add pandas==2.2 to the ingest task",
        "switch it to spot with fallback",
        "set spark.sql.shuffle.partitions=400 and env var ENV=staging",
        "move it to github https://github.com/acme/etl branch dev",
    ],
)
def test_follow_up_equals_patch_merged_by_caller(request_text: str) -> None:
    """A follow-up with the job at hand and a named update merged later give the same settings (where the
    change does not depend on the current values)."""
    with_base = parse_request(request_text, base=copy.deepcopy(BASE))
    named = parse_request(f"update job 7: {request_text}")
    assert named.action == "update" and named.job_ref == 7
    merged = merge_settings(BASE, named.settings, named.touched)
    if request_text.startswith("make it"):
        assert merged["schedule"]["quartz_cron_expression"] == "0 0 3 * * ?"  # days unknown without the job
        assert with_base.settings["schedule"]["quartz_cron_expression"] == "0 0 3 ? * MON-FRI"
    elif "publish" in request_text:
        assert _get(merged, "tasks[publish].depends_on") == [{"task_key": "transform"}]
        assert _get(with_base.settings, "tasks[publish].depends_on") == [{"task_key": "transform"}]
    else:
        assert merged == with_base.settings
    check_settings(merged)


def test_remove_task_rewires_dependants() -> None:
    base = {
        "name": "j",
        "tasks": [
            {"task_key": "a", "notebook_task": {"notebook_path": "/Repos/a"}},
            {
                "task_key": "b",
                "notebook_task": {"notebook_path": "/Repos/b"},
                "depends_on": [{"task_key": "a"}],
            },
            {
                "task_key": "c",
                "notebook_task": {"notebook_path": "/Repos/c"},
                "depends_on": [{"task_key": "b"}],
            },
        ],
    }
    out = merge_settings(base, {"tasks": [{"task_key": "b"}]}, {"tasks"})
    assert [t["task_key"] for t in out["tasks"]] == ["a", "c"]
    assert out["tasks"][1]["depends_on"] == [{"task_key": "a"}]


def test_serverless_moves_wheel_libraries_into_environment() -> None:
    base = {
        "name": "w",
        "job_clusters": [
            {
                "job_cluster_key": "c",
                "new_cluster": {
                    "spark_version": "15.4.x-scala2.12",
                    "node_type_id": "i3.xlarge",
                    "num_workers": 1,
                },
            }
        ],
        "tasks": [
            {
                "task_key": "w",
                "job_cluster_key": "c",
                "libraries": [{"whl": "/Volumes/l/w.whl"}],
                "python_wheel_task": {"package_name": "w", "entry_point": "main"},
            },
            {"task_key": "n", "job_cluster_key": "c", "notebook_task": {"notebook_path": "/Repos/n"}},
        ],
    }
    out = parse_request("move it to serverless compute", base=base).settings
    assert "job_clusters" not in out
    assert out["tasks"][0]["environment_key"] == "default" and "libraries" not in out["tasks"][0]
    assert "environment_key" not in out["tasks"][1] and "job_cluster_key" not in out["tasks"][1]
    assert out["environments"][0]["spec"]["dependencies"] == ["/Volumes/l/w.whl"]
    check_settings(out)


def test_cluster_change_on_serverless_job_builds_a_cluster() -> None:
    base = {
        "name": "s",
        "tasks": [
            {
                "task_key": "p",
                "spark_python_task": {"python_file": "/Workspace/p.py"},
                "environment_key": "default",
            }
        ],
        "environments": [{"environment_key": "default", "spec": {"environment_version": "2"}}],
    }
    out = parse_request("use 3 workers on m5d.xlarge", base=base).settings
    assert out["job_clusters"][0]["new_cluster"] == {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "m5d.xlarge",
        "num_workers": 3,
    }
    assert out["tasks"][0]["job_cluster_key"] == "main" and "environment_key" not in out["tasks"][0]
    assert "environments" not in out
    check_settings(out)


def test_per_task_new_cluster_is_resized_in_place() -> None:
    base = {
        "name": "t",
        "tasks": [
            {
                "task_key": "a",
                "notebook_task": {"notebook_path": "/Repos/a"},
                "new_cluster": {
                    "spark_version": "14.3.x-scala2.12",
                    "node_type_id": "r5.xlarge",
                    "autoscale": {"min_workers": 1, "max_workers": 3},
                },
            }
        ],
    }
    out = parse_request("give it 10 workers", base=base).settings
    assert out["tasks"][0]["new_cluster"] == {
        "spark_version": "14.3.x-scala2.12",
        "node_type_id": "r5.xlarge",
        "num_workers": 10,
    }
    assert "job_clusters" not in out


def test_pause_patch_without_job_pauses_whatever_the_job_has() -> None:
    patch = parse_request("pause job 12")
    for base, field in (
        ({"trigger": {"file_arrival": {"url": "/Volumes/a/b/c/"}}}, "trigger"),
        ({"continuous": {"pause_status": "UNPAUSED"}}, "continuous"),
        ({"schedule": {"quartz_cron_expression": "0 0 1 * * ?", "timezone_id": "UTC"}}, "schedule"),
    ):
        merged = merge_settings(base, patch.settings, patch.touched)
        assert merged[field]["pause_status"] == "PAUSED"
        assert set(merged) == {field}


def test_email_lists_union_without_duplicates_and_parameters_merge_by_name() -> None:
    base = {
        "email_notifications": {"on_failure": ["a@x.io"]},
        "parameters": [{"name": "env", "default": "dev"}, {"name": "day", "default": "mon"}],
    }
    patch = {
        "email_notifications": {"on_failure": ["a@x.io", "b@x.io"], "on_start": ["c@x.io"]},
        "parameters": [{"name": "env", "default": "prod"}],
    }
    out = merge_settings(base, patch, {"email_notifications", "parameters"})
    assert out["email_notifications"] == {"on_failure": ["a@x.io", "b@x.io"], "on_start": ["c@x.io"]}
    assert out["parameters"] == [{"name": "day", "default": "mon"}, {"name": "env", "default": "prod"}]


def test_new_task_in_follow_up_inherits_sibling_compute_and_retry_policy() -> None:
    r = parse_request(
        "add /Workspace/scripts/notify.py after transform and retry it twice", base=copy.deepcopy(BASE)
    )
    task = _get(r.settings, "tasks[notify]")
    assert task["job_cluster_key"] == "main" and task["max_retries"] == 2
    assert task["depends_on"] == [{"task_key": "transform"}]
    assert r.touched == {"tasks"}


def test_follow_up_new_task_key_is_unique_against_existing_keys() -> None:
    r = parse_request("also run /Repos/other/ingest in parallel", base=copy.deepcopy(BASE))
    keys = [t["task_key"] for t in r.settings["tasks"]]
    assert keys == ["ingest", "transform", "ingest_2"]
    assert "depends_on" not in r.settings["tasks"][2]


def test_never_invents_paths() -> None:
    r = parse_request("run the ingest notebook every day at 2")
    assert r.settings is None and any("workspace path" in q for q in r.questions)


def test_every_place_word_names_its_zone_and_weak_ones_only_as_a_zone():
    """The place rules run only when some place word occurs at all: none may be skipped by that gate."""
    from agent.techlead.scan import Scan
    from agent.techlead.timezones import _WEAK, PLACES, find_timezone

    for word, zone in {**PLACES, **_WEAK}.items():
        assert find_timezone(Scan(f"run it daily at 9am {word} time"))[0] == zone, word
        assert find_timezone(Scan(f"run it daily at 9AM {word.title()}"))[0] == zone, word
        if word in _WEAK:  # an ordinary word ("central", "rio") is no zone on its own
            assert find_timezone(Scan(f"the {word} team runs it daily"))[0] is None, word
    assert find_timezone(Scan("daily at 6am, the usual")) == (None, None)
