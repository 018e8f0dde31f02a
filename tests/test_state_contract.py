"""The state-store contract, run against every backend: legal transitions, compare-and-set, queries,
failed writes that change nothing, several processes at once, and the Slack intake."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable

import pytest

from agent.errors import IllegalTransition, TaskNotFound
from agent.models import TaskState
from agent.state import TaskRecord, TaskStore, new_task_id, open_store

BACKENDS: dict[str, Callable[[object], str]] = {"tinydb": lambda tmp: str(tmp / "state")}


@pytest.fixture(params=sorted(BACKENDS))
def location(request, tmp_path) -> str:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def store(location) -> TaskStore:
    s = open_store(location)
    yield s
    s.close()


def make(store: TaskStore, thread: str = "th", **kw) -> TaskRecord:
    return store.add(TaskRecord(id=new_task_id(), request="run it", requester="alice", thread=thread, **kw))


def test_legal_path_and_history(store):
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
        ((TaskState.REJECTED,), TaskState.APPROVED),
        ((TaskState.APPROVED, TaskState.IN_PROGRESS, TaskState.COMPLETE), TaskState.IN_PROGRESS),
    ],
)
def test_illegal_transitions_are_refused(store, path, bad):
    rec = make(store)
    for state in path:
        store.transition(rec.id, state)
    with pytest.raises(IllegalTransition, match=f"cannot move to {bad}"):
        store.transition(rec.id, bad)
    assert store.get(rec.id).state == (path[-1] if path else TaskState.PLANNED)


def test_compare_and_set_guards_double_approval(store):
    rec = make(store)
    store.transition(rec.id, TaskState.APPROVED, expect=TaskState.PLANNED)
    with pytest.raises(IllegalTransition):
        store.transition(rec.id, TaskState.IN_PROGRESS, expect=TaskState.PLANNED)


def test_queries_by_state_thread_job_channel_and_limit(store):
    a = make(store, thread="x", channel="C1")
    b = make(store, thread="y", job_id=42, channel="C1")
    c = make(store, thread="x")
    store.transition(a.id, TaskState.REJECTED)
    store.update(c.id, job_id=7)
    assert [r.id for r in store.find(thread="x")] == [a.id, c.id]
    assert [r.id for r in store.find(thread="x", limit=1)] == [c.id]
    assert store.latest_in_thread("x").id == c.id and store.latest_in_thread("nowhere") is None
    assert [r.id for r in store.find(job_id=42)] == [b.id]
    assert [r.id for r in store.find(job_id=7)] == [c.id]
    assert [r.id for r in store.find(channel="C1")] == [a.id, b.id]
    assert [r.id for r in store.find(state=TaskState.REJECTED)] == [a.id]
    assert [r.id for r in store.find(state=TaskState.PLANNED)] == [b.id, c.id]
    assert store.find(state=TaskState.REJECTED, thread="y") == []
    assert [r.id for r in store.find()] == [a.id, b.id, c.id]
    assert [r.id for r in store.find(limit=2)] == [b.id, c.id]
    assert store.count() == 3
    with pytest.raises(TaskNotFound):
        store.get("t-nope")
    with pytest.raises(TaskNotFound):
        store.get("../../etc/passwd")


def test_a_task_that_left_a_state_is_not_found_under_it(store):
    rec = make(store)
    store.transition(rec.id, TaskState.APPROVED)
    store.transition(rec.id, TaskState.FAILED, error="boom")
    store.transition(rec.id, TaskState.IN_PROGRESS)
    assert store.find(state=TaskState.APPROVED) == store.find(state=TaskState.FAILED) == []
    assert [r.id for r in store.find(state=TaskState.IN_PROGRESS)] == [rec.id]


def test_a_write_that_fails_changes_nothing(store):
    rec = make(store)
    with pytest.raises(TypeError):
        store.update(rec.id, meta={"bad": object()})  # not storable: refused before anything is written
    with pytest.raises(IllegalTransition):
        store.transition(rec.id, TaskState.COMPLETE, error="never saved")
    got = store.get(rec.id)
    assert got.state is TaskState.PLANNED and got.meta == {} and got.error is None
    assert store.find(state=TaskState.COMPLETE) == []
    store.update(rec.id, error="later, unrelated")  # a later write does not carry the failed change
    assert store.get(rec.id).state is TaskState.PLANNED


def test_an_id_is_stored_once(store):
    rec = make(store)
    with pytest.raises(ValueError, match="already exists"):
        store.add(TaskRecord(id=rec.id, request="other", requester="bob", thread="z"))
    assert store.get(rec.id).request == "run it"


def test_unknown_field_is_an_error_not_ignored(store):
    rec = make(store)
    with pytest.raises(AttributeError):
        store.update(rec.id, colour="blue")


def _writer(location: str, thread: str, n: int) -> None:
    store = open_store(location)
    for _ in range(n):
        rec = make(store, thread=thread)
        store.transition(rec.id, TaskState.APPROVED)
        store.add_feedback(rec.id, {"by": thread})


def test_two_processes_writing_at_once_lose_nothing(location):
    open_store(location)  # created once, then shared
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(location, t, 30)) for t in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = open_store(location)
    assert store.count() == 60
    assert len(store.find(thread="p1", state=TaskState.APPROVED)) == 30
    assert len(store.find(state=TaskState.APPROVED)) == 60
    assert all(len(r.feedback) == 1 for r in store.find())


def test_claim_is_true_once_per_key_whatever_the_key(store, location):
    keys = ["event:Ev1", "message:C1:1.0", "odd\rkey", "line\u2028sep", "nul\x00?", "é" * 300]
    assert all(store.claim(k) for k in keys)
    assert not any(store.claim(k) for k in keys)
    again = open_store(location)  # a restart remembers
    assert not any(again.claim(k) for k in keys)


def test_accepted_requests_survive_a_restart_until_finished(store, location):
    assert store.accept("message:C1:1.0", {"text": "run it", "user": "U1"})
    assert not store.accept("message:C1:1.0", {"text": "a retry"})
    assert store.accept("message:C1:2.0", {"text": "second"})
    again = open_store(location)
    pending = again.accepted()
    assert [(a.key, a.payload["text"]) for a in pending] == [
        ("message:C1:1.0", "run it"),
        ("message:C1:2.0", "second"),
    ]
    again.finish("message:C1:1.0")
    assert [a.key for a in store.accepted()] == ["message:C1:2.0"]
    assert not store.accept("message:C1:1.0", {"text": "after it was finished"})
