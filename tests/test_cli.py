"""The command line, in-process and as separate processes sharing one state file and one workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli import main
from agent.models import TaskState
from agent.state import open_store
from agent.workspace import TASK_TAG

SPECS = Path(__file__).parent / "specs"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def task_id_from(out: str) -> str:
    return next(w for w in out.split() if w.startswith("t-")).rstrip(".:")


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("plan", "approve", "reject", "apply", "status", "demo", "emulator", "examples:"):
        assert word in out


def test_plan_approve_apply_status_on_persisted_emulator(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "plan", "--file", str(SPECS / "ingest.json"))
    assert code == 0 and 'create job "nightly-ingest"' in out
    task = task_id_from(out)
    assert "Runs as: emulator-user@example.com." in out  # no JOBAGENT_USER: the credentials' identity
    assert run_cli(capsys, "approve", task, "--by", "emulator-user@example.com")[0] == 0
    code, out, err = run_cli(capsys, "apply", task)
    assert code == 0, err
    assert "COMPLETE: job" in out and "local Databricks workspace emulator" in err
    code, out, _ = run_cli(capsys, "status", "--json")
    rows = json.loads(out)
    assert [(r["id"], r["state"]) for r in rows] == [(task, "COMPLETE")]
    code, out, _ = run_cli(capsys, "status")
    assert task in out and "COMPLETE" in out and out.startswith("TASK")
    # A second process later sees the same job in the persisted emulator: the YAML update diffs against it.
    code, out, _ = run_cli(
        capsys, "plan", "--file", str(SPECS / "ingest.yml"), "--job-id", str(rows[0]["job_id"])
    )
    assert code == 0 and "~ schedule.quartz_cron_expression" in out


def test_bad_spec_file_is_a_clear_error(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "shedule": {}, "tasks": [{"task_key": "a", "notebok_task": {}}]}')
    code, _, err = run_cli(capsys, "plan", "--file", str(bad))
    assert code == 1
    assert "Unknown field 'shedule'" in err and "Did you mean 'schedule'?" in err
    assert "Unknown field 'tasks[0].notebok_task'" in err
    code, _, err = run_cli(capsys, "plan", "--file", str(tmp_path / "missing.json"))
    assert code == 1 and "Cannot read" in err


def test_apply_unknown_task(capsys):
    code, _, err = run_cli(capsys, "apply", "t-nothere")
    assert code == 1 and "No task 't-nothere'" in err


# -- several processes -------------------------------------------------------------------------------


def cli_env(emulator, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABRICKS_HOST=emulator.url,
        DATABRICKS_TOKEN=emulator.token,
        JOBAGENT_WORKSPACE="databricks",
        JOBAGENT_STATE_PATH=str(tmp_path / "shared-state.json"),
    )
    return env


def approved_task(runtime, spec: dict, thread: str) -> str:
    from agent.specfile import assignment_from_spec

    record = runtime.worker.submit(assignment_from_spec(spec), request="r", requester="alice", thread=thread)
    runtime.worker.approve(record.id, by="bob")
    return record.id


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.fixture
def shared_runtime(tmp_path, emulator, monkeypatch):
    from agent.config import Settings, WorkspaceHandle
    from agent.runtime import Runtime

    monkeypatch.setenv("JOBAGENT_STATE_PATH", str(tmp_path / "shared-state.json"))
    with Runtime(Settings.from_env(), WorkspaceHandle(emulator.client(), "emulator")) as rt:
        yield rt


def test_crash_after_create_then_resume_leaves_one_job(shared_runtime, emulator, tmp_path):
    spec = json.loads((SPECS / "ingest.json").read_text())
    task = approved_task(shared_runtime, spec, "crash")
    emulator.faults.add(path_prefix="/api/2.2/jobs/create", latency=1.0, count=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "apply", task], env=cli_env(emulator, tmp_path)
    )
    try:
        wait_for(lambda: any(c[1].startswith("/api/2.2/jobs/create") for c in emulator.calls))
        proc.kill()  # the process dies after sending the create, before recording the job id
    finally:
        proc.wait(10)
    wait_for(lambda: len(emulator.jobs_snapshot()) == 1)  # the workspace still created it
    assert shared_runtime.store.get(task).state is TaskState.IN_PROGRESS

    retry = subprocess.run(
        [sys.executable, "-m", "agent.cli", "apply", task],
        env=cli_env(emulator, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert retry.returncode == 1 and "--resume" in retry.stderr  # never resumed implicitly
    resumed = subprocess.run(
        [sys.executable, "-m", "agent.cli", "apply", task, "--resume"],
        env=cli_env(emulator, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    jobs = emulator.jobs_snapshot()
    assert len(jobs) == 1 and jobs[0]["settings"]["tags"][TASK_TAG] == task
    record = shared_runtime.store.get(task)
    assert record.state is TaskState.COMPLETE and record.job_id == jobs[0]["job_id"]
    assert record.steps[0]["result"].get("adopted") is True


def test_two_processes_apply_different_tasks_at_once(shared_runtime, emulator, tmp_path):
    spec = json.loads((SPECS / "ingest.json").read_text())
    tasks = []
    for name in ("alpha", "beta"):
        tasks.append(approved_task(shared_runtime, {**spec, "name": name}, f"thread-{name}"))
    env = cli_env(emulator, tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "apply", t],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for t in tasks
    ]
    outputs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    store = open_store(tmp_path / "shared-state.json")
    assert {store.get(t).state for t in tasks} == {TaskState.COMPLETE}
    assert sorted(j["settings"]["name"] for j in emulator.jobs_snapshot()) == ["alpha", "beta"]


def test_demo_plays_create_update_question_failure(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("✔ COMPLETE: job") == 2
    assert "~ schedule.quartz_cron_expression" in out
    assert "Tech Lead asks: What should the job run" in out
    assert "✘ FAILED before anyone approved it" in out and "does not exist" in out
    assert "State DB :" in out and "Note     :" in out


def test_slack_demo_plays_through_the_bot(capsys):
    assert main(["demo", "--slack"]) == 0
    out = capsys.readouterr().out
    assert "[ Approve ] [ Reject ]" in out
    assert "Created <http" in out and "job 1" in out
    assert "~ schedule.quartz_cron_expression" in out
    assert "feedback stored on t-" in out


def test_plan_names_what_it_did_not_act_on_in_text_json_and_note(capsys, tmp_path):
    request = "run /Repos/etl/ingest every weekday at 2am, and wobble the flux capacitor"
    code, out, _ = run_cli(capsys, "plan", request)
    assert code == 0
    assert out.index("I did not act on") < out.index('create job "ingest"')  # before the diff
    assert "“wobble the flux capacitor”" in out
    task = task_id_from(out[out.index("Task t-") :])
    note = next(Path(os.environ["JOBAGENT_NOTES_DIR"]).glob("*.md")).read_text()
    assert task in note and "I did not act on" in note and "wobble the flux capacitor" in note
    code, out, _ = run_cli(capsys, "plan", "--json", request)
    assert json.loads(out)["unused"] == ["wobble the flux capacitor"]
    code, out, _ = run_cli(capsys, "plan", "--json", "run /Repos/etl/ingest every weekday at 2am, thanks!")
    assert json.loads(out)["unused"] == []
