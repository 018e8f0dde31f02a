"""The conversation steps more than one listener needs: read Slack text, plan in a thread, post, remember ts.

A thread is one conversation: its id is ``f"{channel}:{thread_ts}"`` and the Tech Lead reads the thread's
earlier tasks and note itself, so every request or reply is just `lead.assign(text, thread=…)`.

Delivery: the client retries failed Web API calls (bot/app.py `retry_handlers`). A message about a task
that still cannot be posted is recorded on the task (`meta["undelivered"]`, what failed, and a note entry
"undelivered"): the next message in its thread re-posts it first (`redeliver`), and status marks it.
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
        try:
            attach(client, channel, thread_ts or resp["ts"], message)
        except Exception as exc:  # the message is posted: a missing part must not make it "undelivered"
            log.warning("could not post the rest of a long plan in %s: %s", channel, describe(exc))
    return resp["ts"]


def attach(client: WebClient, channel: str, thread_ts: str, message: blocks.Message) -> None:
    try:
        client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=message.attachment,
            filename=message.attachment_name,
            title=message.attachment_title,
            snippet_type="yaml" if message.attachment_name.endswith((".yml", ".yaml")) else "text",
        )
        return
    except Exception as exc:  # missing files:write, or an upload host we cannot reach: fall back to messages
        log.warning("could not upload %s (%s); posting it as thread messages", message.attachment_name, exc)
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
    accepted_key: str | None = None,
) -> bool:
    """A mention, DM or thread reply: help, status, or a request to plan. True when its answer is in the
    thread or recorded on its task (see `plan_request`)."""
    word = text.strip().lower().rstrip("?!. ")
    if word in HELP_WORDS or word in STATUS_WORDS:
        if word in HELP_WORDS:
            message = blocks.help_message()
        else:
            message = blocks.status_message(
                svc.runtime.store.find(channel=channel, limit=blocks.STATUS_LIMIT + 1)
            )
        try:
            post(client, channel, thread_ts, message)
        except Exception as exc:  # nothing to record it on: the request stays accepted and is retried
            log.error("could not answer %r in %s:%s: %s", word, channel, thread_ts, describe(exc))
            return False
        return True
    return plan_request(
        svc,
        client,
        channel=channel,
        thread_ts=thread_ts,
        user=user,
        text=text,
        source_ts=source_ts,
        accepted_key=accepted_key,
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
    accepted_key: str | None = None,
) -> bool:
    """👀 at once, then the Tech Lead and the Worker; the plan, question or failure goes in the thread.

    With `accepted_key` (the request's intake record) the task carries it in its meta, so a restart
    re-posts that task instead of planning again. Returns True when the
    answer reached the thread or is recorded on the task as undelivered; False only when nothing at all
    was recorded (planning failed and its error message could not be posted): the request is then kept
    for a retry, which can plan afresh without ever planning it twice."""
    if source_ts:
        safe(client.reactions_add, channel=channel, timestamp=source_ts, name="eyes")
    thread = thread_id(channel, thread_ts)
    try:
        with Interim(client, channel, thread_ts, svc.config.interim_seconds, svc.lead):
            record = _plan(
                svc,
                text,
                thread=thread,
                user=user,
                channel=channel,
                thread_ts=thread_ts,
                accepted_key=accepted_key,
            )
    except Exception as exc:
        log.exception("planning failed in %s", thread)
        message = blocks.error_message(
            "planning your request",
            f"{type(exc).__name__}: {exc}",
            "Nothing was changed in Databricks. Try again in a minute; if it keeps failing, "
            "rephrase the request or ask whoever runs jobagent to check its log.",
        )
        try:
            post(client, channel, thread_ts, message)
            return True
        except Exception as failed:
            log.error("could not post the planning error in %s: %s", thread, describe(failed))
            recorded = task_for_key(svc, accepted_key, thread) if accepted_key else None
            if recorded is None:
                return accepted_key is None
            return mark_undelivered(
                svc, recorded, f"the planning error: {describe(failed)}", kind="notice", text=message.text
            )
    return deliver(svc, client, record)


def _plan(
    svc: Services,
    text: str,
    *,
    thread: str,
    user: str,
    channel: str,
    thread_ts: str,
    accepted_key: str | None = None,
) -> TaskRecord:
    email = svc.directory.email(user) or ""  # "": Slack did not say (no users:read.email, or no address)
    meta: dict[str, Any] = {
        "slack_channel": channel,
        "slack_thread_ts": thread_ts,
        "button_key": secrets.token_urlsafe(16),  # see blocks.button_value
    }
    if accepted_key:
        meta["accepted_key"] = accepted_key  # the intake record it answers (bot/planner.py)
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


# -- delivery --------------------------------------------------------------------------------------
def describe(exc: BaseException) -> str:
    """What went wrong with a Web API call, in a line (Slack's error code when it gave one)."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", None)
        return f"Slack answered {exc.response.get('error') or 'an error'}" + (
            f" (HTTP {status})" if status and status != 200 else ""
        )
    return f"{type(exc).__name__}: {exc}"


def task_for_key(svc: Services, key: str | None, thread: str) -> TaskRecord | None:
    """The task recorded for the accepted request `key`, found by the key in its meta."""
    if not key:
        return None
    for record in reversed(svc.runtime.store.find(thread=thread)):
        if record.meta.get("accepted_key") == key:
            return record
    return None


def deliver(svc: Services, client: WebClient, record: TaskRecord) -> bool:
    """Post the task's plan (question, failure) in its thread and remember where; if Slack keeps refusing,
    record it as undelivered. True unless even that record could not be written."""
    channel = record.meta.get("slack_channel") or record.channel or ""
    thread_ts = record.meta.get("slack_thread_ts") or record.thread.partition(":")[2]
    try:
        ts = post(client, channel, thread_ts, record_message(record))
    except Exception as exc:
        log.error("could not post task %s in %s: %s", record.id, record.thread, describe(exc))
        return mark_undelivered(svc, record, f"posting the plan: {describe(exc)}", kind="plan")
    remember(svc, record.id, ts, slack_ts=ts)
    close_replaced(svc, client, record.thread, channel)
    return True


def close_replaced(svc: Services, client: WebClient, thread: str, channel: str) -> None:
    """Plan messages of tasks a newer plan replaced lose their buttons and say so, in place (once)."""
    for old in svc.runtime.store.find(thread=thread, state=TaskState.SUPERSEDED):
        if not old.plan or not old.meta.get("slack_ts") or old.meta.get("slack_closed"):
            continue
        message = blocks.plan_message(old)
        if safe(
            client.chat_update,
            channel=channel,
            ts=old.meta["slack_ts"],
            text=message.text,
            blocks=message.blocks,
        ):
            svc.runtime.store.update(old.id, meta={**old.meta, "slack_closed": True})


def mark_undelivered(
    svc: Services, record: TaskRecord, what: str, *, kind: str, text: str | None = None
) -> bool:
    """Record on the task (meta and note) that a message about it never reached Slack: `kind` "plan" (its
    plan, question or failure), "result" (its apply's result) or "notice" (`text`). False if the store
    could not save it either."""
    try:
        current = svc.runtime.store.get(record.id)
        meta = dict(current.meta)
        meta.update(undelivered=what, undelivered_message=kind)
        if text is not None:
            meta["undelivered_text"] = text
        svc.runtime.store.update(record.id, meta=meta)
    except Exception:
        log.exception("could not record that task %s was not delivered (%s)", record.id, what)
        return False
    try:
        svc.runtime.notes.append(
            record.thread,
            "undelivered",
            record.id,
            f"Could not post the {kind} in Slack ({what}). The next message in this thread re-posts it; "
            f"`jobagent status {record.id}` shows the task.",
        )
    except Exception:
        log.exception("could not note that task %s was not delivered", record.id)
    return True


def undelivered_message(svc: Services, record: TaskRecord) -> blocks.Message:
    kind = record.meta.get("undelivered_message")
    if kind == "result":
        complete = record.job_id and record.state is TaskState.COMPLETE
        return blocks.result_message(record, svc.runtime.workspace.job_url(record.job_id) if complete else "")
    if kind == "notice":
        return blocks.notice_message(str(record.meta.get("undelivered_text") or f"Task `{record.id}`."))
    return record_message(record)


def redeliver(svc: Services, client: WebClient, channel: str, thread_ts: str) -> None:
    """Post, in this thread, every message about its tasks that could not be posted before (oldest first),
    each after a line saying so; a task whose message still fails stays marked."""
    for record in svc.runtime.store.find(thread=thread_id(channel, thread_ts)):
        what = record.meta.get("undelivered")
        if not what:
            continue
        kind = record.meta.get("undelivered_message") or "plan"
        try:
            post(
                client,
                channel,
                thread_ts,
                blocks.notice_message(
                    f":warning: I could not post this earlier ({blocks.esc(str(what))}); here it is now "
                    f"(task `{record.id}`)."
                ),
            )
            ts = post(client, channel, thread_ts, undelivered_message(svc, record))
        except Exception as exc:
            log.warning("task %s is still undelivered in %s: %s", record.id, record.thread, describe(exc))
            continue
        current = svc.runtime.store.get(record.id)
        meta = {k: v for k, v in current.meta.items() if not k.startswith("undelivered")}
        meta["slack_messages"] = [*meta.get("slack_messages", []), ts]
        meta[{"plan": "slack_ts", "result": "slack_result_ts"}.get(kind, "slack_notice_ts")] = ts
        svc.runtime.store.update(record.id, meta=meta)
        svc.runtime.notes.append(
            record.thread, "delivered", record.id, f"Posted the {kind} in Slack after all."
        )
