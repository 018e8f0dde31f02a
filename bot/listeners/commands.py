"""`/jobagent help | status | <request>`: help and status are the (ephemeral) acknowledgement itself; a
request is accepted durably before the acknowledgement (like a mention, see gate.py) and the planner
(bot/planner.py) posts it to the channel and plans it in that message's thread.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from agent.errors import StateWriteFailed
from agent.state import Accepted, utcnow
from bot import blocks
from bot.app import Services
from bot.listeners.common import HELP_WORDS, STATUS_WORDS, plain_text

log = logging.getLogger(__name__)

COMMAND = "/jobagent"


def _kind(command: dict[str, Any]) -> tuple[str, str]:
    text = plain_text(command.get("text", ""))
    word = text.lower().rstrip("?!. ")
    return ("help" if word in HELP_WORDS else "status" if word in STATUS_WORDS else "plan"), text


def register(app: App, svc: Services) -> None:
    def ack_command(ack: Ack, command: dict[str, Any]) -> None:
        kind, text = _kind(command)
        if kind == "help":
            message = blocks.help_message()
        elif kind == "status":
            message = blocks.status_message(
                svc.runtime.store.find(channel=command.get("channel_id"), limit=blocks.STATUS_LIMIT + 1)
            )
        else:
            key = f"command:{command.get('channel_id')}:{command.get('trigger_id')}"
            payload = {
                "event_type": "command",
                "channel": command.get("channel_id", ""),
                "user": command.get("user_id", ""),
                "text": text,
                "team_id": command.get("team_id"),
            }
            try:
                fresh = svc.runtime.store.accept(key, payload)
            except StateWriteFailed as exc:
                log.error("could not record a %s request: %s", COMMAND, exc)
                message = blocks.error_message(
                    "recording your request", str(exc), "Nothing was planned; try again in a minute."
                )
            else:
                if fresh:
                    svc.planner.submit(Accepted(key, payload, utcnow()))
                message = blocks.notice_message(
                    "Planning… I will post the plan in this channel, in a thread."
                )
        ack(text=message.text, blocks=message.blocks, response_type="ephemeral")

    app.command(COMMAND)(ack_command)
