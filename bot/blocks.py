"""Every message the bot posts, as Block Kit within Slack's limits, each with a plain-text fallback.

Limits enforced here (PLATFORM-FACTS.md): at most 50 blocks, section text at most 3,000 characters,
header 150, and the serialised blocks kept under `MESSAGE_BUDGET` characters because Slack refuses
messages of roughly 13,000+ (`msg_blocks_too_long`). A plan longer than fits is cut at a line boundary;
the caller uploads `Message.attachment` (the whole plan) into the thread.
"""

from __future__ import annotations

import json
import re
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
from agent.review import Review, review
from agent.state import TaskRecord

MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
MESSAGE_BUDGET = 10_000  # serialised blocks; Slack refuses ~13,000+
PLAN_CHUNK = SECTION_TEXT - 20  # room for the code fences
FALLBACK_TEXT = 3000  # Slack truncates `text` past 4,000 characters
APPROVE_ACTION, REJECT_ACTION = "jobagent_approve", "jobagent_reject"
DETAILS_ACTION = "jobagent_details"
MAX_LIST = 8  # questions and other lists shown before "…and N more"
DIFF_INLINE_LINES = 12  # a diff this short is in the plan message; a longer one waits behind details
WRAP = 90  # code lines wrap past this many characters (a phone shows ~40-60): values are never cut
SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")


@dataclass
class Message:
    """A ready-to-post message: blocks, fallback text, and the full plan when the blocks hold only part."""

    text: str
    blocks: list[dict[str, Any]]
    attachment: str | None = None
    attachment_name: str = "plan.txt"
    attachment_title: str = "Full plan"
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


def wrap(line: str, width: int = WRAP) -> list[str]:
    """A code line as phone-width pieces, continuation marked ("↪"), broken after a space or comma
    where one is near: long values wrap, they are never cut."""
    pieces: list[str] = []
    rest, room = line, width
    while len(rest) > room:
        cut = max(rest.rfind(" ", 0, room), rest.rfind(",", 0, room) + 1)
        cut = cut if cut > room // 2 else room
        pieces.append(rest[:cut])
        rest, room = rest[cut:], width - 4
    pieces.append(rest)
    return [pieces[0], *(f"  ↪ {p}" for p in pieces[1:])]


def _code_sections(text: str, budget: int) -> tuple[list[dict[str, Any]], bool]:
    """The text as code-block sections within `budget` characters (long lines wrapped); True when
    lines were left out (the caller attaches the whole text)."""
    sections: list[dict[str, Any]] = []
    chunk: list[str] = []
    used = 0
    lines = [piece for raw in text.replace("```", "'''").splitlines() for piece in wrap(raw)]
    for i, raw in enumerate(lines):
        line = esc(raw)
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


def _list_sections(title: str, items: Sequence[str], max_chars: int) -> tuple[list[dict[str, Any]], bool]:
    """Items whole, in sections of at most SECTION_TEXT, up to about `max_chars`; True when some did
    not fit (then "…and N more in the attached full plan" ends the list and the caller attaches it)."""
    lines = [f"• {esc(item)}" for item in items]
    shown: list[str] = []
    for line in lines:
        if shown and sum(len(s) + 1 for s in shown) + len(line) > max_chars:
            break
        shown.append(line)
    cut = len(shown) < len(lines)
    if cut:
        shown.append(f"…and {len(lines) - len(shown)} more in the attached full plan")
    return _sections([title, *shown]), cut


