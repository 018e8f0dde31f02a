"""Decides, before the acknowledgement, which deliveries become work — and records them, so none is lost.

Runs as a global middleware, synchronously, in the request's thread; it does no planning and takes no
lock, only one durable write per delivery:

- a mention, DM or reply in a thread the bot planned in is *accepted*: `store.accept` records it (fsynced)
  under ``message:<channel>:<ts>`` and the planner (bot/planner.py) gets it; the gate itself answers 200.
  The key is also the dedupe: Slack's retries of the event and the `message` twin of an `app_mention`
  (another event id, the same message) find it taken and are acknowledged with X-Slack-No-Retry and
  dropped, whichever of the two arrives first is planned. If the record cannot be written (disk full),
  the answer is 503 *without* X-Slack-No-Retry, so Slack delivers it again later.
- any other event (reactions) is claimed by its event id (`store.claim`, an O_EXCL create) so a retry is
  dropped; edits, bots, chatter and threads the bot is not in are dropped at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from agent.errors import StateWriteFailed
from agent.state import Accepted, utcnow
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
        svc.runtime.store.find(thread=thread_id(event.get("channel", ""), thread_ts), limit=1)
    )


def request_key(event: dict[str, Any]) -> str:
    return f"message:{event.get('channel')}:{event.get('ts')}"


def request_payload(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> dict[str, Any]:
    """What planning needs, recorded before the ack (a restart plans from this alone)."""
    return {
        "event_type": event.get("type"),
        "event_id": body.get("event_id", ""),
        "team_id": body.get("team_id") or context.team_id,
        "channel": event.get("channel", ""),
        "channel_type": event.get("channel_type"),
        "ts": event.get("ts", ""),
        "thread_ts": event.get("thread_ts"),
        "user": event.get("user", ""),
        "text": event.get("text", ""),
        "bot_user_id": context.bot_user_id,
    }


def register(app: App, svc: Services) -> None:
    store = svc.runtime.store

    def drop(reason: str, key: str) -> BoltResponse:
        log.info("dropping %s (%s)", key, reason)
        return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})

    def unavailable(key: str, exc: StateWriteFailed) -> BoltResponse:
        log.error("not acknowledging %s: it could not be recorded (Slack delivers it again): %s", key, exc)
        return BoltResponse(status=503, body="jobagent could not record this request; retry later")

    @app.use
    def gate(body: dict[str, Any], context: BoltContext, next_: Callable[[], None]) -> Any:
        if body.get("type") != "event_callback":
            return next_()
        event_id = body.get("event_id", "")
        event = body.get("event") or {}
        if event.get("type") in ("message", "app_mention"):
            if not is_request(svc, event, context.bot_user_id):
                return drop("not for the bot", event_id)
            key = request_key(event)
            payload = request_payload(body, event, context)
            try:
                fresh = store.accept(key, payload)
            except StateWriteFailed as exc:
                return unavailable(key, exc)
            if not fresh:
                return drop("message already accepted", key)
            svc.planner.submit(Accepted(key, payload, utcnow()))
            return BoltResponse(status=200, body="")
        try:
            if event_id and not store.claim("event:" + event_id):
                return drop("repeated delivery", event_id)
        except StateWriteFailed as exc:
            return unavailable(event_id, exc)
        return next_()
