"""The Databricks workspace emulator, driven by the real databricks-sdk over a socket."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from databricks.sdk import errors as dbx
from databricks.sdk.service import jobs, workspace

from standins.databricks import WorkspaceEmulator

NOTEBOOK = "/Repos/etl/ingest"
CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}


@pytest.fixture(autouse=True)
def _no_retry_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK adds up to 1 s of random jitter to every retry; zero it so timings are deterministic."""
    import databricks.sdk.retries as retries

    monkeypatch.setattr(retries, "random", lambda: 0.0)


@pytest.fixture
def w(emulator):
    return emulator.client(retry_timeout_seconds=10, http_timeout_seconds=10)


def settings(**extra) -> dict:
    base = {
        "name": "nightly-ingest",
        "tasks": [
            {"task_key": "ingest", "notebook_task": {"notebook_path": NOTEBOOK}, "job_cluster_key": "main"},
            {
                "task_key": "transform",
                "depends_on": [{"task_key": "ingest"}],
                "notebook_task": {"notebook_path": "/Repos/etl/transform"},
                "job_cluster_key": "main",
            },
        ],
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": CLUSTER}],
        "schedule": {"quartz_cron_expression": "0 0 2 ? * MON-FRI", "timezone_id": "Europe/Berlin"},
        "tags": {"team": "data"},
    }
    base.update(extra)
    return base


def create(w, body: dict) -> int:
    return w.api_client.do("POST", "/api/2.2/jobs/create", body=body)["job_id"]


def raw(emulator, method: str, path: str, body: bytes | None = None, token: str | None = "dapi-local"):
    req = urllib.request.Request(emulator.url + path, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), exc.headers


# -- first contact ------------------------------------------------------------------------------------


def test_sdk_connects_and_missing_token_is_401(emulator, w):
    assert w.config.auth_type == "pat"
    assert w.current_user.me().user_name == emulator.user_name
    assert ("GET", "/.well-known/databricks-config") in emulator.calls  # the SDK's first question
    status, body, _ = raw(emulator, "GET", "/api/2.2/jobs/list", token=None)
    assert status == 401 and body["error_code"] == "UNAUTHENTICATED"
    status, body, _ = raw(emulator, "GET", "/api/2.2/jobs/list", token=emulator.token)
    assert status == 200 and body == {"has_more": False}
    # An unknown token is refused as a real workspace refuses an invalid PAT (see test_emulator_identity).
    status, body, _ = raw(emulator, "GET", "/api/2.2/jobs/list", token="anything-non-empty")
    assert status == 403 and body == {"error_code": 403, "message": "Invalid access token."}


def test_unknown_endpoint_is_not_found(w):
    with pytest.raises(dbx.NotFound, match="No API found"):
        w.api_client.do("GET", "/api/2.2/jobs/nope")


# -- jobs CRUD -------------------------------------------------------------------------------------------


def test_create_and_get_fill_server_defaults(emulator, w):
    job_id = create(w, settings())
    assert job_id >= 1000
    job = w.jobs.get(job_id)
    assert job.creator_user_name == emulator.user_name and job.created_time > 1_600_000_000_000
    s = job.settings
    assert s.format == jobs.Format.MULTI_TASK and s.max_concurrent_runs == 1 and s.timeout_seconds == 0
    assert s.queue.enabled is True and s.email_notifications.as_dict() == {}
    assert s.schedule.quartz_cron_expression == "0 0 2 ? * MON-FRI"
    assert [t.task_key for t in s.tasks] == ["ingest", "transform"]
    assert s.tasks[1].run_if == jobs.RunIf.ALL_SUCCESS
    second = create(w, settings(name="other"))
    assert second > job_id


