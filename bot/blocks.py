"""Every message the bot posts, as Block Kit within Slack's limits, each with a plain-text fallback.

Limits enforced here (PLATFORM-FACTS.md): at most 50 blocks, section text at most 3,000 characters,
header 150, and the serialised blocks kept under `MESSAGE_BUDGET` characters because Slack refuses
messages of roughly 13,000+ (`msg_blocks_too_long`). A plan longer than fits is cut at a line boundary;
the caller uploads `Message.attachment` (the whole plan) into the thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from agent.models import TaskState
from agent.state import TaskRecord

MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
MESSAGE_BUDGET = 10_000  # serialised blocks; Slack refuses ~13,000+
PLAN_CHUNK = SECTION_TEXT - 20  # room for the code fences
FALLBACK_TEXT = 3000  # Slack truncates `text` past 4,000 characters
APPROVE_ACTION, REJECT_ACTION = "jobagent_approve", "jobagent_reject"
MAX_LIST = 8  # notes/assumptions shown before "…and N more"


@dataclass
class Message:
    """A ready-to-post message: blocks, fallback text, and the full plan when the blocks hold only part."""

    text: str
    blocks: list[dict[str, Any]]
    attachment: str | None = None
    attachment_name: str = "plan.txt"
    meta: dict[str, Any] = field(default_factory=dict)


def esc(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped, even inside code blocks."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def size(blocks: Sequence[dict[str, Any]]) -> int:
    return len(json.dumps(blocks, ensure_ascii=False))


def _md(text: str) -> dict[str, Any]:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_TEXT))).to_dict()


def _context(text: str) -> dict[str, Any]:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, SECTION_TEXT))]).to_dict()


def _header(text: str) -> dict[str, Any]:
    return HeaderBlock(text=clip(text, HEADER_TEXT)).to_dict()


def _fenced(text: str) -> dict[str, Any]:
    """Error text quotes users, policies and functions: a code block it cannot close, escaped."""
    return _md("```\n" + esc(clip(text.replace("```", "'''"), SECTION_TEXT - 20)) + "\n```")


def _bullets(items: Iterable[str], limit: int = MAX_LIST, max_chars: int = 1500) -> str:
    """At most `limit` items and about `max_chars` characters, then "…and N more"."""
    items = list(items)
    shown: list[str] = []
    for item in items[:limit]:
        line = f"• {esc(clip(item, 400))}"
        if shown and sum(len(s) + 1 for s in shown) + len(line) > max_chars:
            break
        shown.append(line)
    if len(items) > len(shown):
        shown.append(f"…and {len(items) - len(shown)} more")
    return "\n".join(shown)


def _title(record: TaskRecord) -> str:
    plan = record.plan or {}
    name = plan.get("job_name") or (record.settings or {}).get("name") or "unnamed job"
    if record.action == "update":
        return f'update job {plan.get("job_id") or record.job_id} "{name}"'
    return f'create job "{name}"'


def _code_sections(text: str, budget: int) -> tuple[list[dict[str, Any]], bool]:
    """The plan as code-block sections within `budget` characters; True when lines were cut."""
    sections: list[dict[str, Any]] = []
    chunk: list[str] = []
    used, lines = 0, text.replace("```", "'''").splitlines()
    for i, raw in enumerate(lines):
        line = esc(clip(raw, 300))
        if used + len(line) + 1 > budget:
            rest = len(lines) - i
            chunk.append(f"… {rest} more line{'s' * (rest != 1)}: the full plan is attached in this thread")
            sections.append(_md("```\n" + "\n".join(chunk) + "\n```"))
            return sections, True
        if sum(len(c) + 1 for c in chunk) + len(line) > PLAN_CHUNK:
            sections.append(_md("```\n" + "\n".join(chunk) + "\n```"))
            chunk = []
        chunk.append(line)
        used += len(line) + 1
    if chunk:
        sections.append(_md("```\n" + "\n".join(chunk) + "\n```"))
    return sections, False


def button_value(record: TaskRecord) -> str:
    """What a button carries: the task id and the task's own random button key. A click is honoured only
    when the key matches and it comes from the channel, thread and message the plan was posted in."""
    key = record.meta.get("button_key")
    return f"{record.id}:{key}" if key else record.id


def decision_buttons(record: TaskRecord) -> dict[str, Any]:
    confirm = ConfirmObject(
        title="Apply this plan?",
        text=clip(f"This will {esc(_title(record))} in the Databricks workspace.", 300),
        confirm="Approve and apply",
        deny="Cancel",
    )
    return ActionsBlock(
        block_id=f"decide:{record.id}",
        elements=[
            ButtonElement(
                text="Approve",
                action_id=APPROVE_ACTION,
                value=button_value(record),
                style="primary",
                confirm=confirm,
            ),
            ButtonElement(text="Reject", action_id=REJECT_ACTION, value=button_value(record), style="danger"),
        ],
    ).to_dict()


def plan_message(record: TaskRecord, *, decision: str | None = None) -> Message:
    """The plan with Approve/Reject buttons; after a decision, the same plan with `decision` instead."""
    plan_text = (record.plan or {}).get("text") or "(no plan text)"
    head = [
        _header(f"Plan: {_title(record)}"),
        _context(f"Task `{record.id}` · requested by <@{record.requester}> · {esc(_summary(record))}"),
        *not_acted_on_blocks(record),
    ]
    tail: list[dict[str, Any]] = []
    notes = list(record.meta.get("notes") or [])
    if notes:
        tail.append(_md("*Tech Lead notes*\n" + _bullets(notes)))
    if record.assumptions:
        tail.append(
            _md("*Assumptions* (reply in this thread to change any)\n" + _bullets(record.assumptions))
        )
    if record.citations:
        tail.append(_md("*Documentation*\n" + citations_text(record.citations)))
    if decision:
        tail.append(_context(decision))
    else:
        tail.append(decision_buttons(record))
    budget = min(MESSAGE_BUDGET - size(head) - size(tail), 6 * PLAN_CHUNK)
    while True:  # JSON escaping makes the serialised size larger than the raw text: shrink until it fits
        code, cut = _code_sections(plan_text, max(budget, 300))
        blocks = head + code[: MAX_BLOCKS - len(head) - len(tail)] + tail
        over = size(blocks) - MESSAGE_BUDGET
        if over <= 0 or budget <= 300:
            break
        budget -= over + 50
    text = clip(
        f"Plan for task {record.id}: {_title(record)}. {_summary(record)}"
        + ("" if decision else " Approve or reject it in the thread."),
        FALLBACK_TEXT,
    )
    return Message(
        text, blocks, attachment=plan_text if cut else None, attachment_name=f"plan-{record.id}.txt"
    )


def not_acted_on_blocks(record: TaskRecord) -> list[dict[str, Any]]:
    """What the plan does not do, before anything else a reviewer reads; every item, never "…more"."""
    if not record.unused:
        return []
    items = _bullets([f"“{u}”" for u in record.unused], limit=len(record.unused), max_chars=2600)
    return [
        _md(
            f"⚠️ *I did not act on:*\n{items}\n"
            "_Nothing in this plan does what these ask. Reply in this thread to rephrase them, "
            "or approve without them._"
        )
    ]


def _summary(record: TaskRecord) -> str:
    text = (record.plan or {}).get("text", "")
    last = [ln for ln in text.splitlines() if ln.startswith("Plan:")]
    return last[-1] if last else str(record.state)


def citations_text(citations: Sequence[dict[str, Any]], limit: int = 6) -> str:
    lines = []
    for c in citations[:limit]:
        title = esc(clip(str(c.get("title", "source")), 120)).replace("|", "¦")
        url = str(c.get("url", ""))
        score = c.get("score")
        link = f"<{url}|{title}>" if url.startswith(("http://", "https://")) else title
        lines.append(f"• {link}" + (f" (score {float(score):.2f})" if score is not None else ""))
    return "\n".join(lines)


def question_message(record: TaskRecord) -> Message:
    questions = record.questions or ["Could you say more about what the job should do?"]
    blocks = [
        _md(f"<@{record.requester}> I need a bit more before I can plan this (task `{record.id}`):"),
        _md(_bullets(questions, limit=10)),
        *not_acted_on_blocks(record),
        _context("Reply in this thread — no need to mention me — and I will continue the same request."),
    ]
    text = clip(f"Task {record.id} needs more information: " + " ".join(questions), FALLBACK_TEXT)
    return Message(text, blocks)


def failed_plan_message(record: TaskRecord) -> Message:
    error = record.error or "unknown error"
    blocks = [
        _md(f":x: I could not plan task `{record.id}` ({esc(_title(record))}):"),
        _fenced(error),
        _context(
            "Reply in this thread (no mention needed) with the request corrected, and I will plan again."
        ),
    ]
    return Message(clip(f"Task {record.id} could not be planned: {esc(error)}", FALLBACK_TEXT), blocks)


def result_message(record: TaskRecord, job_url: str = "") -> Message:
    if record.state is TaskState.COMPLETE:
        link = f"<{job_url}|job {record.job_id}>" if job_url else f"job {record.job_id}"
        verb = "Created" if record.action == "create" else "Updated"
        steps = "\n".join(
            f"• {esc(s.get('description', ''))}: *{s.get('status')}*" for s in record.steps[:10]
        )
        blocks = [
            _md(f":white_check_mark: {verb} {link} (task `{record.id}`)."),
            _md(steps or "• nothing to do"),
            _context("React with :+1: or :-1: to tell me how this went. Reply here to change the job."),
        ]
        return Message(f"Task {record.id} complete: job {record.job_id} {job_url}".strip(), blocks)
    error = record.error or "unknown error"
    blocks = [
        _md(f":x: Applying task `{record.id}` failed; the task is *{record.state}*."),
        _fenced(error),
        _context(
            "Nothing is lost: fix the cause and reply in this thread to re-plan, or retry with "
            f"`jobagent apply {record.id}` (it never creates the job twice)."
        ),
    ]
    return Message(clip(f"Task {record.id} failed: {esc(error)}", FALLBACK_TEXT), blocks)


def error_message(doing: str, error: str, hint: str) -> Message:
    blocks = [
        _md(f":warning: Something went wrong while {esc(doing)}:"),
        _fenced(error),
        _context(esc(hint)),
    ]
    return Message(clip(f"Something went wrong while {doing}: {esc(error)}. {hint}", FALLBACK_TEXT), blocks)


def notice_message(mrkdwn: str) -> Message:
    """A one-section message; `mrkdwn` is already formatted (escape user text with `esc`)."""
    return Message(clip(mrkdwn, FALLBACK_TEXT), [_md(mrkdwn)])


STATUS_LIMIT = 15  # tasks a status message lists; callers fetch one more to know whether there are more


def status_message(
    records: Sequence[TaskRecord], where: str = "this channel", limit: int = STATUS_LIMIT
) -> Message:
    if not records:
        text = f"No jobagent tasks in {where} yet. Try `@jobagent help`."
        return Message(text, [_md(text)])
    recent = list(records)[-limit:][::-1]
    lines = []
    for r in recent:
        request = esc(clip(" ".join(r.request.split()), 80))
        job = f" · job {r.job_id}" if r.job_id else ""
        undelivered = r.meta.get("undelivered")
        missing = (
            f"\n    :warning: *not posted in Slack*: {esc(clip(str(undelivered), 160))} "
            "(the next message in its thread re-posts it)"
            if undelivered
            else ""
        )
        lines.append(
            f"• `{r.id}` *{r.state}* · {esc(_title(r)) if r.settings else r.action}{job} · "
            f"<@{r.requester}>: {request}{missing}"
        )
    blocks = [_header(f"Recent tasks in {where}")]
    chunk: list[str] = []
    for line in lines:
        if sum(len(c) + 1 for c in chunk) + len(line) > SECTION_TEXT - 10:
            blocks.append(_md("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_md("\n".join(chunk)))
    if len(records) > limit:  # callers fetch limit + 1 (STATUS_LIMIT): more exist
        blocks.append(_context(f"Showing the newest {limit}; `jobagent status` lists all."))
    text = f"Recent tasks in {where}: " + "; ".join(
        f"{r.id} {r.state}" + (" (not posted in Slack)" if r.meta.get("undelivered") else "") for r in recent
    )
    return Message(clip(text, FALLBACK_TEXT), blocks)


HELP_EXAMPLES = [
    "@jobagent run /Repos/etl/ingest every weekday at 2am UTC on a small cluster, "
    "email ops@example.com on failure, call it nightly-ingest",
    "@jobagent run /Repos/etl/ingest then /Repos/etl/transform daily at 6:30 Europe/Berlin, retry twice",
    "make it 3am instead   (a reply in the same thread updates the job that thread created)",
]


def help_message() -> Message:
    blocks = [
        _header("jobagent: Databricks Jobs from plain English"),
        _md(
            "Mention me with what the job should do. I reply *in the thread* with a plan "
            "(what will be created or changed, the assumptions I made, the documentation I used) and "
            "*Approve* / *Reject* buttons. Nothing changes in Databricks until someone allowed to "
            "approve clicks Approve."
        ),
        _md("*Examples*\n" + "\n".join(f"• `{esc(e)}`" for e in HELP_EXAMPLES)),
        _md(
            "*In a thread* answer my questions or ask for changes without mentioning me; "
            "each change is a new plan to approve.\n*Feedback* react :+1: or :-1: on my messages.\n"
            "*Commands* `/jobagent status` (this channel's tasks), `/jobagent help`, `/jobagent <request>`."
        ),
    ]
    return Message("jobagent: mention me with a job request, e.g. " + HELP_EXAMPLES[0], blocks)
