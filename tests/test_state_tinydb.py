"""The TinyDB backend's own promises: damaged files are named and never overwritten, one bad record does
not hide the rest, a single-file database from version 1 is migrated, and a full disk changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.errors import StateUnreadable
from agent.models import TaskState
from agent.state import TaskRecord, new_task_id, open_store
from agent.state_tinydb import TinyStore

DAMAGE = {
    "truncated": b'{"tasks": {"1": {"id": "t-',
    "garbage": b"\x00\x17not json at all",
    "invalid utf-8": b'{"tasks": {"1": {"id": "\xff\xfe"}}}',
    "empty": b"",
    "whitespace": b"  \n\t ",
    "null": b"null",
    "unknown state": None,  # filled in below: a well-formed record in a state that does not exist
}


def make(store, thread="th", **kw) -> TaskRecord:
    return store.add(TaskRecord(id=new_task_id(), request="run it", requester="alice", thread=thread, **kw))


def task_file(store: TinyStore, task_id: str) -> Path:
    return store._task_path(task_id)


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_task_file_is_named_skipped_and_kept(tmp_path, kind):
    store = open_store(tmp_path / "state")
    good, bad = make(store, thread="x"), make(store, thread="x")
    path = task_file(store, bad.id)
    content = DAMAGE[kind]
    if content is None:
        doc = json.loads(path.read_text())
        doc["tasks"]["1"]["state"] = "EXPLODED"
        content = json.dumps(doc).encode()
    path.write_bytes(content)

    with pytest.raises(StateUnreadable) as exc:
        store.get(bad.id)
    assert str(path) in str(exc.value) and "jobagent state check" in str(exc.value)
    assert [r.id for r in store.find(thread="x")] == [good.id]  # the rest still works
    assert [b.task_id for b in store.skipped] == [bad.id]
    with pytest.raises(StateUnreadable):
        store.transition(bad.id, TaskState.APPROVED)
    store.transition(good.id, TaskState.APPROVED)  # and can still change
    assert path.read_bytes() == content  # never rewritten

    assert [b.task_id for b in store.check()] == [bad.id]
    problems, aside = store.repair()
    assert [b.task_id for b in problems] == [bad.id]
    assert not path.exists()
    assert (aside / path.relative_to(store.root)).read_bytes() == content  # a copy is kept
    assert store.check() == [] and [r.id for r in store.find()] == [good.id]


def test_a_directory_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(StateUnreadable, match="not a jobagent state directory"):
        open_store(tmp_path / "state")
    assert os.listdir(tmp_path / "state") == ["holiday.jpg"]


@pytest.mark.parametrize("content", [b"", b"   \n", b"null", b'{"tasks": {"1": {"id": "t-', b"\xff\xfe{}"])
def test_an_unreadable_old_database_file_is_never_reset(tmp_path, content):
    old = tmp_path / "state.json"
    old.write_bytes(content)
    with pytest.raises(StateUnreadable) as exc:
        open_store(old)
    assert str(old) in str(exc.value) and "jobagent state repair" in str(exc.value)
    assert old.read_bytes() == content


def test_an_old_single_file_database_is_migrated_once_and_left_as_it_was(tmp_path):
    old = tmp_path / "state.json"
    docs = {
        "1": TaskRecord(id="t-aaaa", request="a", requester="u", thread="T", job_id=5).to_doc(),
        "2": {"id": "t-bbbb", "request": "b", "requester": "u", "thread": "T", "state": "NOPE"},
        "3": TaskRecord(
            id="t-cccc", request="c", requester="u", thread="T", state=TaskState.COMPLETE
        ).to_doc(),
    }
    old.write_text(json.dumps({"tasks": docs}))
    before = old.read_bytes()
    store = open_store(old)
    assert [r.id for r in store.find(thread="T")] == ["t-aaaa", "t-cccc"]
    assert [r.id for r in store.find(job_id=5)] == ["t-aaaa"]
    note = json.loads((store.root / "MIGRATED").read_text())
    assert note["tasks"] == 2 and "unknown state 'NOPE'" in note["skipped"][0]
    store.transition("t-aaaa", TaskState.APPROVED)
    again = open_store(old)  # not migrated twice
    assert again.get("t-aaaa").state is TaskState.APPROVED and again.count() == 2
    assert old.read_bytes() == before


DISK_FULL = textwrap.dedent(
    """
    import resource, signal, sys
    from agent.errors import StateWriteFailed
    from agent.models import TaskState
    from agent.state import open_store
    store = open_store(sys.argv[1])
    task = sys.argv[2]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write then fails with EFBIG
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
    try:
        store.transition(task, TaskState.APPROVED, by="bob")
    except StateWriteFailed as exc:
        print("REFUSED:", exc)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    print("STATE:", store.get(task).state)
    store.update(task, error="an unrelated later write")
    print("AFTER:", store.get(task).state, len(store.find(state=TaskState.APPROVED)),
          [r.id for r in store.find(state=TaskState.PLANNED)] == [task])
    """
)


def test_a_full_disk_changes_nothing_and_says_so(tmp_path):
    store = open_store(tmp_path / "state")
    rec = make(store)
    store.update(rec.id, plan={"text": "x" * 4000})  # the task file is now larger than the limit
    before = task_file(store, rec.id).read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(tmp_path / "state"), rec.id],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[1],
    )
    assert out.returncode == 0, out.stderr
    assert "REFUSED: Could not save to the state store" in out.stdout and "File too large" in out.stdout
    assert "STATE: PLANNED" in out.stdout and "AFTER: PLANNED 0 True" in out.stdout
    assert json.loads(task_file(store, rec.id).read_bytes())["tasks"]["1"]["state"] == "PLANNED"
    assert json.loads(before)["tasks"]["1"]["error"] is None
    assert not [p for p in task_file(store, rec.id).parent.iterdir() if p.name.endswith(".tmp")]


def test_an_index_entry_left_by_an_interrupted_write_is_harmless(tmp_path):
    store = open_store(tmp_path / "state")
    rec = make(store)
    with open(store._index_path("state", "COMPLETE"), "a") as fh:  # as if the task file write then failed
        fh.write(f"\n{rec.id}\n\nt-gone\nt-cut")
    assert store.find(state=TaskState.COMPLETE) == []
    assert [r.id for r in store.find(state=TaskState.PLANNED)] == [rec.id]


def test_cli_state_check_and_repair(tmp_path, capsys):
    from agent.cli import main

    store = open_store(tmp_path / "home" / "state")
    good, bad = make(store), make(store)
    task_file(store, bad.id).write_bytes(b"{trunc")
    assert main(["status"]) == 0
    out, err = capsys.readouterr()
    assert good.id in out and bad.id not in out
    assert "skipped a damaged task record" in err and "jobagent state check" in err
    assert main(["state", "check"]) == 1
    out = capsys.readouterr().out
    assert "2 task(s)" in out and str(task_file(store, bad.id)) in out and "1 problem(s)" in out
    assert main(["state", "repair"]) == 0
    assert "indexes rebuilt" in capsys.readouterr().out
    assert main(["state", "check"]) == 0
    assert "No problems." in capsys.readouterr().out


def test_cli_state_repair_sets_an_unopenable_old_file_aside(tmp_path, monkeypatch, capsys):
    from agent.cli import main

    old = tmp_path / "state.json"
    old.write_bytes(b"")
    monkeypatch.setenv("JOBAGENT_STATE_PATH", str(old))
    assert main(["status"]) == 1
    assert "is empty" in capsys.readouterr().err and old.exists()
    assert main(["state", "check"]) == 1
    assert main(["state", "repair"]) == 0
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.damaged-")]
    assert len(kept) == 1 and kept[0].read_bytes() == b""
    assert main(["status"]) == 0 and "No tasks yet" in capsys.readouterr().out


def test_cli_approve_on_a_full_disk_says_so_and_changes_nothing(tmp_path, capsys):
    import resource
    import signal

    from agent.cli import main

    assert main(["plan", "--file", str(Path(__file__).parent / "specs" / "ingest.json")]) == 0
    task = next(w for w in capsys.readouterr().out.split() if w.startswith("t-")).rstrip(".:")

    def small_disk() -> None:  # in the child: writes past 2 KB fail with EFBIG instead of killing it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    out = subprocess.run(
        [sys.executable, "-m", "agent.cli", "approve", task, "--by", "emulator-user@example.com"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
        preexec_fn=small_disk,
    )
    assert out.returncode == 1, out
    assert "Could not save to the state store" in out.stderr and "Nothing was changed" in out.stderr
    assert main(["status", task]) == 0
    shown = capsys.readouterr().out
    assert "PLANNED" in shown.splitlines()[0] and "APPROVED" not in shown


def test_a_busy_state_index_stays_small_and_exact(tmp_path, monkeypatch):
    import agent.state_tinydb as tiny

    monkeypatch.setattr(tiny, "COMPACT_EVERY", 8)
    store = open_store(tmp_path / "state")
    kept = [make(store, thread=f"k{i}") for i in range(3)]
    for i in range(60):  # tasks passing through PLANNED
        store.transition(make(store, thread=f"t{i}").id, TaskState.REJECTED)
    planned = store._index_path("state", "PLANNED")
    assert planned.read_bytes().count(b"\n") // 2 <= 2 * len(kept) + 8 + 2  # compacted as it went
    assert [r.id for r in store.find(state=TaskState.PLANNED)] == [r.id for r in kept]
    assert [r.id for r in store.find(state=TaskState.PLANNED, limit=2)] == [r.id for r in kept[1:]]
    assert len(store.find(state=TaskState.REJECTED, limit=5)) == 5