def test_list_paginates_105_jobs_through_the_sdk_iterator(emulator, w):
    ids = [
        create(
            w,
            {"name": f"job-{i:03d}", "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}}]},
        )
        for i in range(105)
    ]
    emulator.reset_calls()
    listed = list(w.jobs.list())
    assert sorted(j.job_id for j in listed) == sorted(ids)
    assert [j.job_id for j in listed] == sorted(ids, reverse=True)  # most recently created first
    assert len([c for c in emulator.calls if c[1] == "/api/2.2/jobs/list"]) == 6  # default page of 20
    assert all(j.settings.tasks == [] for j in listed)  # tasks only with expand_tasks
    assert len(list(w.jobs.list(limit=100))) == 105
    first = w.api_client.do("GET", "/api/2.2/jobs/list", query={"limit": 100, "expand_tasks": "true"})
    assert first["has_more"] is True and first["next_page_token"] and len(first["jobs"]) == 100
    assert first["jobs"][0]["settings"]["tasks"][0]["task_key"] == "t"
    with pytest.raises(dbx.InvalidParameterValue, match="limit"):
        list(w.jobs.list(limit=101))


def test_list_name_filter_is_exact_and_case_insensitive(w):
    for name in ("alpha", "Alpha", "alpha-2", "beta"):
        create(w, {"name": name})
    assert sorted(j.settings.name for j in w.jobs.list(name="ALPHA")) == ["Alpha", "alpha"]
    assert list(w.jobs.list(name="gamma")) == []


def test_get_pages_more_than_100_tasks(w):
    tasks = [{"task_key": f"t{i}", "notebook_task": {"notebook_path": f"/n/{i}"}} for i in range(150)]
    job_id = create(w, {"name": "wide", "tasks": tasks})
    first = w.api_client.do("GET", "/api/2.2/jobs/get", query={"job_id": job_id})
    assert len(first["settings"]["tasks"]) == 100 and first["next_page_token"]
    assert [t.task_key for t in w.jobs.get(job_id).settings.tasks] == [f"t{i}" for i in range(150)]


def test_reset_replaces_all_settings(w):
    job_id = create(w, settings())
    w.jobs.reset(
        job_id,
        jobs.JobSettings.from_dict(
            {"name": "renamed", "tasks": [{"task_key": "only", "notebook_task": {"notebook_path": NOTEBOOK}}]}
        ),
    )
    s = w.jobs.get(job_id).settings
    assert s.name == "renamed" and s.schedule is None and not s.tags and s.job_clusters == []
    assert [t.task_key for t in s.tasks] == ["only"] and s.max_concurrent_runs == 1


def test_update_merges_tasks_by_key_and_removes_fields(w):
    job_id = create(w, settings())
    w.jobs.update(
        job_id,
        new_settings=jobs.JobSettings.from_dict(
            {
                "timeout_seconds": 600,
                "tasks": [
                    {
                        "task_key": "ingest",
                        "notebook_task": {"notebook_path": "/Repos/etl/publish"},
                        "job_cluster_key": "main",
                    },
                    {
                        "task_key": "report",
                        "depends_on": [{"task_key": "ingest"}],
                        "notebook_task": {"notebook_path": "/Shared/reports/daily"},
                    },
                ],
            }
        ),
        fields_to_remove=["schedule", "tasks/transform"],
    )
    s = w.jobs.get(job_id).settings
    assert {t.task_key: t.notebook_task.notebook_path for t in s.tasks} == {
        "ingest": "/Repos/etl/publish",
        "report": "/Shared/reports/daily",
    }
    assert s.schedule is None and s.timeout_seconds == 600 and s.tags == {"team": "data"}
    assert [c.job_cluster_key for c in s.job_clusters] == ["main"]
    with pytest.raises(dbx.InvalidParameterValue, match="depends on 'ingest'"):
        w.jobs.update(job_id, fields_to_remove=["tasks/ingest"])
    with pytest.raises(dbx.InvalidParameterValue, match="nested"):
        w.jobs.update(job_id, fields_to_remove=["schedule.pause_status"])


def test_delete_and_unknown_job_ids(w):
    job_id = create(w, settings())
    w.jobs.delete(job_id)
    with pytest.raises(dbx.ResourceDoesNotExist, match=f"Job {job_id} does not exist"):
        w.jobs.get(job_id)  # 400 INVALID_PARAMETER_VALUE, mapped by the SDK's own override
    with pytest.raises(dbx.InvalidParameterValue, match="Job 999999 does not exist"):
        w.jobs.delete(999999)
    with pytest.raises(dbx.InvalidParameterValue, match="does not exist"):
        w.jobs.run_now(999999)


# -- runs ----------------------------------------------------------------------------------------------


def lifecycle(w, run_id: int) -> tuple[str, str | None, str]:
    run = w.jobs.get_run(run_id)
    rs = run.state.result_state.value if run.state.result_state else None
    return run.state.life_cycle_state.value, rs, run.status.state.value


def test_run_now_progresses_to_success(w):
    job_id = create(w, settings())
    run_id = w.jobs.run_now(job_id, job_parameters={"env": "prod"}).run_id
    assert [lifecycle(w, run_id) for _ in range(4)] == [
        ("PENDING", None, "PENDING"),
        ("RUNNING", None, "RUNNING"),
        ("TERMINATED", "SUCCESS", "TERMINATED"),
        ("TERMINATED", "SUCCESS", "TERMINATED"),
    ]
    run = w.jobs.get_run(run_id)
    assert run.job_id == job_id and run.end_time >= run.start_time > 0
    assert run.run_page_url.endswith(f"/jobs/{job_id}/runs/{run_id}?o={w.config.workspace_id}")
    assert {t.task_key: t.state.result_state.value for t in run.tasks} == {
        "ingest": "SUCCESS",
        "transform": "SUCCESS",
    }
    assert run.status.termination_details.code == jobs.TerminationCodeCode.SUCCESS
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id, completed_only=True)] == [run_id]
    assert list(w.jobs.list_runs(job_id=job_id, active_only=True)) == []


