"""`@jobagent …` in a channel (or its `message` twin, see gate.py): plan in the mention's thread.

Acknowledged at once; the planning runs as a Bolt lazy listener. Help and status answer in the thread.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.app import Services
from bot.listeners.common import handle_request, plain_text


def on_request(svc: Services, event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Handle a delivery the gate accepted (it claimed the message's channel and ts)."""
    if not context.get("jobagent_request"):
        return
    ts = event["ts"]
    try:
        handle_request(
            svc,
            client,
            channel=event["channel"],
            thread_ts=event.get("thread_ts") or ts,
            user=event["user"],
            text=plain_text(event.get("text", ""), context.bot_user_id),
            source_ts=ts,
        )
    finally:
        svc.activity.done("request")


def ack_event(ack: Ack) -> None:
    """Acknowledge in the request thread (the app runs with process_before_response); work is lazy."""
    ack()


def register(app: App, svc: Services) -> None:
    def plan_mention(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        on_request(svc, event, client, context)

    app.event("app_mention")(ack=ack_event, lazy=[plan_mention])
