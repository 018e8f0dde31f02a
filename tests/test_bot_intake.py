"""No lost requests: a mention is recorded before its ack and planned from that record, a restart resumes
it (and never plans it twice), a failed Slack post is retried and else recorded on the task, results
always replace "applying…". Driven like test_bot.py: signed HTTP to the real endpoint, the Slack stand-in,
the Databricks emulator; waits are on conditions only (Slack calls, activity counts, process exits)."""

from __future__ import annotations

import dataclasses
import logging
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import WorkspaceHandle
from agent.errors import StateWriteFailed
from agent.models import TaskState
from agent.runtime import Runtime
from agent.state import Accepted, utcnow
from agent.state_tinydb import TinyStore
from bot import blocks
from bot.listeners.common import _plan, thread_id
from bot.planner import Planner
from standins.slack import SlackEventSender, SlackStandIn, new_ts
from tests.bot_fixtures import (
    ALICE,
    BOB,
    CHANNEL,
    REQUEST,
    SECRET,
    BotHarness,
    block_text,
    offline_lead,
    stub_planner,
)

FAST_RETRIES = 0.01  # seconds before the first retry of a failed Slack call (then doubled)


@pytest.fixture
def slack():
    with SlackStandIn() as stand_in:
        stand_in.add_user(ALICE, name="alice", email="alice@example.com")
        stand_in.add_user(BOB, name="bob", email="bob@example.com")
        yield stand_in


def harness(runtime, slack, **options) -> BotHarness:
    config = BotHarness.default_config(slack, slack_retry_seconds=FAST_RETRIES, **options.pop("config", {}))
    return BotHarness(runtime, offline_lead(runtime.settings, runtime), slack, config, **options)


@pytest.fixture
def bot(runtime, slack):
    bot = harness(runtime, slack)
    yield bot
    bot.close()


def mention_event(slack: SlackStandIn, text: str = REQUEST, *, ts: str | None = None, channel: str = CHANNEL):
    ts = ts or new_ts()
    return {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{slack.bot_user_id}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }


def plans(bot: BotHarness, ts: str) -> list[dict]:
    return bot.posts(ts, buttons=True)


# -- a restart resumes what was accepted -------------------------------------------------------------
def _planner_processes_of(pid: int) -> list[int]:
    """Processes spawned by multiprocessing (not its resource tracker) whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in command:
                found.append(int(entry))
    return found


def _wait_exit(pid: int, timeout: float = 10.0) -> None:
    """Block until process `pid` (not our child) has exited: its pidfd becomes readable."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        assert readable, f"process {pid} still runs {timeout}s after its parent was killed"
    finally:
        os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and uses pidfds")
