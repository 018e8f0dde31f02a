"""What the fast commands import: `--help` and `status` must not load databricks-sdk (about a second of
start-up) nor open a workspace. An import-structure check in a fresh interpreter, not a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import contextlib, io, json, sys
from agent.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:  # --help
        code = exc.code
heavy = ("databricks.sdk", "standins.databricks")  # the SDK; the local workspace emulator
loaded = sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + "." for h in heavy)))
print(json.dumps({"code": code, "loaded": loaded, "out": out.getvalue()}))
"""


def run(*argv: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=ROOT,
        env=os.environ.copy(),  # the test's own JOBAGENT_HOME (conftest), emulator workspace
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_status_on_an_empty_home_loads_no_sdk_and_opens_no_workspace():
    got = run("status")
    assert got["code"] == 0 and "No tasks yet" in got["out"]
    assert got["loaded"] == []
    home = Path(os.environ["JOBAGENT_HOME"])
    assert not (home / "emulator.json").exists()


def test_help_loads_no_sdk():
    got = run("--help")
    assert got["code"] == 0 and "plan" in got["out"] and "status" in got["out"]
    assert got["loaded"] == []


def test_the_state_store_loads_no_sdk():
    probe = (
        "import sys, agent.state, agent.state_tinydb; print([m for m in sys.modules if 'databricks' in m])"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