def _sections(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Lines in as few sections as Slack's 3,000 characters per section allow, none split."""
    sections: list[dict[str, Any]] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and sum(len(c) + 1 for c in chunk) + len(line) > SECTION_TEXT - 10:
            sections.append(_md("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    sections.append(_md("\n".join(chunk)))
    return sections


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
            _details_button(record),
        ],
    ).to_dict()


def _details_button(record: TaskRecord) -> ButtonElement:
    return ButtonElement(text="Show details", action_id=DETAILS_ACTION, value=button_value(record))


def who(user: str | None) -> str:
    """A Slack user id as a mention; a Databricks user name (the CLI decided) as itself."""
    if not user:
        return "someone"
    return f"<@{user}>" if SLACK_USER.match(user) else esc(user)


def progress(record: TaskRecord, job_url: str = "", *, applying: bool = False) -> str | None:
    """Where the task stands, for its plan message (None while it awaits a decision). The message
    is updated in place with this as the task moves: approved → applying → applied / failed."""
    state, by = record.state, who(record.decided_by)
    if state is TaskState.PLANNED:
        return None
    if state is TaskState.IN_PROGRESS or (applying and state is TaskState.APPROVED):
        return f":hourglass_flowing_sand: Approved by {by} — applying…"
    if state is TaskState.APPROVED:
        return f":ballot_box_with_check: Approved by {by}; not applied yet (`jobagent apply {record.id}`)."
    if state is TaskState.COMPLETE:
        link = f"<{job_url}|job {record.job_id}>" if job_url else f"job {record.job_id}"
        return f":white_check_mark: Approved by {by} — applied: {link}."
    if state is TaskState.FAILED:
        first = esc(clip((record.error or "unknown error").splitlines()[0], 300))
        if not record.decided_by:
            return f":x: Not applied: {first} Reply in this thread with the request corrected to re-plan."
        return (
            f":x: Approved by {by} — the apply failed: {first} Fix the cause and reply in this thread to "
            f"re-plan, or retry with `jobagent apply {record.id}` (it never creates the job twice)."
        )
    if state is TaskState.REJECTED:
        return f":no_entry_sign: Rejected by {by}. Reply in this thread to ask for a different plan."
    if state is TaskState.STALE:
        return (
            f":warning: Approved by {by}, but the job changed outside jobagent since this plan: not applied. "
            "A fresh plan follows in this thread."
        )
    if state is TaskState.SUPERSEDED:
        newer = esc((record.error or "").removeprefix("superseded by ").strip()) or "a newer task"
        return f":fast_forward: Replaced by a newer plan in this thread (task `{newer}`); not applied."
    return f"Task is {state}."


def plan_message(record: TaskRecord, *, job_url: str = "", applying: bool = False) -> Message:
    """The plan, summary first (agent/review.py sorts what comes first and what waits behind "Show
    details"), with Approve / Reject while it awaits a decision and its progress afterwards."""
    r = review(record)
    head = [_header(f"Plan: {r.title}")]
    cut = False
    if r.drift:
        drift, cut = _code_block_sections(
            f":warning: *Job {record.job_id} was changed outside jobagent* since {esc(r.drift_since)}; "
            "those changes are listed here, apart from what this plan changes:",
            r.drift,
        )
        head += drift
    head.append(_md(esc(r.synopsis)))
    planner = str(record.meta.get("planner") or "")
    head.append(
        _context(
            f"Task `{record.id}` · requested by {who(record.requester)} · {esc(r.counts)}"
            + (f" · planned by {esc(planner)}" if planner and planner != "offline" else "")
        )
    )
    head += not_acted_on_blocks(record)
    notes = list(r.notes)
    if r.offline:
        notes.append(
            "Not checked against the workspace yet: apply first checks the notebooks and files, node types, "
            "Spark versions and that the name is free."
        )
    status = progress(record, job_url, applying=applying)
    tail = [_context(f"Docs: {citation_links(r.citations)}")] if r.citations else []
    tail.append(decision_buttons(record) if status is None else _context(status))
    if status is not None:
        tail.append(
            ActionsBlock(block_id=f"details:{record.id}", elements=[_details_button(record)]).to_dict()
        )
    body: list[dict[str, Any]] = []
    for title, items in (
        ("*Assumed* (reply in this thread to change any)", r.assumptions),
        ("*Notes*", notes),
        ("*Good to know*", r.explained),
    ):
        if items:
            budget = max(MESSAGE_BUDGET // 2 - size(head + body), 600)
            sections, more = _list_sections(title, items, min(budget, 2400))
            body += sections
            cut = cut or more
    diff_title = "*Changes*" if record.action == "update" else "*Settings*"
    if r.diff and len(r.diff) <= DIFF_INLINE_LINES:
        diff, more = _code_block_sections(diff_title, r.diff)
        cut = cut or more
    elif r.diff:
        diff = [_context(f"{len(r.diff)} field changes: *Show details* lists them all, every value whole.")]
    else:
        diff = [_context("No changes: the job already matches these settings.")]
    if size(head + body + diff + tail) > MESSAGE_BUDGET or len(head + body + diff + tail) > MAX_BLOCKS:
        diff = [_context(f"{len(r.diff)} field changes: *Show details* lists them, the attached plan too.")]
        cut = True
        while body and (
            size(head + body + diff + tail) > MESSAGE_BUDGET or len(head + body) > MAX_BLOCKS - 3
        ):
            body.pop()  # the least needed first (explanations, notes, assumptions): all are in the attachment
    blocks = head + body + diff + tail
    cut = cut or _details(r)[1]
    fallback = f"Plan for task {record.id}: {r.synopsis}" + (
        " Approve or reject it in the thread." if status is None else f" {status}"
    )
    return Message(
        clip(fallback, FALLBACK_TEXT),
        blocks,
        attachment=r.full_text if cut else None,
        attachment_name=f"plan-{record.id}.txt",
    )


def _code_block_sections(title: str, lines: Sequence[str]) -> tuple[list[dict[str, Any]], bool]:
    """`title` then the lines in a code block (wrapped, escaped, in sections), within a quarter of the
    message; True when lines were left out (the caller attaches the whole plan)."""
    sections, cut = _code_sections("\n".join(lines), MESSAGE_BUDGET // 4)
    return [_md(title), *sections], cut


def details_message(record: TaskRecord) -> Message:
    """Everything behind "Show details", shown to the one who asked (ephemeral): the whole plan text
    with every value whole; what does not fit one message is in the plan's attached full text."""
    r = review(record)
    return Message(clip(f"Details of task {record.id}: {r.synopsis}", FALLBACK_TEXT), _details(r)[0])


def _details(r: Review) -> tuple[list[dict[str, Any]], bool]:
    """The details blocks, and whether lines were left out (then the plan message attaches the text)."""
    head = [_header(f"Details: {r.title}"), _context(f"Task `{r.task_id}` · {esc(r.counts)}")]
    budget = MESSAGE_BUDGET - size(head)
    while True:  # JSON escaping makes the serialised size larger than the raw text: shrink until it fits
        code, cut = _code_sections(r.full_text, max(budget, 300))
        blocks = head + code[: MAX_BLOCKS - len(head)]
        over = size(blocks) - MESSAGE_BUDGET
        if over <= 0 or budget <= 300:
            return blocks, cut or len(code) > MAX_BLOCKS - len(head)
        budget -= over + 50


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


def citation_links(citations: Sequence[tuple[str, str]], limit: int = 6) -> str:
    """Documentation links by the field they document; no retrieval scores (they mean nothing to a reader)."""
    links = []
    for label, url in citations[:limit]:
        label = esc(clip(label, 80)).replace("|", "¦")
        links.append(f"<{url}|{label}>" if url.startswith(("http://", "https://")) else label)
    return " · ".join(links)


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
    blocks = [_header(f"Recent tasks in {where}"), *_sections(lines)]
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
