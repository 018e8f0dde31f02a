"""Thread replies and direct messages: a reply in a thread the bot planned in continues that conversation.

The gate (gate.py) already dropped edits and other subtypes, bots, top-level channel chatter and threads
the bot is not part of; a message that mentions the bot is handled like its `app_mention`.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.app import Services
from bot.listeners.mentions import ack_event, on_request


def register(app: App, svc: Services) -> None:
    def plan_reply(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        on_request(svc, event, client, context)

    app.event("message")(ack=ack_event, lazy=[plan_reply])
