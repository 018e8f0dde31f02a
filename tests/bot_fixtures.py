"""The bot under test, driven exactly as Slack drives it: signed HTTP to its real endpoint, Web API calls
answered by the Slack stand-in, jobs in the real Databricks emulator, state and notes in tmp_path."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from agent.state import TaskRecord
from bot import blocks
from bot.app import Services, build_app
from bot.config import BotConfig
from bot.server import HttpBotServer
from standins.slack import Delivery, SlackEventSender, SlackStandIn

SECRET = "bot-test-signing-secret"
CHANNEL = "C0JOBS"
ALICE, BOB, ADMIN, CAROL = "UALICE", "UBOB", "UADMIN", "UCAROL"
REQUEST = (
    "run /Repos/etl/ingest every weekday at 2am UTC on a small cluster, email ops@example.com on failure, "
    "call it nightly-ingest"
)


def offline_lead(settings: Any, runtime: Any) -> Any:
    """A Tech Lead without the docs index (fast to start): the lead factory of planner processes in tests."""
    from agent.tech_lead import TechLead

    return TechLead(store=runtime.store, notes=runtime.notes, workspace=lambda: runtime.workspace)


def stub_planner(jobs: Any, results: Any, stopping: Any) -> None:
    """A planner process that plans nothing (so it starts fast), for tests of the planner's supervision:
    it appends "pid key" to the file `payload["log"]` per request, and on the first request whose
    payload has a `hang` (an O_EXCL marker file and a port) it connects to that port and blocks there
    until killed."""
    import os
    import socket

    jobs.get()  # the PlannerSpec
    pid = os.getpid()
    results.put(("ready", pid, ""))
    while (item := jobs.get()) is not None:
        with open(item.payload["log"], "a", encoding="utf-8") as fh:
            fh.write(f"{pid} {item.key}\n")
        hang = item.payload.get("hang")
        if hang:
            try:
                os.close(os.open(hang["marker"], os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                socket.create_connection(("127.0.0.1", hang["port"])).recv(1)
        results.put(("done", pid, item.key))


def has_buttons(params: dict[str, Any]) -> bool:
    """Does the message still offer Approve / Reject? ("Show details" stays after a decision.)"""
    return any(
        e.get("action_id") == blocks.APPROVE_ACTION
        for b in params.get("blocks") or []
        if b.get("type") == "actions"
        for e in b.get("elements") or []
    )


def block_text(params: dict[str, Any]) -> str:
    """All text of a posted message (blocks and fallback), for assertions."""
    parts = [params.get("text") or ""]
    for block in params.get("blocks") or []:
        parts.append((block.get("text") or {}).get("text", ""))
        parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


class BotHarness:
    """Bot app + HTTP server + event sender around a Slack stand-in; `close()` stops the server."""

    def __init__(
        self,
        runtime: Any,
        lead: Any,
        slack: SlackStandIn,
        config: BotConfig | None = None,
        **options: Any,
    ):
        """`options` go to `build_app` (e.g. `lead_factory`, `start_planner`)."""
        self.slack, self.runtime = slack, runtime
        self.config = config or BotConfig(bot_token=slack.token, signing_secret=SECRET, api_url=slack.url)
        self.app = build_app(
            self.config, runtime, lead, client=WebClient(token=slack.token, base_url=slack.url), **options
        )
        self.services: Services = self.app.jobagent  # type: ignore[attr-defined]
        self.server = HttpBotServer(self.app, "127.0.0.1", 0)
        self.url = self.server.start()
        self.send = SlackEventSender(
            self.url, SECRET, team_id=slack.team_id, bot_user_id=slack.bot_user_id, slack=slack
        )

    @staticmethod
    def default_config(slack: SlackStandIn, **changes: Any) -> BotConfig:
        return BotConfig(bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, **changes)

    def close(self) -> None:
        self.server.stop()
        self.services.planner.stop()

    # -- conversation helpers ------------------------------------------------------------------
    def mention(self, user: str, text: str, **kw: Any) -> Delivery:
        delivery = self.send.mention(user, text, channel=kw.pop("channel", CHANNEL), **kw)
        assert delivery.status == 200 and all(d.status == 200 for d in delivery.extra)
        return delivery

    def posts(self, thread_ts: str, *, buttons: bool | None = None) -> list[dict[str, Any]]:
        return [
            p
            for p in self.slack.received("chat.postMessage")
            if p.get("thread_ts") == thread_ts and (buttons is None or has_buttons(p) == buttons)
        ]

    def wait_post(
        self, thread_ts: str, count: int = 1, *, buttons: bool | None = None, text: str = ""
    ) -> dict:
        """The `count`-th bot message in the thread (with buttons / containing `text`, when asked)."""

        def match(p: dict[str, Any]) -> bool:
            return (
                p.get("thread_ts") == thread_ts
                and (buttons is None or has_buttons(p) == buttons)
                and text in block_text(p)
            )

        return self.slack.wait_for("chat.postMessage", count, where=match)[count - 1]

    def stored(self, channel: str, ts: str) -> dict[str, Any]:
        """The message as Slack holds it now (after any chat.update)."""
        return next(m for m in self.slack.messages[channel] if m["ts"] == ts)

    def plan_ts(self, task: TaskRecord) -> str:
        return task.meta["slack_ts"]

    def click(
        self, user: str, action: str, task: TaskRecord, *, channel: str = CHANNEL, value: str | None = None
    ) -> Delivery:
        """`user` clicks the button on the task's plan message (`value`: a forged button value)."""
        message = self.stored(channel, self.plan_ts(task))
        delivery = self.send.block_action(user, action, value, channel=channel, message=message)
        assert delivery.status == 200, delivery.body
        return delivery

    def tasks(self, thread_ts: str, channel: str = CHANNEL) -> list[TaskRecord]:
        return self.runtime.store.find(thread=f"{channel}:{thread_ts}")

    def store_task(self, task_id: str) -> TaskRecord:
        return self.runtime.store.get(task_id)

    def task(self, thread_ts: str, channel: str = CHANNEL) -> TaskRecord:
        return self.tasks(thread_ts, channel)[-1]

    def reply(self, user: str, text: str, thread_ts: str, channel: str = CHANNEL) -> TaskRecord:
        """A message in the thread (no mention); returns the thread's newest task once it is handled."""
        before = self.services.activity.count("request")
        assert self.send.message(user, text, channel=channel, thread_ts=thread_ts).status == 200
        self.services.activity.wait("request", before + 1)
        return self.task(thread_ts, channel)

    def plan(self, user: str = ALICE, text: str = REQUEST) -> tuple[str, TaskRecord]:
        """Mention → plan posted; returns the thread ts and the planned task."""
        before = self.services.activity.count("request")
        ts = self.mention(user, text).ts
        self.services.activity.wait("request", before + 1)  # the plan is posted and its ts remembered
        assert self.posts(ts, buttons=True), self.slack.calls()
        return ts, self.task(ts)
