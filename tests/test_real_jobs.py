"""Real-shaped job definitions collected from public sources, through the real Worker and SDK.

Each file in tests/data/real_jobs/ is the body of a Jobs API 2.2 `jobs/create` call as real users
and tools write it (see tests/data/real_jobs/README.md for where each comes from). For every one:
plan a create as `jobagent plan --file` would, approve, apply, read the job back with `jobs.get` and
compare it to the file; then plan a one-field update of the full spec, check the plan shows exactly
that change, apply it and read back again. Definitions the real Jobs API would refuse live in
tests/data/real_jobs/invalid/; the Worker's plan must refuse each of them with a clear message.
"""

from __future__ import annotations

import base64
import copy
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings, WorkspaceHandle
from agent.errors import JobAgentError
from agent.models import TaskState
from agent.runtime import Runtime
from agent.specfile import assignment_from_spec, canonical, load_spec
from agent.workspace import TASK_TAG
from standins.databricks.seed import DEFAULT_USER as ADMIN

DATA = Path(__file__).parent / "data" / "real_jobs"
VALID = sorted(DATA.glob("*.json"))
INVALID = sorted((DATA / "invalid").glob("*.json"))
META = ("_source", "_why")  # our own annotations in each file, stripped before use

# What the Jobs service fills in by itself when a create/reset leaves a field out (value it stores).
# A read-back field is ignored only when the spec does not mention it and it has exactly this value.
JOB_FILLED = {
    "format": "MULTI_TASK",
    "email_notifications": {},
    "webhook_notifications": {},
    "timeout_seconds": 0,
    "max_concurrent_runs": 1,
    "queue": {"enabled": True},
    # "run_as": {"user_name": <the caller>} - added for the emulator's user in `without_service_defaults`.
}
TASK_FILLED = {
    "run_if": "ALL_SUCCESS",
    "timeout_seconds": 0,
    "email_notifications": {},
    "webhook_notifications": {},
}

# Lists whose items are identified by a key, compared item by item whatever their order.
KEYED_LISTS = {"tasks": "task_key", "job_clusters": "job_cluster_key", "environments": "environment_key"}

# Valid definitions that jobagent refuses or changes (strict: a change → XPASS, and this list is updated).
KNOWN_FAILURES: dict[str, str] = {
    "tf_acc_periodic_trigger_no_tasks": (
        "on purpose: jobagent refuses a job with nothing to run ('The job has no tasks'), although the Jobs "
        "API creates one (TestAccPeriodicTrigger does so against a real workspace)"
    ),
}
# Definitions whose one-field update (only) is known to go wrong.
UPDATE_FAILURES: dict[str, str] = {}
# Invalid definitions that the Worker's plan does not refuse yet.
NOT_REFUSED: dict[str, str] = {}


def _params(paths: list[Path], failures: dict[str, str]) -> list[Any]:
    for name in failures:
        assert any(p.stem == name for p in paths), f"{name} is listed as a known failure but has no file"
    return [
        pytest.param(p, id=p.stem, marks=[pytest.mark.xfail(strict=True, reason=failures[p.stem])])
        if p.stem in failures
        else pytest.param(p, id=p.stem)
        for p in paths
    ]


def read_spec(path: Path) -> dict[str, Any]:
    """The file as `jobagent plan --file` reads it, minus our annotations, with case-insensitive values
    spelled as the SDK spells them (git_provider "github" is stored as "gitHub")."""
    raw = load_spec(path)
    for key in META:
        raw.pop(key, None)
    return canonical(raw)


# -- workspace objects the definitions point at ---------------------------------------------------


