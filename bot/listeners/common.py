"""The conversation steps more than one listener needs: read Slack text, plan in a thread, post, remember ts.

A thread is one conversation: its id is ``f"{channel}:{thread_ts}"`` and the Tech Lead reads the thread's
earlier tasks and note itself, so every request or reply is just `lead.assign(text, thread=…)`.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.models import TaskState
from agent.state import TaskRecord
from bot import blocks
from bot.app import Services
from bot.progress import Interim

log = logging.getLogger(__name__)

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
HELP_WORDS = {"", "help", "?", "usage"}
STATUS_WORDS = {"status", "tasks", "list"}
MAX_FOLLOW_UPS = 10  # plan parts posted as messages when the file upload is not possible


def thread_id(channel: str, thread_ts: str) -> str:
    return f"{channel}:{thread_ts}"


def plain_text(text: str, bot_user_id: str | None = None) -> str:
    """Slack markup → what the person typed: mentions of the bot dropped, links and emails unwrapped."""

    def unwrap(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            return "" if target[1:] == bot_user_id else "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        if target.startswith("mailto:"):
            return target[len("mailto:") :]
        return target

    text = _LINK.sub(unwrap, text or "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def safe(call: Any, *args: Any, **kwargs: Any) -> Any:
    """A Web API call whose failure must not stop the conversation (reactions, ephemerals)."""
    try:
        return call(*args, **kwargs)
    except SlackApiError as exc:
        log.warning("Slack %s failed: %s", getattr(call, "__name__", "call"), exc.response.get("error"))
        return None


def post(client: WebClient, channel: str, thread_ts: str | None, message: blocks.Message) -> str:
    """Post in the thread; a plan too long for one message gets the full text as a file (or follow-ups)."""
    resp = client.chat_postMessage(
        channel=channel,
        thread_ts=thread_ts,
        text=message.text,
        blocks=message.blocks,
        unfurl_links=False,
        unfurl_media=False,
    )
    if message.attachment:
        attach(client, channel, thread_ts or resp["ts"], message)
    return resp["ts"]


def attach(client: WebClient, channel: str, thread_ts: str, message: blocks.Message) -> None:
    try:
        client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=message.attachment,
            filename=message.attachment_name,
            title="Full plan",
            snippet_type="text",
        )
        return
    except Exception as exc:  # missing files:write, or an upload host we cannot reach: fall back to messages
        log.warning("could not upload the full plan (%s); posting it as thread messages", exc)
    chunks: list[list[str]] = [[]]
    for line in (message.attachment or "").splitlines():
        if sum(len(c) + 1 for c in chunks[-1]) + len(line) > blocks.PLAN_CHUNK - 100:
            chunks.append([])
        chunks[-1].append(line)
    for i, chunk in enumerate(chunks[:MAX_FOLLOW_UPS]):
        more = len(chunks) - MAX_FOLLOW_UPS if i == MAX_FOLLOW_UPS - 1 and len(chunks) > MAX_FOLLOW_UPS else 0
        tail = (
            f"\n…{more} more part(s) not shown: `jobagent status TASK` prints the whole plan." if more else ""
        )
        text = "```\n" + blocks.esc("\n".join(chunk)) + "\n```" + tail
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)


def remember(svc: Services, task_id: str, ts: str, **extra: Any) -> TaskRecord:
    """Keep the bot's message ts in the task's meta (buttons, reactions and updates find the task by it)."""
    record = svc.runtime.store.get(task_id)
    meta = dict(record.meta)
    meta["slack_messages"] = [*meta.get("slack_messages", []), ts]
    meta.update(extra)
    return svc.runtime.store.update(task_id, meta=meta)


def record_message(record: TaskRecord) -> blocks.Message:
    if record.state is TaskState.NEEDS_INPUT:
        return blocks.question_message(record)
    if record.state is TaskState.FAILED:
        return blocks.failed_plan_message(record)
    return blocks.plan_message(record)


def handle_request(
    svc: Services,
    client: WebClient,
    *,
    channel: str,
    thread_ts: str,
    user: str,
    text: str,
    source_ts: str | None = None,
) -> None:
    """A mention, DM or thread reply: help, status, or a request to plan."""
    word = text.strip().lower().rstrip("?!. ")
    if word in HELP_WORDS:
        post(client, channel, thread_ts, blocks.help_message())
    elif word in STATUS_WORDS:
        post(client, channel, thread_ts, blocks.status_message(svc.runtime.store.find(channel=channel)))
    else:
        plan_request(
            svc, client, channel=channel, thread_ts=thread_ts, user=user, text=text, source_ts=source_ts
        )


def plan_request(
    svc: Services,
    client: WebClient,
    *,
    channel: str,
    thread_ts: str,
    user: str,
    text: str,
    source_ts: str | None = None,
) -> TaskRecord | None:
    """👀 at once, then the Tech Lead and the Worker; the plan, question or failure goes in the thread."""
    if source_ts:
        safe(client.reactions_add, channel=channel, timestamp=source_ts, name="eyes")
    thread = thread_id(channel, thread_ts)
    try:
        with Interim(client, channel, thread_ts, svc.config.interim_seconds, svc.lead):
            record = _plan(svc, text, thread=thread, user=user, channel=channel, thread_ts=thread_ts)
    except Exception as exc:
        log.exception("planning failed in %s", thread)
        post(
            client,
            channel,
            thread_ts,
            blocks.error_message(
                "planning your request",
                f"{type(exc).__name__}: {exc}",
                "Nothing was changed in Databricks. Try again in a minute; if it keeps failing, "
                "rephrase the request or ask whoever runs jobagent to check its log.",
            ),
        )
        return None
    ts = post(client, channel, thread_ts, record_message(record))
    return remember(svc, record.id, ts, slack_ts=ts)


def _plan(svc: Services, text: str, *, thread: str, user: str, channel: str, thread_ts: str) -> TaskRecord:
    email = svc.directory.email(user) or ""  # "": Slack did not say (no users:read.email, or no address)
    meta: dict[str, Any] = {
        "slack_channel": channel,
        "slack_thread_ts": thread_ts,
        "button_key": secrets.token_urlsafe(16),  # see blocks.button_value
    }
    if svc.config.trace_plans:  # an MLflow trace per plan, so 👍/👎 reach it as feedback
        from agent.evaluation.tracing import trace_plan

        assignment, meta["trace_id"] = trace_plan(
            svc.runtime.settings, svc.lead, text, thread=thread, requester_email=email
        )
    else:
        assignment = svc.lead.assign(text, thread=thread, requester_email=email)
    return svc.runtime.worker.submit(
        assignment,
        request=text,
        requester=user,
        requester_email=email,
        thread=thread,
        channel=channel,
        meta=meta,
    )
