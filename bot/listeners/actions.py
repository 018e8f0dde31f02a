"""Approve / Reject buttons: acknowledged at once (Bolt lazy listeners), then checked and carried out.

A click counts only if it carries the task's button key and comes from the channel, thread and message
the plan was posted in (`Click.matches`): a forged click naming another task changes nothing. The person
clicking must then pass the allow list (bot/app.py Approvers) and Databricks' own permissions
(agent/access.py, through `Worker.approve`). Double clicks and two approvers at once are safe because
`Worker.approve` is a compare-and-set on the PLANNED state: the second click gets IllegalTransition and an
ephemeral "already decided" reply.

The last word on a decision (`conclude`) always replaces "Approved by … — applying…": the plan message is
updated (the client retries failures) and the result posted; an update that still fails is posted as a new
thread message instead, and what cannot be posted at all is recorded on the task as undelivered (the next
message in the thread re-posts it, status marks it).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from agent.errors import (
    AccessDenied,
    IllegalTransition,
    StalePlan,
    StateUnreadable,
    StateWriteFailed,
    TaskNotFound,
    WorkspaceError,
)
from agent.models import TaskState
from agent.state import TaskRecord
from bot import blocks
from bot.app import Services
from bot.listeners.common import describe, mark_undelivered, plan_request, post, remember, safe

log = logging.getLogger(__name__)


@dataclass
class Click:
    user: str
    task_id: str
    key: str
    channel: str
    message_ts: str
    thread_ts: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Click:
        container, message = body.get("container") or {}, body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        ts = container.get("message_ts") or message.get("ts", "")
        task_id, _, key = str((body.get("actions") or [{}])[0].get("value") or "").partition(":")
        user = (body.get("user") or {}).get("id", "")
        return cls(
            user, task_id, key, channel, ts, container.get("thread_ts") or message.get("thread_ts") or ts
        )

    def matches(self, record: TaskRecord) -> bool:
        """The click comes from this task's own plan message (see the module docstring)."""
        meta = record.meta
        expected = meta.get("button_key") or ""
        return (
            bool(self.user)
            and hmac.compare_digest(self.key.encode(), str(expected).encode())
            and record.channel == self.channel
            and meta.get("slack_thread_ts") == self.thread_ts
            and self.message_ts in (meta.get("slack_messages") or [meta.get("slack_ts")])
        )