def all_tasks(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for task in spec.get("tasks") or []:
        yield task
        inner = (task.get("for_each_task") or {}).get("task")
        if inner:
            yield inner


def add_run_as_identities(emulator: Any, specs: list[dict[str, Any]]) -> None:
    """The users and service principals the definitions run as exist in their workspaces; here too
    (the admin who applies them holds the Service Principal User role, as Databricks requires)."""
    for spec in specs:
        run_as = spec.get("run_as") or {}
        if run_as.get("user_name"):
            emulator.add_user(run_as["user_name"])
        if run_as.get("service_principal_name"):
            app_id = run_as["service_principal_name"]
            emulator.add_service_principal(app_id[:8], application_id=app_id, users=[ADMIN])


def workspace_objects(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, path) of each notebook and file the job reads from the workspace (not from Git)."""
    default_source = "GIT" if spec.get("git_source") else "WORKSPACE"
    for task in all_tasks(spec):
        notebook = task.get("notebook_task") or {}
        python = task.get("spark_python_task") or {}
        sql_file = (task.get("sql_task") or {}).get("file") or {}
        for kind, body, field in (
            ("NOTEBOOK", notebook, "notebook_path"),
            ("FILE", python, "python_file"),
            ("FILE", sql_file, "path"),
        ):
            path = body.get(field) or ""
            if path.startswith("/") and body.get("source", default_source) == "WORKSPACE":
                yield kind, path


def _put(client: Any, kind: str, path: str) -> None:
    from databricks.sdk.service.workspace import ImportFormat, Language

    client.workspace.mkdirs(path.rsplit("/", 1)[0])
    if kind == "NOTEBOOK":
        source = b"# Databricks notebook source\nprint('real job fixture')\n"
        client.workspace.import_(
            path,
            content=base64.b64encode(source).decode(),
            format=ImportFormat.SOURCE,
            language=Language.PYTHON,
            overwrite=True,
        )
    else:
        client.workspace.import_(
            path, content=base64.b64encode(b"-- fixture\n").decode(), format=ImportFormat.RAW, overwrite=True
        )


# -- one emulator for the module, a Worker per test -------------------------------------------------


class World:
    """The module's emulator and SDK client, and the jobs the create tests made in it."""

    def __init__(self, handle: WorkspaceHandle, client: Any, user: str):
        self.handle, self.client, self.user = handle, client, user
        self.created: dict[str, tuple[int, str]] = {}  # file stem -> (job id, creating task id)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """One emulator for the module, holding every notebook and file the valid definitions read."""
    from standins.databricks import WorkspaceEmulator

    with WorkspaceEmulator() as emulator:
        client = emulator.client()
        objects = {obj for path in VALID for obj in workspace_objects(read_spec(path))}
        for kind, path in sorted(objects):
            _put(client, kind, path)
        add_run_as_identities(emulator, [read_spec(path) for path in VALID])
        handle = WorkspaceHandle(client, f"emulator at {emulator.url}")
        yield World(handle, client, client.current_user.me().user_name)


@pytest.fixture
def rt(world: World, settings: Settings) -> Iterator[Runtime]:
    """A Worker per test (its own state and notes, see conftest) on the shared emulator."""
    with Runtime(settings, world.handle) as runtime:
        yield runtime


# -- plan → approve → apply → read back ----------------------------------------------------------


def plan(rt: Runtime, spec: dict[str, Any], thread: str, job_id: int | None = None):
    """What `jobagent plan --file` does with the spec (optionally `--job-id`)."""
    assignment = assignment_from_spec(copy.deepcopy(spec), job_id)
    # asked by the workspace admin: these are definitions people run, some with another run_as identity
    return rt.worker.submit(assignment, request=f"spec {thread}", requester=ADMIN, thread=thread)


def approve_and_apply(rt: Runtime, record) -> int:
    assert record.state is TaskState.PLANNED, record.error
    rt.worker.approve(record.id, by=ADMIN)
    done = rt.worker.apply(record.id)
    assert done.state is TaskState.COMPLETE, done.error
    return done.job_id


def read_back(world: World, job_id: int) -> tuple[dict[str, Any], str | None]:
    """The job's settings as `jobs.get` returns them through the SDK, and its provenance tag."""
    settings = world.client.jobs.get(job_id).settings.as_dict()
    tags = settings.get("tags") or {}
    provenance = tags.pop(TASK_TAG, None)
    if "tags" in settings and not tags:
        del settings["tags"]
    return settings, provenance


def without_service_defaults(actual: dict[str, Any], spec: dict[str, Any], user: str) -> dict[str, Any]:
    """`actual` less the values the service filled in for fields that `spec` leaves out."""
    out = copy.deepcopy(actual)
    for key, value in {**JOB_FILLED, "run_as": {"user_name": user}}.items():
        if key not in spec and out.get(key) == value:
            del out[key]
    wanted = {t.get("task_key"): t for t in spec.get("tasks") or []}
    for task in out.get("tasks") or []:
        spec_task = wanted.get(task.get("task_key"), {})
        for key, value in TASK_FILLED.items():
            if key not in spec_task and task.get(key) == value:
                del task[key]
    return out


def by_key(items: Any, key: str) -> Any:
    """A keyed list (tasks, job clusters, environments) as {key: item}: the service may reorder it."""
    if isinstance(items, list) and all(isinstance(i, dict) and key in i for i in items):
        return {f'"{i[key]}"': i for i in items}
    return items


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Readable paths where the job differs from the spec."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            here = f"{path}.{key}" if path else key
            if key in KEYED_LISTS and key in expected and key in actual:
                item_key = KEYED_LISTS[key]
                out.extend(differences(by_key(expected[key], item_key), by_key(actual[key], item_key), here))
            elif key not in actual:
                out.append(f"{here}: missing from the job (spec has {json.dumps(expected[key])})")
            elif key not in expected:
                out.append(f"{here}: not in the spec, the job has {json.dumps(actual[key])}")
            else:
                out.extend(differences(expected[key], actual[key], here))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        pairs = enumerate(zip(expected, actual, strict=True))
        return [d for i, (e, a) in pairs for d in differences(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: spec {json.dumps(expected)}, job {json.dumps(actual)}"]


def assert_reads_back_equal(world: World, job_id: int, spec: dict[str, Any], task_id: str) -> None:
    actual, provenance = read_back(world, job_id)
    assert provenance == task_id, f"provenance tag {TASK_TAG}={provenance!r}, expected {task_id!r}"
    problems = differences(spec, without_service_defaults(actual, spec, world.user))
    assert not problems, "the job read back differs from the spec:\n  " + "\n  ".join(problems)


def create(rt: Runtime, world: World, path: Path) -> tuple[int, str]:
    """The job of this definition, created once per module (by its create test, or here)."""
    if path.stem not in world.created:
        record = plan(rt, read_spec(path), thread=f"create-{path.stem}")
        assert record.plan and record.plan["action"] == "create", record.error
        world.created[path.stem] = (approve_and_apply(rt, record), record.id)
    return world.created[path.stem]


@pytest.mark.parametrize("path", _params(VALID, KNOWN_FAILURES))
def test_create_reads_back_equal(rt: Runtime, world: World, path: Path) -> None:
    job_id, task_id = create(rt, world, path)
    assert_reads_back_equal(world, job_id, read_spec(path), task_id)


# -- one-field update ------------------------------------------------------------------------------


def one_field_change(name: str, spec: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The spec with one field changed (which one follows from the file name), and its plan path."""
    changed = copy.deepcopy(spec)
    retry_tasks = [t for t in changed.get("tasks") or [] if "condition_task" not in t]
    options = ["timeout_seconds", "max_concurrent_runs", "max_retries"]
    start = zlib.crc32(name.encode()) % len(options)
    for option in options[start:] + options[:start]:
        if option == "timeout_seconds":
            changed["timeout_seconds"] = (changed.get("timeout_seconds") or 0) + 3600
            return changed, "timeout_seconds"
        if option == "max_concurrent_runs" and not changed.get("continuous"):  # continuous jobs run one
            changed["max_concurrent_runs"] = (changed.get("max_concurrent_runs") or 1) + 1
            return changed, "max_concurrent_runs"
        if option == "max_retries" and retry_tasks:  # condition tasks are never retried
            task = retry_tasks[0]
            task["max_retries"] = max(task.get("max_retries") or 0, 0) + 1
            return changed, f'tasks["{task["task_key"]}"].max_retries'
    raise AssertionError(f"no one-field change applies to {name}")


@pytest.mark.parametrize("path", _params(VALID, {**KNOWN_FAILURES, **UPDATE_FAILURES}))
def test_one_field_update_plans_one_change(rt: Runtime, world: World, path: Path) -> None:
    job_id, task_id = create(rt, world, path)
    changed, field = one_field_change(path.stem, read_spec(path))
    record = plan(rt, changed, thread=f"update-{path.stem}", job_id=job_id)
    assert record.state is TaskState.PLANNED, record.error
    assert [c["path"] for c in record.plan["changes"]] == [field], record.plan["text"]
    assert approve_and_apply(rt, record) == job_id
    assert_reads_back_equal(world, job_id, changed, task_id)


# -- definitions the real Jobs API would refuse ---------------------------------------------------

# What the refusal must mention, per invalid definition: the offending field or value.
REFUSAL_MENTIONS = {
    "be_mlops_monitoring_git_source_info_on_task": "git_source_info",
    "be_save_to_volume_trigger_without_periodic": "trigger.interval",
    "be_table_update_trigger_zero_interval": "min_time_between_triggers_seconds",
    "cli_generate_git_branch_and_commit": "git_commit",
    "dbx_email_on_start_string": "on_start",
    "dbx_single_task_2_0_format": "new_cluster",
    "docs_api_sample_all_triggers": "continuous",
    "tf_exporter_job_level_retries": "max_retries",
    "tf_unit_git_source_absolute_notebook": "/GitSourcedNotebook",
    "user_dbacademy_cloud_prefixed_template": "aws:node_type_id",
}


def test_every_definition_says_where_it_comes_from() -> None:
    assert sorted(REFUSAL_MENTIONS) == [p.stem for p in INVALID]
    readme = (DATA / "README.md").read_text()
    for path in VALID + INVALID:
        raw = json.loads(path.read_text())
        assert raw.get("_source"), f"{path.name} needs a _source"
        assert bool(raw.get("_why")) == (path in INVALID), f"{path.name}: _why is for invalid/ only"
        assert path.name in readme, f"README.md does not list {path.name}"


@pytest.mark.parametrize("path", _params(INVALID, NOT_REFUSED))
def test_invalid_definition_is_refused(rt: Runtime, path: Path) -> None:
    try:
        record = plan(rt, read_spec(path), thread=f"invalid-{path.stem}")
    except JobAgentError as exc:  # refused while reading the spec, before any plan
        message = str(exc)
    else:
        assert record.state is TaskState.FAILED, f"planned instead of refused:\n{record.plan['text']}"
        message = record.error or ""
    assert REFUSAL_MENTIONS[path.stem] in message, message
