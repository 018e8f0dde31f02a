"""`jobagent demo --slack`: the bot end to end on this machine — signed Slack events over HTTP to the
real Bolt app, Slack's Web API and a Databricks workspace played by local stand-ins. No tokens needed."""

from __future__ import annotations

import textwrap
from typing import Any

from slack_sdk import WebClient

from agent.config import Settings, WorkspaceHandle
from agent.demo import fresh_demo_settings, quiet_agent_logs
from agent.runtime import Runtime
from agent.tech_lead import TechLead
from bot.app import build_app
from bot.blocks import APPROVE_ACTION
from bot.config import BotConfig
from bot.server import HttpBotServer
from standins.slack import SlackEventSender, SlackStandIn

CHANNEL, ALICE = "C0DEMO", "UALICE"
SECRET = "demo-signing-secret"
REQUEST = (
    "run /Repos/etl/ingest then /Repos/etl/transform every weekday at 2:30am Berlin time on a small "
    "cluster, retry twice, email data-eng@example.com on failure, call it nightly-ingest"
)


def run_slack_demo(settings: Settings) -> int:
    with quiet_agent_logs():
        return _play_slack(settings)


def _play_slack(settings: Settings) -> int:
    from standins.databricks import WorkspaceEmulator

    settings = fresh_demo_settings(settings, "demo-slack")
    with WorkspaceEmulator() as emulator, SlackStandIn() as slack:
        emulator.start()
        slack.add_user(ALICE, name="alice", email="alice@example.com")
        emulator.add_user("alice@example.com")  # her Databricks identity: the bot acts only as far as she may
        handle = WorkspaceHandle(emulator.client(), f"local emulator at {emulator.url}")
        with Runtime(settings, handle) as rt:
            config = BotConfig(bot_token=slack.token, signing_secret=SECRET, api_url=slack.url)
            app = build_app(
                config,
                rt,
                TechLead.from_settings(settings, rt),
                client=WebClient(token=slack.token, base_url=slack.url),
            )
            server = HttpBotServer(app, "127.0.0.1", 0)
            url = server.start()
            say(f"Bot serving Slack events at {url}; Slack Web API stand-in at {slack.url}")
            send = SlackEventSender(
                url, SECRET, team_id=slack.team_id, bot_user_id=slack.bot_user_id, slack=slack
            )
            activity = app.jobagent.activity  # type: ignore[attr-defined]
            try:
                play(send, slack, activity, rt)
            finally:
                server.stop()
                app.jobagent.planner.stop()  # type: ignore[attr-defined]
            say(f"State DB: {settings.state_path}   Notes: {settings.notes_dir}")
    return 0


def play(send: SlackEventSender, slack: SlackStandIn, activity: Any, rt: Runtime) -> None:
    heading("1. @jobagent in #data-eng (an app_mention plus its twin message event)")
    say(f"alice: @jobagent {REQUEST}")
    thread = send.mention(ALICE, REQUEST, channel=CHANNEL).ts
    activity.wait("request", 1)
    plan = last_post(slack, thread)
    show(plan)

    heading("2. alice clicks Approve")
    task = rt.store.find(thread=f"{CHANNEL}:{thread}")[-1]
    message = next(m for m in slack.messages[CHANNEL] if m["ts"] == task.meta["slack_ts"])
    send.block_action(ALICE, APPROVE_ACTION, channel=CHANNEL, message=message)
    activity.wait("approve", 1)
    updated = slack.received("chat.update")[-1]
    status = [b["elements"][0]["text"] for b in updated.get("blocks", []) if b["type"] == "context"][-1]
    say(f"plan message updated in place, its buttons replaced by: {status}")
    show(last_post(slack, thread))
    files = [f["name"] for f in slack.files.values() if f.get("thread_ts") == thread]
    if files:
        say(f"attached in the thread for Git (what `jobagent export` writes): {', '.join(files)}")

    heading("3. a follow-up in the thread: an update with a diff")
    say("alice (in the thread): make it 3am instead")
    send.message(ALICE, "make it 3am instead", channel=CHANNEL, thread_ts=thread)
    activity.wait("request", 2)
    show(last_post(slack, thread))

    heading("4. alice reacts 👍 to the plan")
    send.reaction(ALICE, "+1", channel=CHANNEL, ts=task.meta["slack_ts"])
    activity.wait("reaction", 1)
    feedback = rt.store.get(task.id).feedback
    say(f"feedback stored on {task.id}: {feedback[-1]['reaction']} by {feedback[-1]['user']}")


def last_post(slack: SlackStandIn, thread: str) -> dict[str, Any]:
    return [p for p in slack.received("chat.postMessage") if p.get("thread_ts") == thread][-1]


def show(post: dict[str, Any]) -> None:
    texts = [post.get("text") or ""]
    for block in post.get("blocks") or []:
        text = (block.get("text") or {}).get("text")
        if text and text not in texts:
            texts.append(text)
        if block.get("type") == "actions":
            texts.append("[ " + " ] [ ".join(e["text"]["text"] for e in block["elements"]) + " ]")
    print(textwrap.indent("\n".join(texts), "    │ "))


def heading(text: str) -> None:
    print(f"\n━━ {text} " + "━" * max(0, 70 - len(text)))


def say(text: str) -> None:
    print(f"  {text}")
