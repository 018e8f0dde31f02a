"""TinyDB state store: legal transitions, queries, atomic writes, several processes at once."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from agent.errors import IllegalTransition, TaskNotFound
from agent.models import TaskState
from agent.state import StateStore, TaskRecord, new_task_id


def make(store: StateStore, thread: str = "th", **kw) -> TaskRecord:
    return store.add(TaskRecord(id=new_task_id(), request="run it", requester="alice", thread=thread, **kw))


def test_legal_path_and_history(tmp_path):
    store = StateStore(tmp_path / "s.json")
    rec = make(store)
    for state in (TaskState.APPROVED, TaskState.IN_PROGRESS, TaskState.COMPLETE):
        store.transition(rec.id, state, by="bob")
    got = store.get(rec.id)
    assert got.state is TaskState.COMPLETE
    assert [h["state"] for h in got.history] == ["PLANNED", "APPROVED", "IN_PROGRESS", "COMPLETE"]


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), TaskState.COMPLETE),
        ((), TaskState.IN_PROGRESS),
        ((TaskState.REJECTED,), TaskState.APPROVED),
        ((TaskState.APPROVED, TaskState.IN_PROGRESS, TaskState.COMPLETE), TaskState.IN_PROGRESS),
    ],
)
def test_illegal_transitions_are_refused(tmp_path, path, bad):
    store = StateStore(tmp_path / "s.json")
    rec = make(store)
    for state in path:
        store.transition(rec.id, state)
    with pytest.raises(IllegalTransition, match=f"cannot move to {bad}"):
        store.transition(rec.id, bad)
    assert store.get(rec.id).state == (path[-1] if path else TaskState.PLANNED)


def test_compare_and_set_guards_double_approval(tmp_path):
    store = StateStore(tmp_path / "s.json")
    rec = make(store)
    store.transition(rec.id, TaskState.APPROVED, expect=TaskState.PLANNED)
    with pytest.raises(IllegalTransition):
        store.transition(rec.id, TaskState.IN_PROGRESS, expect=TaskState.PLANNED)


def test_queries_by_state_thread_job(tmp_path):
    store = StateStore(tmp_path / "s.json")
    a = make(store, thread="x")
    b = make(store, thread="y", job_id=42)
    store.transition(a.id, TaskState.REJECTED)
    assert [r.id for r in store.find(thread="x")] == [a.id]
    assert [r.id for r in store.find(job_id=42)] == [b.id]
    assert [r.id for r in store.find(state=TaskState.REJECTED)] == [a.id]
    assert store.find(state=TaskState.REJECTED, thread="y") == []
    with pytest.raises(TaskNotFound):
        store.get("t-nope")


def test_failed_write_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "s.json"
    store = StateStore(path)
    rec = make(store)
    before = path.read_text()
    with pytest.raises(TypeError):
        store.update(rec.id, meta={"bad": object()})  # not JSON-serialisable: the write fails midway
    assert path.read_text() == before
    assert json.loads(path.read_text())  # still valid JSON
    assert not list(tmp_path.glob(".state-*.tmp"))


def _writer(path: str, thread: str, n: int) -> None:
    store = StateStore(path)
    for _ in range(n):
        rec = make(store, thread=thread)
        store.transition(rec.id, TaskState.APPROVED)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "s.json")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, t, 40)) for t in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = StateStore(path)
    assert store.count() == 80
    assert len(store.find(thread="p1", state=TaskState.APPROVED)) == 40
    assert len({r.id for r in store.find()}) == 80