def test_server_killed_between_ack_and_plan_the_next_one_plans_it_once(tmp_path, runtime, slack):
    """A real `jobagent serve` (a planner process, as deployed) acks a mention and is SIGKILLed while
    planning it; Slack's retry is dropped; a new bot on the same state directory posts one plan."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "JOBAGENT_BOT_HOST": "127.0.0.1",
        "JOBAGENT_PLANNER_PROCESSES": "1",
        "JOBAGENT_SLACK_INTERIM_SECONDS": "0",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    assert Path(env["JOBAGENT_HOME"]) / "state" == runtime.settings.state_path  # the same state directory
    held = slack.hold("users.info")  # the planner's first Slack lookup: it stops there, before any task
    code = "import sys; from bot.server import serve_command; sys.exit(serve_command(0))"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        while not any("HTTP mode on" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {lines}"
            lines.append(line)
        assert any("planning in 1 process" in line for line in lines)
        port = int(lines[-1].split("127.0.0.1:")[1].split(":")[0])
        sender = SlackEventSender(f"http://127.0.0.1:{port}/slack/events", SECRET, slack=slack)
        event = mention_event(slack)
        first = sender.event(event, event_id="Ev0KILLED1")
        twin = sender.event({**event, "type": "message", "channel_type": "channel"})
        assert first.status == 200 and "x-slack-no-retry" not in first.headers
        assert twin.status == 200 and twin.headers.get("x-slack-no-retry") == "1"
        slack.wait_attempts("users.info")  # acknowledged, and its planner process is at work on it
        (planner,) = _planner_processes_of(proc.pid)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    _wait_exit(planner)  # the planner process died with the server: nothing plans behind our back
    held.set()
    assert slack.received("chat.postMessage") == [] and runtime.store.count() == 0
    (pending,) = runtime.store.accepted()
    assert pending.key == f"message:{CHANNEL}:{event['ts']}"

    bot = harness(runtime, slack)  # starts by queueing what was accepted and not finished
    try:
        retry = bot.send.event(event, event_id="Ev0KILLED1", retry_num=1, retry_reason="http_timeout")
        assert retry.status == 200 and retry.headers.get("x-slack-no-retry") == "1"
        bot.services.activity.wait("request", 1)
        (plan,) = plans(bot, event["ts"])
        (task,) = bot.tasks(event["ts"])
        assert task.state is TaskState.PLANNED and task.id in block_text(plan)
        assert task.meta["accepted_key"] == pending.key and task.meta["slack_ts"]
        assert runtime.store.accepted() == []
    finally:
        bot.close()


def test_a_task_recorded_before_a_restart_is_posted_not_planned_again(runtime, slack):
    first = harness(runtime, slack, start_planner=False)  # acks and records, plans nothing
    event = mention_event(slack)
    try:
        assert first.send.event(event).status == 200
        (item,) = runtime.store.accepted()
        thread = thread_id(CHANNEL, event["ts"])
        # the process stopped right after the Worker recorded the task: not posted
        recorded = _plan(
            first.services,
            REQUEST,
            thread=thread,
            user=ALICE,
            channel=CHANNEL,
            thread_ts=event["ts"],
            accepted_key=item.key,
        )
    finally:
        first.close()
    assert len(runtime.store.accepted()) == 1 and "slack_ts" not in recorded.meta

    second = harness(runtime, slack)
    try:
        second.services.activity.wait("request", 1)
        (plan,) = plans(second, event["ts"])
        assert [t.id for t in second.tasks(event["ts"])] == [recorded.id]  # posted, not planned again
        assert recorded.id in block_text(plan) and second.task(event["ts"]).meta["slack_ts"]
        assert runtime.store.accepted() == []
    finally:
        second.close()


def test_planner_processes_plan_off_the_server_process(runtime, slack):
    bot = harness(runtime, slack, config={"planner_processes": 1}, lead_factory=offline_lead)
    try:
        assert bot.services.planner.mode == "processes" and bot.services.planner.pids() != [os.getpid()]
        ts, task = bot.plan()
        assert task.state is TaskState.PLANNED and len(plans(bot, ts)) == 1 and task.meta["slack_ts"]
        assert runtime.store.accepted() == [] and bot.services.planner.in_flight() == 0
    finally:
        bot.close()


def test_a_planner_process_that_dies_is_replaced_and_its_requests_handed_out_again(runtime, slack, tmp_path):
    bot = harness(runtime, slack, start_planner=False)
    planner = Planner(bot.services, bot.services.directory.client, processes=1, target=stub_planner)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    log = tmp_path / "handled"
    hang = {"marker": str(tmp_path / "hung"), "port": listener.getsockname()[1]}
    items = [Accepted("k-hang", {"log": str(log), "hang": hang}, utcnow())]
    items += [Accepted(f"k{i}", {"log": str(log)}, utcnow()) for i in (1, 2)]
    try:
        planner.start(resume=False)
        assert all(planner.submit(item) for item in items) and not planner.submit(items[0])
        stuck, _ = listener.accept()  # the process is stuck in its first request, two more wait for it
        (pid,) = planner.pids()
        os.kill(pid, signal.SIGKILL)
        bot.services.activity.wait("request", 3)
        (replacement,) = planner.pids()
        handled = [tuple(line.split()) for line in log.read_text().splitlines()]
        assert handled == [(str(pid), "k-hang")] + [(str(replacement), k) for k in ("k-hang", "k1", "k2")]
        assert planner.in_flight() == 0
        stuck.close()
    finally:
        planner.stop()
        listener.close()
        bot.close()


# -- the gate -----------------------------------------------------------------------------------------
def test_a_request_that_cannot_be_recorded_gets_503_and_slacks_retry_succeeds(
    settings, emulator, slack, caplog
):
    class DiskFull(TinyStore):
        failures = 1

        def accept(self, key, payload):
            if self.failures:
                self.failures -= 1
                raise StateWriteFailed(self.root, OSError(28, "No space left on device"))
            return super().accept(key, payload)

    with Runtime(settings, WorkspaceHandle(emulator.client(), "emulator")) as runtime:
        runtime.__dict__["store"] = DiskFull(settings.state_path)  # what Runtime.store would open
        bot = harness(runtime, slack)
        try:
            event = mention_event(slack)
            refused = bot.send.event(event, event_id="Ev0DISKFULL")
            assert refused.status == 503 and "x-slack-no-retry" not in refused.headers
            assert runtime.store.accepted() == [] and runtime.store.count() == 0
            assert any(
                "could not be recorded" in r.getMessage()
                for r in caplog.records
                if r.levelno == logging.ERROR
            )
            retry = bot.send.event(event, event_id="Ev0DISKFULL", retry_num=1, retry_reason="http_error")
            assert retry.status == 200
            bot.services.activity.wait("request", 1)
            assert len(plans(bot, event["ts"])) == 1 and len(bot.tasks(event["ts"])) == 1
        finally:
            bot.close()


def test_odd_characters_in_ids_are_deduped_across_a_restart(runtime, slack):
    """Keys are hashed: a carriage return, U+2028 or an unpaired surrogate (what invalid UTF-8 becomes)
    in an id neither breaks the intake nor defeats its dedupe."""
    odd = "\r\u2028\udcff"
    event = mention_event(slack, ts="1700000000.0001" + odd, channel="C0ODD" + odd)
    reaction = {
        "type": "reaction_added",
        "user": ALICE,
        "reaction": "tada",
        "item": {"type": "message", "channel": CHANNEL, "ts": "1.2"},
        "event_ts": new_ts(),
    }
    first = harness(runtime, slack, start_planner=False)
    try:
        assert first.send.event(event, event_id="Ev0ODD" + odd).status == 200
        assert first.send.event(reaction, event_id="Ev1ODD" + odd).status == 200
    finally:
        first.close()
    (pending,) = runtime.store.accepted()
    assert pending.payload["ts"] == event["ts"] and pending.payload["channel"] == event["channel"]

    restarted = harness(runtime, slack, start_planner=False)
    try:
        for body, event_id in ((event, "Ev0ODD" + odd), (reaction, "Ev1ODD" + odd)):
            again = restarted.send.event(body, event_id=event_id, retry_num=1)
            assert again.status == 200 and again.headers.get("x-slack-no-retry") == "1"
        twin = restarted.send.event({**event, "type": "message", "channel_type": "channel"})
        assert twin.headers.get("x-slack-no-retry") == "1"
    finally:
        restarted.close()
    assert len(runtime.store.accepted()) == 1


# -- Slack refusing posts ---------------------------------------------------------------------------
def test_failed_posts_are_retried_then_recorded_and_reposted_by_the_next_message(bot, slack, runtime):
    slack.fail("chat.postMessage", "internal_error", times=2, status=500)
    ts, _ = bot.plan()
    assert slack.attempts("chat.postMessage") == 3 and len(plans(bot, ts)) == 1
    slack.fail("chat.postMessage", "internal_error", times=1)  # HTTP 200, ok: false, transient
    ts, _ = bot.plan(text=REQUEST.replace("nightly-ingest", "second-ingest"))
    assert slack.attempts("chat.postMessage") == 5 and len(plans(bot, ts)) == 1

    slack.fail("chat.postMessage", "service_unavailable", times=4, status=503)  # more than the retries
    ts = bot.mention(ALICE, REQUEST.replace("nightly-ingest", "third-ingest")).ts
    bot.services.activity.wait("request", 3)
    task = bot.task(ts)
    assert plans(bot, ts) == [] and "service_unavailable" in task.meta["undelivered"]
    assert "slack_ts" not in task.meta and runtime.store.accepted() == []  # recorded on the task: done
    assert [e.kind for e in runtime.notes.entries(task.thread)][-1] == "undelivered"
    status = bot.send.command(ALICE, "status")
    assert f"{task.id}" in status.body and "not posted in Slack" in status.body

    bot.reply(ALICE, "make it 3am instead", ts)  # the next message re-posts the plan first
    notice, late, newer = bot.posts(ts)
    assert "could not post this earlier" in block_text(notice) and task.id in block_text(notice)
    assert bot.posts(ts, buttons=True) == [late, newer] and task.id in block_text(late)
    resent = bot.store_task(task.id)
    assert "undelivered" not in resent.meta and resent.meta["slack_ts"]
    assert resent.state is TaskState.SUPERSEDED and bot.task(ts).id in block_text(newer)


def test_results_replace_applying_even_when_chat_update_fails(bot, slack, runtime, emulator):
    ts, task = bot.plan()
    slack.fail("chat.update", "internal_error", times=8, status=500)  # "applying…" and the outcome: 4 each
    before = bot.services.activity.count("approve")
    bot.click(ALICE, blocks.APPROVE_ACTION, task)
    bot.services.activity.wait("approve", before + 1)
    done = bot.task(ts)
    assert done.state is TaskState.COMPLETE and slack.received("chat.update") == []
    outcome = bot.wait_post(ts, text="applied: <")
    assert f"job {done.job_id}" in block_text(outcome) and task.id in block_text(outcome)
    assert bot.wait_post(ts, text="complete")  # the result itself

    # Slack refuses everything: the outcome is recorded on the task, status and the next message show it
    ts, task = bot.plan(text=REQUEST.replace("nightly-ingest", "other-ingest"))
    slack.fail("chat.update", "internal_error", times=100, status=500)
    slack.fail("chat.postMessage", "internal_error", times=100, status=500)
    bot.click(ALICE, blocks.APPROVE_ACTION, task)
    bot.services.activity.wait("approve", before + 2)
    failed = bot.task(ts)
    assert failed.state is TaskState.COMPLETE and failed.meta["undelivered_message"] == "result"
    slack.fail("chat.update", "internal_error", times=0)
    slack.fail("chat.postMessage", "internal_error", times=0)
    assert "not posted in Slack" in bot.send.command(ALICE, "status").body
    bot.reply(ALICE, "status", ts)
    assert f"job {failed.job_id}" in block_text(bot.wait_post(ts, text="complete"))
    assert "undelivered" not in bot.task(ts).meta and len(emulator.jobs_snapshot()) == 2


def test_an_approval_the_disk_cannot_take_changes_nothing_and_says_so(settings, emulator, slack):
    class DiskFullOnApprove(TinyStore):
        def transition(self, task_id, to, **kw):
            if to is TaskState.APPROVED:
                raise StateWriteFailed(self.root, OSError(28, "No space left on device"))
            return super().transition(task_id, to, **kw)

    with Runtime(settings, WorkspaceHandle(emulator.client(), "emulator")) as runtime:
        runtime.__dict__["store"] = DiskFullOnApprove(settings.state_path)
        bot = harness(runtime, slack)
        try:
            ts, task = bot.plan()
            before = bot.services.activity.count("approve")
            bot.click(ALICE, blocks.APPROVE_ACTION, task)
            bot.services.activity.wait("approve", before + 1)
            told = slack.wait_for("chat.postEphemeral")[-1]
            assert "could not be recorded" in told["text"] and "No space left on device" in told["text"]
            assert bot.task(ts).state is TaskState.PLANNED and emulator.jobs_snapshot() == []
            assert "Approved by" not in runtime.notes.read(bot.task(ts).thread)
        finally:
            bot.close()


def test_slack_client_retries_server_errors_and_transient_errors(bot):
    handlers = {type(h).__name__ for h in bot.services.directory.client.retry_handlers}
    assert {
        "ConnectionErrorRetryHandler",
        "RateLimitErrorRetryHandler",
        "ServerErrorRetryHandler",
        "TransientErrorRetryHandler",
    } <= handlers


def test_planner_processes_default_from_the_environment():
    from bot.config import BotConfig

    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert BotConfig.from_env({**base, "JOBAGENT_PLANNER_PROCESSES": "3"}).planner_processes == 3
    cpus = os.cpu_count() or 1
    expected = min(cpus, 4) if cpus >= 2 else 0
    assert BotConfig.from_env(base).planner_processes == expected
    assert dataclasses.replace(BotConfig(bot_token="xoxb-1")).planner_processes == 0  # tests, the demo


def test_the_sweep_resumes_stale_requests_and_gives_up_on_ancient_ones(runtime, slack, monkeypatch, caplog):
    import bot.planner as planner_module

    bot = harness(runtime, slack, start_planner=False)
    try:
        assert bot.send.event(mention_event(slack)).status == 200
        planner = Planner(bot.services, bot.services.directory.client, processes=0)
        planner.start(resume=False)
        assert planner.resume(older_than=planner_module.STALE_SECONDS) == 0  # too young to be stuck
        monkeypatch.setattr(planner_module, "GIVE_UP_SECONDS", -1.0)
        assert planner.resume() == 0 and runtime.store.accepted() == []
        assert any("giving up" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
        planner.stop()
    finally:
        bot.close()