def test_failing_and_missing_notebooks_fail_the_run(w):
    job_id = create(
        w,
        settings(
            tasks=[
                {"task_key": "a", "notebook_task": {"notebook_path": "/Repos/etl/fail_on_purpose"}},
                {
                    "task_key": "b",
                    "depends_on": [{"task_key": "a"}],
                    "notebook_task": {"notebook_path": NOTEBOOK},
                },
                {"task_key": "c", "notebook_task": {"notebook_path": "/Repos/etl/missing"}},
                {"task_key": "d", "notebook_task": {"notebook_path": NOTEBOOK}},
            ]
        ),
    )
    run_id = w.jobs.run_now(job_id).run_id
    for _ in range(3):
        run = w.jobs.get_run(run_id)
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert {t.task_key: t.state.result_state.value for t in run.tasks} == {
        "a": "FAILED",
        "b": "UPSTREAM_FAILED",
        "c": "FAILED",
        "d": "SUCCESS",
    }
    assert "does not exist" in next(t for t in run.tasks if t.task_key == "c").state.state_message


def test_run_now_idempotency_token_returns_the_same_run(w):
    job_id = create(w, settings())
    first = w.jobs.run_now(job_id, idempotency_token="tok-1").run_id
    assert w.jobs.run_now(job_id, idempotency_token="tok-1").run_id == first
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id)] == [first]


def test_concurrent_runs_queue_behind_max_concurrent_runs(w):
    job_id = create(w, settings())
    first = w.jobs.run_now(job_id).run_id
    second = w.jobs.run_now(job_id).run_id
    assert lifecycle(w, second)[0] == "QUEUED"  # the first run took one step meanwhile
    assert lifecycle(w, second)[0] == "QUEUED"  # ... and another; it is RUNNING now
    assert lifecycle(w, first) == ("TERMINATED", "SUCCESS", "TERMINATED")
    assert [lifecycle(w, second)[0] for _ in range(3)] == ["PENDING", "RUNNING", "TERMINATED"]


# -- validation ------------------------------------------------------------------------------------------


def one_task(**task) -> dict:
    return {"name": "v", "tasks": [{"task_key": "a", **task}]}


