"""`/jobagent help | status | <request>`: help and status are the (ephemeral) acknowledgement itself; a
request is acknowledged, then posted to the channel and planned in that message's thread.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import blocks
from bot.app import Services
from bot.listeners.common import HELP_WORDS, STATUS_WORDS, plain_text, plan_request, post

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
            message = blocks.status_message(svc.runtime.store.find(channel=command.get("channel_id")))
        else:
            message = blocks.notice_message("Planning… I will post the plan in this channel, in a thread.")
        ack(text=message.text, blocks=message.blocks, response_type="ephemeral")

    def plan_command(command: dict[str, Any], client: WebClient) -> None:
        kind, text = _kind(command)
        if kind != "plan":
            return
        try:
            plan_in_channel(command, client, text)
        finally:
            svc.activity.done("command")

    def plan_in_channel(command: dict[str, Any], client: WebClient, text: str) -> None:
        channel, user = command["channel_id"], command["user_id"]
        ts = post(
            client,
            channel,
            None,
            blocks.notice_message(f"<@{user}> asked (via {COMMAND}): {blocks.esc(text)}"),
        )
        plan_request(svc, client, channel=channel, thread_ts=ts, user=user, text=text)

    app.command(COMMAND)(ack=ack_command, lazy=[plan_command])
