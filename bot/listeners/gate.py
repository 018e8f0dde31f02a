"""Decides, before the acknowledgement, which deliveries become work — so repeats never plan twice.

Runs as a global middleware, synchronously: a repeated event_id (Slack's retries) or a message already
claimed by its (channel, ts) is acknowledged with X-Slack-No-Retry and dropped. A `message` event that
mentions the bot is treated exactly like its `app_mention` twin: whichever arrives first is planned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.app import Services
from bot.listeners.common import thread_id

log = logging.getLogger(__name__)
PERSON_SUBTYPES = {None, "thread_broadcast", "file_share"}  # what a person typed; edits, joins, bots are not


def is_request(svc: Services, event: dict[str, Any], bot_user_id: str | None) -> bool:
    """A message or mention the bot should act on (DM, mention, or reply in a thread it planned in)."""
    if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id") or event.get("hidden"):
        return False
    if not event.get("user"):
        return False
    if event.get("type") == "app_mention" or event.get("channel_type") == "im":
        return True
    if bot_user_id and f"<@{bot_user_id}>" in event.get("text", ""):
        return True
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and bool(
        svc.runtime.store.find(thread=thread_id(event.get("channel", ""), thread_ts))
    )


def register(app: App, svc: Services) -> None:
    def drop(reason: str, key: str) -> BoltResponse:
        log.info("dropping %s (%s)", key, reason)
        return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})

    @app.use
    def gate(body: dict[str, Any], context: BoltContext, next_: Callable[[], None]) -> Any:
        if body.get("type") != "event_callback":
            return next_()
        event_id = body.get("event_id", "")
        if event_id and not svc.seen.claim("event:" + event_id):
            return drop("repeated delivery", event_id)
        event = body.get("event") or {}
        if event.get("type") in ("message", "app_mention"):
            if not is_request(svc, event, context.bot_user_id):
                return drop("not for the bot", event_id)
            key = f"message:{event.get('channel')}:{event.get('ts')}"
            if not svc.seen.claim(key):
                return drop("message already handled", key)
            context["jobagent_request"] = True
        return next_()
