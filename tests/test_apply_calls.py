"""How many Databricks API calls an apply makes, counted on the emulator's request log.

A create is one `jobs/list?name=` (the name check and the look for a job an earlier attempt created, from
one answer), `jobs/create` and the read-back `jobs/get`. Notebooks and files are looked up again
(`workspace/get-status`, one each) only when the plan did not check them within
JOBAGENT_PATH_RECHECK_SECONDS. Node types and Spark versions are kept on disk per workspace
(agent/workspace_cache.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from databricks.sdk.service.jobs import JobSettings

from agent.config import WorkspaceHandle
from agent.models import Assignment, TaskState
from agent.runtime import Runtime
from agent.workspace import TASK_TAG, Workspace
from agent.workspace_cache import ComputeCache

LIST, CREATE, GET = "/api/2.2/jobs/list", "/api/2.2/jobs/create", "/api/2.2/jobs/get"
STATUS = "/api/2.0/workspace/get-status"
NODE_TYPES, SPARK_VERSIONS = "/api/2.1/clusters/list-node-types", "/api/2.1/clusters/spark-versions"
CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}


def job(name: str, *, git: bool = False) -> dict:
    """A one-task job; with `git` its notebook comes from a repository, so nothing is looked up."""
    notebook = (
        {"notebook_path": "etl/ingest", "source": "GIT"} if git else {"notebook_path": "/Repos/etl/ingest"}
    )
    extra = {
        "git_source": {
            "git_url": "https://github.com/acme/etl",
            "git_provider": "gitHub",
            "git_branch": "main",
        }
    }
    return {
        "name": name,
        "tasks": [{"task_key": "ingest", "notebook_task": notebook, "new_cluster": dict(CLUSTER)}],
        **(extra if git else {}),
    }


def runtime_for(emulator, settings) -> Runtime:
    """A Runtime as a new process would have it: nothing in memory, the same JOBAGENT_HOME."""
    return Runtime(settings, WorkspaceHandle(emulator.client(), f"emulator at {emulator.url}"))


def approved(rt: Runtime, spec: dict, *, preflight: bool = True) -> str:
    assignment = Assignment(settings=JobSettings.from_dict(spec))
    record = rt.worker.submit(
        assignment, request="calls", requester="alice", thread=spec["name"], preflight=preflight
    )
    assert record.state is TaskState.PLANNED, record.error
    rt.worker.approve(record.id, by="bob")
    return record.id


def apply_counting(rt: Runtime, emulator, task_id: str) -> list[str]:
    emulator.reset_calls()
    done = rt.worker.apply(task_id)
    assert done.state is TaskState.COMPLETE, done.error
    return [path for _, path in emulator.calls]


def cache_file(settings) -> Path:
    files = list(settings.cache_dir.glob("workspace-*.json"))
    assert len(files) == 1, files
    return files[0]


def test_a_create_in_a_warm_process_is_list_create_get(runtime, emulator):
    task = approved(runtime, job("warm-git", git=True))  # the plan's checks fetched the lists
    assert apply_counting(runtime, emulator, task) == [LIST, CREATE, GET]

    task = approved(runtime, job("warm-workspace"))  # the plan just found the notebook
    assert apply_counting(runtime, emulator, task) == [LIST, CREATE, GET]


def test_notebooks_are_looked_up_again_when_the_plan_is_old_or_offline(runtime, emulator):
    runtime.worker.path_recheck_seconds = 0.0  # every plan is "old"
    task = approved(runtime, job("late-approval"))
    assert apply_counting(runtime, emulator, task) == [LIST, STATUS, CREATE, GET]

    runtime.worker.path_recheck_seconds = 900.0
    task = approved(runtime, job("planned-offline"), preflight=False)  # nothing was checked yet
    assert apply_counting(runtime, emulator, task) == [LIST, STATUS, CREATE, GET]


def test_a_new_process_reads_node_types_and_spark_versions_from_disk(runtime, emulator, settings):
    approved(runtime, job("first"))  # the plan's checks fetch both lists and keep them on disk
    assert cache_file(settings).is_file()

    fresh = runtime_for(emulator, settings)
    task = approved(fresh, job("second", git=True), preflight=False)
    assert apply_counting(fresh, emulator, task) == [LIST, CREATE, GET]


def test_an_expired_cache_is_fetched_again(runtime, emulator, settings):
    approved(runtime, job("first"))
    path = cache_file(settings)
    data = json.loads(path.read_text())
    for kind in ("node_types", "spark_versions"):
        data[kind]["fetched_at"] -= settings.workspace_cache_ttl + 1
    path.write_text(json.dumps(data))

    fresh = runtime_for(emulator, settings)
    task = approved(fresh, job("second", git=True), preflight=False)
    assert apply_counting(fresh, emulator, task) == [LIST, NODE_TYPES, SPARK_VERSIONS, CREATE, GET]
    assert json.loads(path.read_text())["node_types"]["fetched_at"] > data["node_types"]["fetched_at"]


def test_a_node_type_missing_from_the_kept_list_is_looked_up_again_before_refusing(
    runtime, emulator, settings
):
    approved(runtime, job("first"))
    path = cache_file(settings)
    data = json.loads(path.read_text())
    data["node_types"]["values"].remove("i3.xlarge")  # as if the node type was added after it was kept
    path.write_text(json.dumps(data))

    fresh = runtime_for(emulator, settings)
    task = approved(fresh, job("second", git=True), preflight=False)
    assert apply_counting(fresh, emulator, task) == [LIST, NODE_TYPES, CREATE, GET]
    assert "i3.xlarge" in json.loads(path.read_text())["node_types"]["values"]

    # a node type the workspace really lacks is refused, after one fresh look at most
    unknown = job("third", git=True)
    unknown["tasks"][0]["new_cluster"]["node_type_id"] = "no-such-node"
    emulator.reset_calls()
    record = fresh.worker.submit(
        Assignment(settings=JobSettings.from_dict(unknown)), request="x", requester="alice", thread="t3"
    )
    assert record.state is TaskState.FAILED and "Node type 'no-such-node' is not available" in record.error
    assert [p for _, p in emulator.calls].count(NODE_TYPES) == 0  # the list was fetched just now


def test_an_unreadable_cache_file_is_ignored_and_rewritten(runtime, emulator, settings):
    approved(runtime, job("first"))
    path = cache_file(settings)
    path.write_text('{"node_types": ')  # torn by a crash mid-write (it is written atomically, but)

    fresh = runtime_for(emulator, settings)
    task = approved(fresh, job("second", git=True), preflight=False)
    assert apply_counting(fresh, emulator, task) == [LIST, NODE_TYPES, SPARK_VERSIONS, CREATE, GET]
    assert set(json.loads(path.read_text())) == {"workspace", "node_types", "spark_versions"}


def test_a_job_an_earlier_attempt_created_is_adopted_from_the_same_listing(runtime, emulator):
    task = approved(runtime, job("adopt", git=True))
    record = runtime.store.get(task)
    wanted = runtime.worker.desired_settings(record, None)
    assert wanted["tags"][TASK_TAG] == task
    landed = emulator.client().jobs.create(**{k: getattr(JobSettings.from_dict(wanted), k) for k in wanted})

    emulator.reset_calls()
    done = runtime.worker.apply(task)
    assert done.state is TaskState.COMPLETE and done.job_id == landed.job_id
    assert done.steps[0]["result"] == {"job_id": landed.job_id, "adopted": True}
    assert [p for _, p in emulator.calls] == [LIST]  # no second listing, no create


def test_two_workspaces_never_share_a_cache_file(tmp_path):
    one = ComputeCache(tmp_path, "https://adb-1.azuredatabricks.net")
    two = ComputeCache(tmp_path, "https://adb-2.azuredatabricks.net")
    assert one.path != two.path
    one.get("node_types", lambda: {"a"})
    assert two.get("node_types", lambda: {"b"}) == {"b"}
    assert ComputeCache(tmp_path, "https://adb-1.azuredatabricks.net").get("node_types", list) == {"a"}


def test_a_cache_that_cannot_be_written_is_not_fatal(tmp_path, emulator):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    ws = Workspace(emulator.client(), "x", cache_dir=blocked / "cache")
    assert "i3.xlarge" in ws.node_types
    assert ws.has_spark_version("15.4.x-scala2.12")


def test_ttl_zero_keeps_the_lists_in_the_process_only(tmp_path, emulator):
    ws = Workspace(emulator.client(), "x", cache_dir=tmp_path, cache_ttl=0)
    emulator.reset_calls()
    assert ws.has_node_type("i3.xlarge") and ws.has_node_type("i3.xlarge")
    assert [p for _, p in emulator.calls] == [NODE_TYPES]
    assert not list(tmp_path.iterdir())
