"""The Slack bot end to end: signed HTTP deliveries to its real /slack/events endpoint, the Slack Web API
stand-in, the real Databricks emulator, the real Tech Lead and Worker; waits are on conditions only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from databricks.sdk.service.jobs import JobSettings
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from agent.errors import ConfigError
from agent.export import parse_bundle
from agent.models import TaskState
from agent.tech_lead import TechLead
from bot import blocks
from bot.app import build_app
from bot.config import BotConfig
from bot.listeners.common import post
from bot.server import make_runner, serve_command
from standins.slack import SlackEventSender, SlackStandIn
from tests.bot_fixtures import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    REQUEST,
    SECRET,
    BotHarness,
    block_text,
    has_buttons,
)


@pytest.fixture(scope="session")
def docs_index(tmp_path_factory):
    from retrieval import DocsIndex

    return DocsIndex.load_or_build(cache_dir=tmp_path_factory.mktemp("docs-index"))


@pytest.fixture
def slack():
    with SlackStandIn() as stand_in:
        stand_in.add_user(ALICE, name="alice", email="alice@example.com")
        stand_in.add_user(BOB, name="bob", email="bob@example.com")
        stand_in.add_user(CAROL, name="carol", email="carol@example.com")
        stand_in.add_user(ADMIN, name="admin", is_admin=True, email="admin@example.com")
        yield stand_in


@pytest.fixture
def lead(runtime, docs_index):
    return TechLead(
        store=runtime.store,
        notes=runtime.notes,
        workspace=lambda: runtime.workspace,
        index=lambda: docs_index,
    )


@pytest.fixture
def bot(runtime, lead, slack):
    harness = BotHarness(runtime, lead, slack)
    yield harness
    harness.close()


def approve(bot: BotHarness, user: str, task, **kw) -> None:
    before = bot.services.activity.count("approve")
    bot.click(user, blocks.APPROVE_ACTION, task, **kw)
    bot.services.activity.wait("approve", before + 1)


# -- planning ------------------------------------------------------------------------------------
def test_mention_is_acked_then_planned_once_in_its_thread(bot, slack):
    delivery = bot.mention(ALICE, REQUEST)
    assert delivery.elapsed < 3 and len(delivery.extra) == 1  # the app_mention and its `message` twin
    ts = delivery.ts
    eyes = slack.wait_for("reactions.add")[0]
    assert (eyes["channel"], eyes["timestamp"], eyes["name"]) == (CHANNEL, ts, "eyes")
    bot.services.activity.wait("request", 1)
    plan = bot.wait_post(ts, buttons=True)
    assert plan["channel"] == CHANNEL and plan["thread_ts"] == ts

    task = bot.task(ts)
    assert task.state is TaskState.PLANNED and task.requester == ALICE and task.channel == CHANNEL
    assert (
        task.meta["slack_ts"] == slack.messages[CHANNEL][-1]["ts"] and task.meta["slack_channel"] == CHANNEL
    )
    text = block_text(plan)
    assert f"Task `{task.id}`" in text and 'create job "nightly-ingest"' in text
    assert text.index(task.plan["synopsis"]) < text.index("*Show details* lists them all")  # diff collapsed
    assert task.citations and task.citations[0]["url"] in text  # cited documentation as links
    buttons = [b for b in plan["blocks"] if b["type"] == "actions"][0]["elements"]
    key = task.meta["button_key"]  # the task id and its random key (see bot/listeners/actions.py)
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (blocks.APPROVE_ACTION, f"{task.id}:{key}"),
        (blocks.REJECT_ACTION, f"{task.id}:{key}"),
        (blocks.DETAILS_ACTION, f"{task.id}:{key}"),
    ]
    assert len(key) >= 16
    assert buttons[0]["style"] == "primary" and "confirm" in buttons[0]
    assert len(bot.posts(ts)) == 1 and len(bot.tasks(ts)) == 1  # the `message` twin did not plan again
    assert bot.services.activity.count("request") == 1


def test_message_twin_arriving_first_still_plans_once(bot):
    delivery = bot.mention(ALICE, REQUEST, message_first=True)
    bot.services.activity.wait("request", 1)
    assert len(bot.posts(delivery.ts, buttons=True)) == 1 and len(bot.tasks(delivery.ts)) == 1


def test_retried_delivery_is_acked_and_dropped(bot, slack):
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{slack.bot_user_id}> {REQUEST}",
        "ts": "1700000000.000100",
        "channel": CHANNEL,
        "event_ts": "1700000000.000100",
    }
    first = bot.send.event(event, event_id="Ev0RETRY1")
    again = bot.send.event(event, event_id="Ev0RETRY1", retry_num=1, retry_reason="http_timeout")
    assert first.status == again.status == 200
    assert again.headers.get("x-slack-no-retry") == "1"
    bot.services.activity.wait("request", 1)
    assert len(bot.posts("1700000000.000100", buttons=True)) == 1

    restarted = BotHarness(bot.runtime, bot.services.lead, slack)  # a new process: memory from the file
    try:
        late = restarted.send.event(event, event_id="Ev0RETRY1", retry_num=2)
        assert late.status == 200 and late.headers.get("x-slack-no-retry") == "1"
    finally:
        restarted.close()
    assert len(bot.tasks("1700000000.000100")) == 1


def test_url_verification_and_signatures(bot):
    answer = bot.send.url_verification("challenge-xyz")
    assert answer.status == 200 and json.loads(answer.body) == {"challenge": "challenge-xyz"}
    bad = bot.send.post(
        json.dumps(
            bot.send.envelope(
                {"type": "app_mention", "user": ALICE, "text": "x", "ts": "1.2", "channel": CHANNEL}
            )
        ),
        "application/json",
        bad_signature=True,
    )
    assert bad.status == 401
    stale = bot.send.post(
        json.dumps({"type": "url_verification", "challenge": "c"}), "application/json", timestamp=1
    )
    assert stale.status == 401
    with urllib.request.urlopen(bot.url.replace("/slack/events", "/healthz"), timeout=5) as resp:
        assert resp.status == 200 and resp.read() == b"ok\n"


def test_irrelevant_messages_are_dropped_before_the_ack(bot, slack):
    top = bot.send.message(BOB, "lunch?", channel=CHANNEL)
    stranger = bot.send.message(BOB, "unrelated thread", channel=CHANNEL, thread_ts="1699999999.000001")
    edit = bot.send.message(BOB, "edited", channel=CHANNEL, subtype="message_changed")
    for d in (top, stranger, edit):
        assert d.status == 200 and d.headers.get("x-slack-no-retry") == "1"
    assert bot.runtime.store.accepted() == [] and bot.services.activity.count("request") == 0
    assert slack.received("chat.postMessage") == []


def test_question_then_reply_in_thread_continues_the_task(bot):
    ts = bot.mention(ALICE, "set up a daily job at 6am please").ts
    question = bot.wait_post(ts, buttons=False)
    first = bot.task(ts)
    assert first.state is TaskState.NEEDS_INPUT and first.questions
    assert first.questions[0][:40] in block_text(question)

    bot.reply(ALICE, "run /Repos/etl/ingest on a small cluster, call it morning-ingest", ts)
    plan = bot.wait_post(ts, buttons=True)
    tasks = bot.tasks(ts)
    assert [t.state for t in tasks] == [TaskState.SUPERSEDED, TaskState.PLANNED]
    assert "morning-ingest" in block_text(plan) and tasks[-1].settings["schedule"]


# -- decisions -----------------------------------------------------------------------------------
def test_requester_approves_job_is_created(bot, slack, emulator, runtime):
    ts, task = bot.plan()
    approve(bot, ALICE, task)

    update = slack.received("chat.update")[0]
    assert update["ts"] == task.meta["slack_ts"] and "Approved by <@UALICE>" in block_text(update)
    assert not has_buttons(update)
    done = bot.task(ts)
    assert done.state is TaskState.COMPLETE and done.decided_by == ALICE
    result = bot.wait_post(ts, text=f"job {done.job_id}")
    assert runtime.workspace.job_url(done.job_id) in block_text(result)
    jobs = emulator.jobs_snapshot()
    assert [j["job_id"] for j in jobs] == [done.job_id] and jobs[0]["settings"]["name"] == "nightly-ingest"
    note = runtime.notes.read(done.thread)
    assert "Approved by **UALICE**" in note and "· applied ·" in note
    final = bot.stored(CHANNEL, task.meta["slack_ts"])
    assert "applied: <" in block_text(final) and not has_buttons(final)
    # the GitOps handoff: the job as a bundle resource, attached in the thread, as `jobagent export` writes it
    (bundle,) = [f for f in slack.files.values() if f["name"].endswith(".job.yml")]
    assert bundle["thread_ts"] == ts and bundle["channel"] == CHANNEL
    (settings,) = parse_bundle(bundle["content"]).values()
    assert settings["name"] == "nightly-ingest" and settings["schedule"] == jobs[0]["settings"]["schedule"]


def test_a_newer_plan_closes_the_older_message_and_details_show_everything(bot, slack):
    ts, task = bot.plan()
    bot.click(BOB, blocks.DETAILS_ACTION, task)  # anyone in the channel may read the details
    bot.services.activity.wait("details", 1)
    (details,) = slack.received("chat.postEphemeral")
    assert details["user"] == "UBOB" and details["thread_ts"] == ts
    assert '+ tasks["ingest"].notebook_task.notebook_path = "/Repos/etl/ingest"' in block_text(details)

    newer = bot.reply(ALICE, "make it 3am instead", ts)
    assert bot.store_task(task.id).state is TaskState.SUPERSEDED
    closed = bot.stored(CHANNEL, task.meta["slack_ts"])
    assert f"Replaced by a newer plan in this thread (task `{newer.id}`)" in block_text(closed)
    assert not has_buttons(closed) and has_buttons(bot.stored(CHANNEL, newer.meta["slack_ts"]))


def test_unauthorised_approver_is_refused_and_an_admin_may_approve(bot, slack, emulator):
    ts, task = bot.plan()
    approve(bot, BOB, task)
    refusal = slack.wait_for("chat.postEphemeral")[0]
    assert refusal["user"] == BOB and "cannot approve" in refusal["text"] and f"<@{ALICE}>" in refusal["text"]
    assert bot.task(ts).state is TaskState.PLANNED
    assert slack.received("chat.update") == [] and emulator.jobs_snapshot() == []

    approve(bot, ADMIN, task)
    assert bot.task(ts).state is TaskState.COMPLETE and len(emulator.jobs_snapshot()) == 1


def test_allow_list_replaces_the_requester_rule(runtime, lead, slack, emulator):
    slack.add_usergroup("S0DATAENG", [CAROL])
    config = BotConfig(
        bot_token=slack.token,
        signing_secret=SECRET,
        api_url=slack.url,
        approvers=frozenset({BOB}),
        approver_groups=frozenset({"S0DATAENG"}),
        admins_can_approve=False,
    )
    harness = BotHarness(runtime, lead, slack, config)
    try:
        ts, task = harness.plan()
        for user in (ALICE, ADMIN):
            approve(harness, user, task)
        assert (
            len(slack.wait_for("chat.postEphemeral", 2)) == 2 and harness.task(ts).state is TaskState.PLANNED
        )
        approve(harness, CAROL, task)  # member of an approver group
        assert harness.task(ts).state is TaskState.COMPLETE
        assert slack.received("usergroups.users.list")[0]["usergroup"] == "S0DATAENG"
    finally:
        harness.close()


def test_double_click_applies_once(bot, slack, emulator):
    ts, task = bot.plan()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: bot.click(ALICE, blocks.APPROVE_ACTION, task), range(2)))
    bot.services.activity.wait("approve", 2)
    assert len(emulator.jobs_snapshot()) == 1 and bot.task(ts).state is TaskState.COMPLETE
    assert len(bot.posts(ts, buttons=False)) == 1  # one result message
    assert "already" in slack.wait_for("chat.postEphemeral")[0]["text"]


def test_reject_updates_the_message(bot, slack, emulator, runtime):
    ts, task = bot.plan()
    bot.click(ALICE, blocks.REJECT_ACTION, task)
    bot.services.activity.wait("reject", 1)
    assert bot.task(ts).state is TaskState.REJECTED
    update = slack.received("chat.update")[0]
    assert "Rejected by <@UALICE>" in block_text(update) and not has_buttons(update)
    assert "Rejected by **UALICE**" in runtime.notes.read(task.thread) and emulator.jobs_snapshot() == []
    # a click on the stale buttons of an old copy changes nothing
    approve(bot, ALICE, task, value=blocks.button_value(task))
    assert "already REJECTED" in slack.wait_for("chat.postEphemeral")[0]["text"]


def test_follow_up_in_thread_plans_an_update_with_a_diff(bot, emulator):
    ts, task = bot.plan()
    approve(bot, ALICE, task)
    job_id = bot.task(ts).job_id
    update = bot.reply(ALICE, "make it 3am instead", ts)
    plan = bot.wait_post(ts, 2, buttons=True)
    assert update.action == "update" and update.job_id == job_id and update.state is TaskState.PLANNED
    assert "~ schedule" in update.plan["text"] and "~ schedule" in block_text(plan)
    approve(bot, ALICE, update)
    assert bot.task(ts).state is TaskState.COMPLETE
    assert emulator.jobs_snapshot()[0]["settings"]["schedule"]["quartz_cron_expression"].startswith("0 0 3 ")


def test_workspace_failure_is_reported_in_the_thread(bot, emulator):
    emulator.faults.add("/api/2.2/jobs/create", status=500, count=5)
    ts, task = bot.plan()
    approve(bot, ALICE, task)
    failed = bot.task(ts)
    assert failed.state is TaskState.FAILED and failed.error
    message = bot.wait_post(ts, buttons=False, text="failed")
    assert task.id in block_text(message) and "jobagent apply" in block_text(message)
    assert emulator.jobs_snapshot() == []


def test_planning_failures_are_reported_in_the_thread(bot, emulator):
    emulator.faults.add("/api/2.2/jobs/list", status=500, count=5)  # the pre-flight name check fails
    ts = bot.mention(ALICE, REQUEST).ts
    message = bot.wait_post(ts, text="could not plan")
    bot.services.activity.wait("request", 1)
    assert bot.task(ts).state is TaskState.FAILED and "Databricks said" in block_text(message)

    emulator.faults.clear()
    ts, task = bot.plan()
    approve(bot, ALICE, task)
    emulator.faults.add("/api/2.2/jobs/get", status=500, count=5)  # the Tech Lead cannot read the job
    bot.reply(ALICE, "make it 3am instead", ts)
    warning = bot.wait_post(ts, text="Something went wrong while planning")
    assert "Nothing was changed" in block_text(warning) and bot.task(ts).state is TaskState.COMPLETE


def test_stale_plan_is_refused_and_planned_afresh(bot, emulator, slack):
    ts, task = bot.plan()
    approve(bot, ALICE, task)
    job_id = bot.task(ts).job_id
    update = bot.reply(ALICE, "make it 3am instead", ts)
    emulator.client().jobs.update(
        job_id, new_settings=JobSettings(max_concurrent_runs=5)
    )  # changed elsewhere
    approve(bot, ALICE, update)
    assert bot.store_task(update.id).state is TaskState.STALE
    assert "changed since" in block_text(bot.wait_post(ts, text="stale"))
    fresh = bot.wait_post(ts, 3, buttons=True)  # create, update, fresh update
    newest = bot.task(ts)
    assert newest.id != update.id and newest.state is TaskState.PLANNED and newest.id in block_text(fresh)
    settings = emulator.jobs_snapshot()[0]["settings"]
    assert settings["schedule"]["quartz_cron_expression"].startswith("0 0 2 ")  # nothing applied


def test_rate_limited_web_api_is_retried(bot, slack):
    slack.rate_limit("chat.postMessage", retry_after=0)
    ts, _ = bot.plan()
    assert slack.attempts("chat.postMessage") == 2 and len(bot.posts(ts)) == 1


# -- feedback, status, help ----------------------------------------------------------------------
def test_reactions_are_stored_as_feedback(bot, runtime, slack):
    ts, task = bot.plan()
    plan_ts = task.meta["slack_ts"]
    bot.send.reaction(BOB, "+1::skin-tone-3", channel=CHANNEL, ts=plan_ts)
    bot.services.activity.wait("reaction", 1)  # events are handled concurrently: keep add before remove
    bot.send.reaction(BOB, "+1", channel=CHANNEL, ts=plan_ts, added=False)
    bot.send.reaction(BOB, "tada", channel=CHANNEL, ts=plan_ts)  # not feedback
    bot.send.reaction(BOB, "-1", channel=CHANNEL, ts=ts, item_user=ALICE)  # not the bot's message
    bot.services.activity.wait("reaction", 4)
    feedback = bot.task(ts).feedback
    assert [(f["user"], f["value"], f["reaction"], f["action"], f["message_ts"]) for f in feedback] == [
        (BOB, 1, "+1", "added", plan_ts),
        (BOB, 1, "+1", "removed", plan_ts),
    ]
    assert all(f["at"] for f in feedback)
    entries = [e for e in runtime.notes.entries(task.thread) if e.kind == "feedback"]
    assert len(entries) == 2 and "added :+1:" in entries[0].body and "removed" in entries[1].body

    bot.mention(ALICE, "status", thread_ts=ts)  # a bot message whose ts no task remembers
    bot.wait_post(ts, text="Recent tasks")
    status_ts = next(m["ts"] for m in slack.messages[CHANNEL] if "Recent tasks" in block_text(m))
    bot.send.reaction(CAROL, "thumbsdown", channel=CHANNEL, ts=status_ts)
    bot.services.activity.wait("reaction", 5)
    assert bot.task(ts).feedback[-1]["value"] == -1 and slack.received("conversations.replies")


def test_status_and_help(bot, slack):
    ts, task = bot.plan()
    status = bot.send.command(ALICE, "status")
    assert status.status == 200 and task.id in status.body and "PLANNED" in status.body
    assert json.loads(status.body)["response_type"] == "ephemeral"
    helped = bot.send.command(ALICE, "help")
    assert "nightly-ingest" in helped.body and "/jobagent status" in helped.body
    bot.mention(ALICE, "status", thread_ts=ts)  # @jobagent status inside the thread answers there
    assert task.id in block_text(bot.wait_post(ts, text="Recent tasks"))
    helped_ts = bot.mention(BOB, "help").ts
    assert "Examples" in block_text(bot.wait_post(helped_ts, text="Examples"))
    assert len(bot.tasks(ts)) == 1  # neither planned anything


def test_slash_command_request_plans_in_a_new_thread(bot, slack):
    answer = bot.send.command(ALICE, REQUEST)
    assert answer.status == 200 and "Planning" in answer.body
    bot.services.activity.wait("request", 1)
    top = slack.received("chat.postMessage")[0]
    assert "thread_ts" not in top and REQUEST[:30] in top["text"]
    assert bot.posts(slack.messages[CHANNEL][0]["ts"], buttons=True)
    assert bot.services.runtime.store.accepted() == []  # recorded before the ack, finished once answered
    assert bot.send.command(ALICE, REQUEST).status == 200  # a new command (new trigger_id) is a new request
    bot.services.activity.wait("request", 2)
    assert len(slack.received("chat.postMessage")) == 4


def test_direct_message_is_planned_in_its_own_thread(bot):
    delivery = bot.send.message(ALICE, REQUEST, channel="D0ALICE", channel_type="im")
    bot.services.activity.wait("request", 1)
    assert (
        bot.posts(delivery.ts, buttons=True) and bot.task(delivery.ts, "D0ALICE").state is TaskState.PLANNED
    )


def test_end_to_end_mention_plan_approve_job_note_feedback(bot, slack, emulator, runtime):
    ts, task = bot.plan(ALICE, REQUEST)
    approve(bot, ALICE, task)
    done = bot.task(ts)
    assert done.state is TaskState.COMPLETE
    assert emulator.jobs_snapshot()[0]["job_id"] == done.job_id
    result_ts = done.meta["slack_result_ts"]
    bot.send.reaction(ALICE, "thumbsup", channel=CHANNEL, ts=result_ts)
    bot.services.activity.wait("reaction", 1)
    assert bot.task(ts).feedback[0]["value"] == 1
    kinds = [e.kind for e in runtime.notes.entries(done.thread)]
    assert kinds == ["request", "plan", "decision", "apply started", "applied", "feedback"]


# -- pieces --------------------------------------------------------------------------------------
def test_long_plan_is_uploaded_to_the_thread(slack):
    lines = "\n".join(f'  + tasks["t{i}"].notebook_task.notebook_path = "/Repos/x/{i}"' for i in range(3000))
    message = blocks.Message(
        "plan",
        [{"type": "section", "text": {"type": "mrkdwn", "text": "plan"}}],
        attachment=lines,
        attachment_name="plan-t-1.txt",
    )
    ts = post(WebClient(token=slack.token, base_url=slack.url), CHANNEL, "1.000001", message)
    done = slack.wait_for("files.completeUploadExternal")[0]
    (stored,) = slack.files.values()
    assert ts and done["channel_id"] == CHANNEL and done["thread_ts"] == "1.000001"
    assert stored["content"] == lines and stored["name"] == "plan-t-1.txt"

    slack.fail("files.getUploadURLExternal", "missing_scope")  # no files:write: the plan goes as messages
    post(WebClient(token=slack.token, base_url=slack.url), CHANNEL, "2.000001", message)
    parts = [p["text"] for p in slack.received("chat.postMessage") if p.get("thread_ts") == "2.000001"][1:]
    assert len(parts) == 10 and all(len(p) < 3500 for p in parts) and "more part(s) not shown" in parts[-1]
    assert parts[0].startswith("```\n") and 't0"].notebook_task' in parts[0]


def test_config_from_env_names_the_problem(monkeypatch):
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        BotConfig.from_env({})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        BotConfig.from_env({"SLACK_BOT_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match="xapp-"):
        BotConfig.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-wrong"})
    socket = BotConfig.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_APP_TOKEN": "xapp-1",
            "JOBAGENT_APPROVERS": "U1, U2",
            "JOBAGENT_ADMINS_CAN_APPROVE": "no",
        }
    )
    assert socket.resolve_mode(None) == "socket" and socket.approvers == {"U1", "U2"}
    assert not socket.admins_can_approve and socket.api_url == "https://slack.com/api/"
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        socket.resolve_mode(8080)  # a port means HTTP mode
    http = BotConfig.from_env(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://127.0.0.1:9/api"}
    )
    assert http.resolve_mode(None) == "http" and http.api_url == "http://127.0.0.1:9/api/"
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert serve_command(None) == 2


def test_serve_command_runs_http_mode(tmp_path, slack):
    """`jobagent serve --port 0` as the CLI runs it: a real process, configured only by environment."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "JOBAGENT_BOT_HOST": "127.0.0.1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    code = "import sys; from bot.server import make_runner, serve_command; sys.exit(serve_command(0))"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any("HTTP mode on" in line for line in lines):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {lines}"
            lines.append(line)
        port = int(lines[-1].split("127.0.0.1:")[1].split(":")[0])
        assert any("workspace:" in line for line in lines)
        sender = SlackEventSender(f"http://127.0.0.1:{port}/slack/events", SECRET)
        assert json.loads(sender.url_verification("hi").body) == {"challenge": "hi"}
        assert sender.post("{}", "application/json", bad_signature=True).status == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_socket_mode_is_chosen_by_app_token(runtime, lead, slack):
    config = BotConfig(bot_token=slack.token, app_token="xapp-1-test", api_url=slack.url)
    app = build_app(config, runtime, lead, client=WebClient(token=slack.token, base_url=slack.url))
    runner = make_runner(config, app)
    try:
        assert isinstance(runner, SocketModeHandler) and runner.app_token == "xapp-1-test"
    finally:
        runner.close()


def test_plan_message_leads_with_what_it_did_not_act_on(bot):
    delivery = bot.mention(ALICE, "run /Repos/etl/ingest daily at 2am and defrobulate the widgets please")
    plan = bot.wait_post(delivery.ts, buttons=True)
    text = block_text(plan)
    assert "I did not act on" in text and "“defrobulate the widgets”" in text
    assert text.index("I did not act on") < text.index("```")  # above the diff
    assert bot.task(delivery.ts).unused == ["defrobulate the widgets"]