NB = {"notebook_task": {"notebook_path": NOTEBOOK}}
BAD_SETTINGS = [
    (one_task(), "has no task type"),
    (one_task(**NB, spark_python_task={"python_file": "/x.py"}), "more than one task type"),
    ({"name": "v", "tasks": [{"task_key": "a", **NB}, {"task_key": "a", **NB}]}, "Duplicate task_key 'a'"),
    (one_task(**NB, depends_on=[{"task_key": "zzz"}]), "depends on 'zzz'"),
    (
        {
            "name": "v",
            "tasks": [
                {"task_key": "a", **NB, "depends_on": [{"task_key": "b"}]},
                {"task_key": "b", **NB, "depends_on": [{"task_key": "a"}]},
            ],
        },
        "cycle: a → b → a",
    ),
    (settings(schedule={"quartz_cron_expression": "0 2 * * *", "timezone_id": "UTC"}), "6 or 7 fields"),
    (
        settings(schedule={"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "Mars/Olympus"}),
        "timezone_id",
    ),
    (
        one_task(**NB, new_cluster={**CLUSTER, "autoscale": {"min_workers": 1, "max_workers": 4}}),
        "num_workers or autoscale",
    ),
    (one_task(spark_python_task={"python_file": "/Shared/scripts/etl.py"}), "needs compute"),
    (one_task(**NB, job_cluster_key="nope"), "job cluster 'nope'"),
    (one_task(notebook_task={}), "notebook_path"),
    (one_task(sql_task={"query": {"query_id": "q"}}), "warehouse_id"),
    (one_task(**NB, task_key="has space"), "Invalid task_key"),
    (settings(max_concurrent_runs=1001), "max_concurrent_runs"),
    (settings(trigger={"periodic": {"interval": 1, "unit": "HOURS"}}), "only one of schedule"),
    ({"name": "v", "tags": {f"k{i}": "v" for i in range(26)}}, "at most 25 tags"),
]


@pytest.mark.parametrize(("body", "message"), BAD_SETTINGS, ids=[m for _, m in BAD_SETTINGS])
def test_invalid_settings_are_refused(emulator, w, body, message):
    with pytest.raises(dbx.InvalidParameterValue) as err:
        create(w, body)
    assert message in str(err.value)
    assert emulator.jobs_snapshot() == []


def test_wrong_json_types_and_bodies_are_malformed(emulator, w):
    with pytest.raises(dbx.BadRequest) as err:
        create(w, {"name": "v", "tasks": "not-a-list"})
    assert err.value.error_code == "MALFORMED_REQUEST"
    status, body, _ = raw(emulator, "POST", "/api/2.2/jobs/create", b"{not json")
    assert status == 400 and body["error_code"] == "MALFORMED_REQUEST"
    status, body, _ = raw(emulator, "POST", "/api/2.2/jobs/create", b"x" * (10 * 1024 * 1024 + 1))
    assert status == 400 and "10 MB" in body["message"]


# -- workspace, clusters, warehouses ---------------------------------------------------------------------


def test_workspace_import_status_list_export_delete(emulator, w):
    home = f"/Users/{emulator.user_name}"
    content = base64.b64encode(b"print('hi')\n").decode()
    w.workspace.import_(
        f"{home}/nb",
        content=content,
        format=workspace.ImportFormat.SOURCE,
        language=workspace.Language.PYTHON,
    )
    info = w.workspace.get_status(f"/Workspace{home}/nb")
    assert info.object_type == workspace.ObjectType.NOTEBOOK and info.language == workspace.Language.PYTHON
    assert info.path == f"{home}/nb" and info.object_id > 0
    with pytest.raises(dbx.ResourceAlreadyExists):
        w.workspace.import_(f"{home}/nb", content=content, language=workspace.Language.PYTHON)
    w.workspace.import_(f"{home}/nb", content=content, language=workspace.Language.SQL, overwrite=True)
    with pytest.raises(dbx.ResourceDoesNotExist, match="parent folder"):
        w.workspace.import_(f"{home}/new/nb", content=content, language=workspace.Language.PYTHON)
    w.workspace.mkdirs(f"{home}/new/deeper")
    w.workspace.upload(f"{home}/new/run.py", io.BytesIO(b"x = 1\n"), format=workspace.ImportFormat.AUTO)
    assert w.workspace.get_status(f"{home}/new/run.py").object_type == workspace.ObjectType.FILE
    assert w.workspace.download(f"{home}/new/run.py").read() == b"x = 1\n"
    assert base64.b64decode(w.workspace.export(f"{home}/nb").content) == b"print('hi')\n"
    assert sorted(o.path for o in w.workspace.list(f"{home}/new")) == [
        f"{home}/new/deeper",
        f"{home}/new/run.py",
    ]
    with pytest.raises(dbx.BadRequest, match="not empty"):
        w.workspace.delete(f"{home}/new")
    w.workspace.delete(f"{home}/new", recursive=True)
    with pytest.raises(dbx.ResourceDoesNotExist, match="doesn't exist"):
        w.workspace.get_status(f"{home}/new/run.py")


def test_seeded_workspace_objects(w):
    assert w.workspace.get_status(NOTEBOOK).object_type == workspace.ObjectType.NOTEBOOK
    assert w.workspace.get_status("/Workspace/Shared/scripts/etl.py").object_type == workspace.ObjectType.FILE
    assert w.workspace.get_status("/Shared/reports/daily").language == workspace.Language.SQL
    assert {o.path for o in w.workspace.list("/Repos/etl")} >= {NOTEBOOK, "/Repos/etl/transform"}


def test_node_types_spark_versions_clusters_and_warehouses(w):
    nodes = {n.node_type_id: n for n in w.clusters.list_node_types().node_types}
    assert nodes["i3.xlarge"].memory_mb == 30 * 1024 and nodes["i3.xlarge"].num_cores == 4
    assert "r5d.xlarge" in nodes and "m5d.large" in nodes
    keys = {v.key for v in w.clusters.spark_versions().versions}
    assert {"15.4.x-scala2.12", "14.3.x-scala2.12", "16.4.x-scala2.13"} <= keys
    clusters = list(w.clusters.list())
    assert w.clusters.get(clusters[0].cluster_id).cluster_name == clusters[0].cluster_name
    with pytest.raises(dbx.ResourceDoesNotExist, match="Cluster 0000-000000-nothere does not exist"):
        w.clusters.get("0000-000000-nothere")
    warehouse = next(iter(w.warehouses.list()))
    assert w.warehouses.get(warehouse.id).name == warehouse.name
    with pytest.raises(dbx.NotFound):
        w.warehouses.get("nope")


# -- faults ----------------------------------------------------------------------------------------------


def test_429_with_retry_after_is_retried(emulator, w):
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", status=429, count=1, retry_after=1)
    started = time.monotonic()
    job_id = create(w, settings())
    assert time.monotonic() - started >= 1.0  # the SDK honoured Retry-After
    assert [j["job_id"] for j in emulator.jobs_snapshot()] == [job_id]
    assert emulator.calls.count(("POST", "/api/2.2/jobs/create")) == 2


def test_503_is_retried_and_500_is_raised(emulator, w):
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", status=503, retry_after=0)
    create(w, settings())
    assert emulator.calls.count(("POST", "/api/2.2/jobs/create")) == 2
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", status=500)
    with pytest.raises(dbx.InternalError):
        create(w, settings(name="second"))
    assert len(emulator.jobs_snapshot()) == 1 and emulator.calls.count(("POST", "/api/2.2/jobs/create")) == 3


def test_fault_kinds_methods_and_latency(emulator, w):
    emulator.faults.add(path_prefix="/api/2.2/jobs/", status=403, method="GET")
    create(w, settings())  # a POST: not matched
    with pytest.raises(dbx.PermissionDenied):
        list(w.jobs.list())
    emulator.faults.add(path_prefix="/api/2.0/workspace/", status=401)
    with pytest.raises(dbx.Unauthenticated):
        w.workspace.get_status(NOTEBOOK)
    emulator.faults.add(path_prefix="/api/2.1/clusters/", latency=0.3)
    started = time.monotonic()
    w.clusters.spark_versions()
    assert time.monotonic() - started >= 0.3
    assert emulator.faults.pending() == []


def test_http_control_endpoints(emulator, w):
    status, body, _ = raw(
        emulator,
        "POST",
        "/_emulator/faults",
        json.dumps({"path_prefix": "/api/2.2/jobs/list", "status": 500}).encode(),
        token=None,
    )
    assert status == 200 and body["fault"]["status"] == 500
    with pytest.raises(dbx.InternalError):
        list(w.jobs.list())
    create(w, settings())
    assert (
        raw(emulator, "GET", "/_emulator/jobs", token=None)[1]["jobs"][0]["settings"]["name"]
        == "nightly-ingest"
    )
    assert raw(emulator, "POST", "/_emulator/reset", b"{}", token=None)[0] == 200
    assert emulator.jobs_snapshot() == [] and emulator.calls == []
    assert w.workspace.get_status(NOTEBOOK).path == NOTEBOOK  # reseeded


# -- persistence and the standalone server --------------------------------------------------------------


def test_state_survives_restart_with_data_path(tmp_path: Path):
    data = tmp_path / "emulator.json"
    with WorkspaceEmulator(data_path=data) as first:
        c = first.client()
        job_id = create(c, settings())
        run_id = c.jobs.run_now(job_id).run_id
        first.add_notebook("/Users/bob@example.com/scratch", "1 + 1")
    assert json.loads(data.read_text())["jobs"][str(job_id)]["settings"]["name"] == "nightly-ingest"
    with WorkspaceEmulator(data_path=data) as second:
        c = second.client()
        assert c.jobs.get(job_id).settings.name == "nightly-ingest"
        assert c.jobs.get_run(run_id).job_id == job_id
        assert (
            c.workspace.get_status("/Users/bob@example.com/scratch").object_type
            == workspace.ObjectType.NOTEBOOK
        )
        assert create(c, settings(name="later")) > job_id


def test_two_emulators_can_share_one_state_file(tmp_path: Path):
    data = tmp_path / "shared.json"
    with WorkspaceEmulator(data_path=data) as one, WorkspaceEmulator(data_path=data) as two:
        a = create(one.client(), settings(name="from-one"))
        b = create(two.client(), settings(name="from-two"))
        assert a != b
        assert sorted(j["settings"]["name"] for j in one.jobs_snapshot()) == ["from-one", "from-two"]
        assert two.client().jobs.get(a).settings.name == "from-one"


def test_serve_prints_how_to_connect_and_stops_on_ctrl_c(tmp_path: Path):
    # A shell that starts the tests in the background makes children ignore SIGINT: restore Ctrl-C.
    code = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from standins.databricks import serve; serve(0, None)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        lines = [proc.stdout.readline() for _ in range(4)]
        assert any(f"DATABRICKS_HOST={url} DATABRICKS_TOKEN=" in line for line in lines)
        with urllib.request.urlopen(url + "/.well-known/databricks-config", timeout=5) as resp:
            assert json.loads(resp.read())["workspace_id"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
