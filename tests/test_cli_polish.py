"""What the command line says and where: results on stdout, the rest on stderr, usage per subcommand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main, print_record_plan
from agent.config import Settings
from agent.models import TaskState
from agent.notes import NoteBook
from agent.runtime import Runtime
from agent.state import TaskRecord, open_store
from tests.test_cli import SPECS, run_cli, task_id_from

ROOT = Path(__file__).resolve().parent.parent


def test_a_question_goes_to_stderr_only(capsys):
    code, out, err = run_cli(capsys, "plan", "make me a job")
    assert code == 2 and out == ""
    assert err.count("What should the job run") == 1 and "jobagent plan --thread cli-t-" in err
    code, out, err = run_cli(capsys, "plan", "make me a job", "--json")
    assert code == 2 and json.loads(out)["state"] == "NEEDS_INPUT"  # exactly one JSON object
    assert "What should the job run" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["plan"], "give a request in quotes or --file SPEC"),
        (
            ["plan", "run /Repos/a daily", "--file", "job.json"],
            "give a request in quotes or --file SPEC, not both",
        ),
        (["status", "--bogus"], "unrecognized arguments: --bogus"),
        (["status", "--limit", "-1"], "argument --limit: must be 1 or more (got -1)"),
        (["status", "--limit", "0"], "argument --limit: must be 1 or more (got 0)"),
        (["export", "t-1", "--job-id", "7"], "give a task id or --job-id ID, not both"),
    ],
)
def test_bad_usage_exits_2_with_that_subcommands_usage(capsys, argv, says):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith(f"usage: jobagent {argv[0]} ") and f"jobagent {argv[0]}: error: {says}\n" in err


def test_no_broken_pipe_traceback_when_the_reader_leaves():
    read, write = os.pipe()
    os.close(read)  # like `| head -1` once head has exited: every write to stdout fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli", "status"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


@pytest.mark.parametrize(
    ("env", "argv", "says"),
    [
        ({"JOBAGENT_WORKSPACE": "databricks"}, ["approve", "t-1"], "error: Databricks is not configured ("),
        (
            {
                "JOBAGENT_WORKSPACE": "auto",
                "DATABRICKS_HOST": "https://example.com:99999",
                "DATABRICKS_TOKEN": "x",
            },
            ["approve", "t-1"],
            "error: Databricks is not configured (Port out of range",
        ),
        (
            {"JOBAGENT_LLM": "databricks", "JOBAGENT_LLM_MODEL": "my-endpoint"},
            ["plan", "run /Repos/etl/ingest daily"],
            "error: The model cannot be reached: ",
        ),
    ],
)
def test_a_configuration_error_is_one_clear_line(capsys, monkeypatch, tmp_path, env, argv, says):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.databrickscfg
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli(capsys, *argv)
    problem = [line for line in err.splitlines() if not line.startswith("Workspace: ")]
    assert code == 1 and out == ""
    assert len(problem) == 1 and problem[0].startswith(says), err
    assert "JOBAGENT_WORKSPACE=emulator" in problem[0] or "JOBAGENT_LLM=off" in problem[0]


def test_every_command_names_its_workspace_or_state_store(capsys):
    emulator = "Workspace: local Databricks workspace emulator at http://127.0.0.1:"
    code, out, err = run_cli(capsys, "plan", "--file", str(SPECS / "ingest.json"))
    kept = task_id_from(out)
    assert code == 0 and err.startswith(emulator)
    code, out, err = run_cli(
        capsys, "plan", "--file", str(SPECS / "ingest.json"), "--thread", "other", "--json"
    )
    dropped = json.loads(out)["task_id"]
    assert err.startswith(emulator)  # stderr names it with --json too; stdout stays the JSON
    for argv in (["reject", dropped], ["approve", kept], ["apply", kept]):
        code, _, err = run_cli(capsys, *argv, "--by", "emulator-user@example.com")
        assert code == 0 and err.startswith(emulator), argv
    job_id = open_store(Settings.from_env().state_path).get(kept).job_id
    code, _, err = run_cli(capsys, "export", "--job-id", str(job_id))
    assert code == 0 and err.startswith(emulator)
    for argv in (["status"], ["status", kept], ["export", kept]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 0 and err.startswith("State store: ") and "Workspace:" not in err, argv


def test_status_of_a_task_shows_its_whole_history_and_note_entries(capsys):
    settings = Settings.from_env()
    failure = (
        "Validation failed (2 problems):\n  - notebook /Repos/a does not exist\n  - node type x is unknown"
    )
    history = [
        {"state": "PLANNED", "at": "2025-01-01T10:00:00Z", "by": "alice"},
        {"state": "APPROVED", "at": "2025-01-01T10:05:00Z", "by": "bob"},
        {"state": "IN_PROGRESS", "at": "2025-01-01T10:06:00Z", "by": "bob"},
        {"state": "FAILED", "at": "2025-01-01T10:07:00Z", "by": "bob", "error": failure},
    ]
    record = TaskRecord("t-hist", "run /Repos/a", "alice", "th-1", state=TaskState.FAILED, history=history)
    open_store(settings.state_path).import_records([record])
    notes = NoteBook(settings.notes_dir)
    notes.append("th-1", "failed (apply)", "t-hist", failure)
    notes.append("th-1", "request", "t-other", "someone else's task")
    code, out, _ = run_cli(capsys, "status", "t-hist")
    assert code == 0
    assert "  2025-01-01T10:05:00Z  APPROVED by bob\n" in out
    assert "  2025-01-01T10:07:00Z  FAILED by bob: Validation failed (2 problems):\n" in out
    assert "      - node type x is unknown\n" in out  # the whole error, not its first line only
    assert "failed (apply): Validation failed (2 problems):" in out and "someone else" not in out
    code, out, _ = run_cli(capsys, "status", "t-hist", "--json")
    assert json.loads(out)["history"] == history


def test_the_text_plan_starts_with_its_synopsis_and_cites_without_scores(capsys):
    record = TaskRecord("t-syn", "r", "alice", "th-2", state=TaskState.PLANNED)
    record.plan = {
        "synopsis": "Creates nightly-ingest: ingest → transform, weekdays 02:00 UTC.",
        "text": "PLAN",
    }
    record.citations = [{"title": "Create a job", "url": "https://docs.databricks.com/x", "score": 3.14159}]
    print_record_plan(record, Runtime(Settings.from_env()))
    out = capsys.readouterr().out
    assert out.startswith("Creates nightly-ingest: ingest → transform, weekdays 02:00 UTC.\n")
    assert "  [1] Create a job — https://docs.databricks.com/x\n" in out and "3.14" not in out


def test_help_shows_export_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "jobagent export t-1a2b3c4d -o resources/nightly_ingest.job.yml" in capsys.readouterr().out