def register(app: App, svc: Services) -> None:
    def ack_click(ack: Ack) -> None:
        ack()

    def tell(client: WebClient, click: Click, text: str) -> None:
        safe(
            client.chat_postEphemeral,
            channel=click.channel,
            user=click.user,
            text=text,
            thread_ts=click.thread_ts,
        )

    def show(client: WebClient, click: Click, record: TaskRecord) -> None:
        """An interim update of the plan message: approved, applying (the outcome follows in `conclude`)."""
        message = blocks.plan_message(record, applying=True)
        safe(
            client.chat_update,
            channel=click.channel,
            ts=click.message_ts,
            text=message.text,
            blocks=message.blocks,
        )

    def conclude(
        client: WebClient,
        click: Click,
        record: TaskRecord,
        result: blocks.Message | None = None,
        job_url: str = "",
    ) -> None:
        """The outcome: the plan message updated in place to where `record` stands (blocks.progress) and
        `result` posted in the thread; see the module docstring for what happens when Slack refuses."""
        result_failed = ""
        if result is not None:
            try:
                ts = post(client, click.channel, click.thread_ts, result)
                remember(svc, record.id, ts, slack_result_ts=ts)
            except Exception as exc:
                result_failed = describe(exc)
                log.error("could not post the result of task %s: %s", record.id, result_failed)
        message = blocks.plan_message(record, job_url=job_url)
        decision = blocks.progress(record, job_url) or f"task `{record.id}` is {record.state}"
        try:
            client.chat_update(
                channel=click.channel, ts=click.message_ts, text=message.text, blocks=message.blocks
            )
            update_failed = ""
        except Exception as exc:
            log.warning("could not update the plan message of task %s: %s", record.id, describe(exc))
            notice = blocks.notice_message(f"The plan for task `{record.id}` above: {decision}")
            try:
                ts = post(client, click.channel, click.thread_ts, notice)
                remember(svc, record.id, ts, slack_decision_ts=ts)
                update_failed = ""
            except Exception as again:
                update_failed = describe(again)
        if result_failed:
            mark_undelivered(svc, record, f"posting the result: {result_failed}", kind="result")
        elif update_failed:
            mark_undelivered(
                svc,
                record,
                f"posting the decision: {update_failed}",
                kind="notice",
                text=f"Task `{record.id}`: {decision}",
            )

    def load(client: WebClient, click: Click) -> TaskRecord | None:
        """The clicked task, if the click is genuine; a forged or misplaced one is refused and logged."""
        try:
            record = svc.runtime.store.get(click.task_id)
        except TaskNotFound:
            record = None
        except StateUnreadable as exc:
            log.error("a click on %s found its record damaged: %s", click.task_id, exc)
            tell(client, click, f"Task {click.task_id} cannot be read, so nothing was done. {exc}")
            return None
        if record is None or not click.matches(record):
            log.warning(
                "refused a click by %s in %s on %s: it does not belong to that plan message",
                click.user,
                click.channel,
                click.task_id,
            )
            tell(client, click, "This button does not belong to a plan in this thread, so nothing was done.")
            return None
        return record

    def approve_plan(body: dict[str, Any], client: WebClient) -> None:
        try:
            approve(Click.from_body(body), client)
        finally:
            svc.activity.done("approve")

    def reject_plan(body: dict[str, Any], client: WebClient) -> None:
        try:
            reject(Click.from_body(body), client)
        finally:
            svc.activity.done("reject")

    def approve(click: Click, client: WebClient) -> None:
        record = load(client, click)
        if record is None:
            return
        if not svc.approvers.may_approve(click.user, record):
            tell(
                client,
                click,
                f"Sorry, you cannot approve task {record.id}. Who may: {svc.approvers.who(record)}. "
                "Nothing was changed.",
            )
            return
        try:
            record = svc.runtime.worker.approve(
                record.id, by=click.user, email=svc.directory.email(click.user) or ""
            )
        except IllegalTransition:
            tell(client, click, already(svc.runtime.store.get(click.task_id)))
            return
        except (AccessDenied, WorkspaceError) as exc:
            tell(client, click, f"Sorry, you cannot approve task {record.id}: {exc}")
            return
        except StateWriteFailed as exc:
            tell(client, click, f"Your approval of task {record.id} could not be recorded: {exc}")
            return
        show(client, click, record)
        apply_plan(client, click, record)

    def apply_plan(client: WebClient, click: Click, record: TaskRecord) -> None:
        worker = svc.runtime.worker
        try:
            done = worker.apply(record.id, by=click.user)
        except StalePlan as exc:
            conclude(
                client,
                click,
                svc.runtime.store.get(record.id),
                blocks.notice_message(f"{blocks.esc(str(exc))}\nHere is a fresh plan to review:"),
            )
            plan_request(
                svc,
                client,
                channel=click.channel,
                thread_ts=click.thread_ts,
                user=record.requester,
                text=record.request,
            )
            return
        except IllegalTransition:
            tell(client, click, already(svc.runtime.store.get(record.id)))
            return
        except Exception as exc:
            log.exception("applying %s failed", record.id)
            conclude(
                client,
                click,
                svc.runtime.store.get(record.id),
                blocks.error_message(
                    f"applying task {record.id}",
                    f"{type(exc).__name__}: {exc}",
                    f"`jobagent status {record.id}` shows where it stopped; "
                    f"`jobagent apply {record.id} --resume` retries safely (the job is never created twice).",
                ),
            )
            return
        complete = bool(done.job_id) and done.state is TaskState.COMPLETE
        url = svc.runtime.workspace.job_url(done.job_id) if complete else ""
        result = blocks.result_message(done, url)
        if complete:
            offer_bundle(result, done)
        conclude(client, click, done, result, url)

    def details(body: dict[str, Any], client: WebClient) -> None:
        """ "Show details": the whole plan, to the one who clicked (the thread's message stays short)."""
        try:
            click = Click.from_body(body)
            record = load(client, click)
            if record is not None:
                message = blocks.details_message(record)
                safe(
                    client.chat_postEphemeral,
                    channel=click.channel,
                    user=click.user,
                    thread_ts=click.thread_ts,
                    text=message.text,
                    blocks=message.blocks,
                )
        finally:
            svc.activity.done("details")

    def reject(click: Click, client: WebClient) -> None:
        record = load(client, click)
        if record is None:
            return
        if not svc.approvers.may_reject(click.user, record):
            tell(
                client,
                click,
                f"Sorry, only the requester or an approver ({svc.approvers.who(record)}) may reject "
                f"task {record.id}. Nothing was changed.",
            )
            return
        try:
            record = svc.runtime.worker.reject(record.id, by=click.user, reason="(in Slack)")
        except IllegalTransition:
            tell(client, click, already(svc.runtime.store.get(record.id)))
            return
        except StateWriteFailed as exc:
            tell(client, click, f"Your rejection of task {record.id} could not be recorded: {exc}")
            return
        conclude(client, click, record)

    app.action(blocks.APPROVE_ACTION)(ack=ack_click, lazy=[approve_plan])
    app.action(blocks.REJECT_ACTION)(ack=ack_click, lazy=[reject_plan])
    app.action(blocks.DETAILS_ACTION)(ack=ack_click, lazy=[details])


def offer_bundle(result: blocks.Message, record: TaskRecord) -> None:
    """After an apply, the thread gets the job as a bundle resource (GitOps handoff), attached to the
    result: what `jobagent export TASK` writes."""
    from agent.export import bundle_yaml, export_filename, task_settings

    try:
        settings = task_settings(record)
        result.attachment = bundle_yaml(settings, source=f"jobagent task {record.id}, job {record.job_id}")
        result.attachment_name = export_filename(settings, "bundle")
        result.attachment_title = f"Job {record.job_id} as a bundle resource (databricks bundle)"
    except Exception:  # the job is applied: a missing export must not hide that
        log.exception("could not export task %s as a bundle resource", record.id)


def already(record: TaskRecord) -> str:
    by = f" (decided by <@{record.decided_by}>)" if record.decided_by else ""
    return (
        f"Task {record.id} is already {record.state}{by}: it is being applied or was decided, "
        "so this click changed nothing."
    )
