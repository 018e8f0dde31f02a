"""👍 / 👎 on the bot's messages, added or removed, become feedback on the task (state DB and note).

The task is found by the message ts kept in its meta; failing that, via the message's thread.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from agent.state import TaskRecord, utcnow
from bot.app import Services
from bot.listeners.common import safe, thread_id

log = logging.getLogger(__name__)
FEEDBACK = {"+1": 1, "thumbsup": 1, "-1": -1, "thumbsdown": -1}
RECENT = 200  # the channel's newest tasks searched by message ts; older ones are found via the thread


def find_task(svc: Services, client: WebClient, channel: str, ts: str) -> TaskRecord | None:
    tasks = svc.runtime.store.find(channel=channel, limit=RECENT)  # a reaction is on a recent plan
    for task in reversed(tasks):
        if ts in task.meta.get("slack_messages", []):
            return task
    replies = safe(client.conversations_replies, channel=channel, ts=ts, limit=1)
    messages = (replies or {}).get("messages") or []
    root = (messages[0].get("thread_ts") or messages[0].get("ts")) if messages else None  # parent comes first
    return svc.runtime.store.latest_in_thread(thread_id(channel, root)) if root else None


def ack_event(ack: Ack) -> None:
    """Acknowledge in the request thread (the app runs with process_before_response); work is lazy."""
    ack()


def register(app: App, svc: Services) -> None:
    def on_reaction(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        try:
            store_feedback(svc, event, client, context.bot_user_id)
        finally:
            svc.activity.done("reaction")

    app.event("reaction_added")(ack=ack_event, lazy=[on_reaction])
    app.event("reaction_removed")(ack=ack_event, lazy=[on_reaction])


def store_feedback(svc: Services, event: dict[str, Any], client: WebClient, bot_user_id: str | None) -> None:
    """Record one 👍/👎 added or removed on a bot message as feedback on its task."""
    reaction = event.get("reaction", "").split("::")[0]  # "+1::skin-tone-3" counts as "+1"
    item = event.get("item") or {}
    value = FEEDBACK.get(reaction)
    if value is None or item.get("type") != "message":
        return
    if event.get("item_user") and event["item_user"] != bot_user_id:
        return
    task = find_task(svc, client, item.get("channel", ""), item.get("ts", ""))
    if task is None:
        log.info("reaction on %s matches no task", item.get("ts"))
        return
    action = "added" if event.get("type") == "reaction_added" else "removed"
    entry = {
        "user": event.get("user"),
        "message_ts": item.get("ts"),
        "value": value,
        "reaction": reaction,
        "action": action,
        "at": utcnow(),
    }
    svc.runtime.store.add_feedback(task.id, entry)
    svc.runtime.notes.append(
        task.thread,
        "feedback",
        task.id,
        f"**{entry['user']}** {action} :{reaction}: ({value:+d}) on message {entry['message_ts']}.",
    )
