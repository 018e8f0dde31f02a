"""Block Kit messages stay within Slack's limits and always carry a plain-text fallback."""

from __future__ import annotations

import json

import pytest

from agent.models import TaskState
from agent.state import TaskRecord
from bot import blocks
from bot.listeners.common import plain_text


def record(tasks: int = 2, **kw) -> TaskRecord:
    lines = ['Task t-0000abcd · create job "big"', "", '  + job "big"']
    for i in range(tasks):
        lines += [
            f'      + tasks["step_{i:04d}"].notebook_task.notebook_path = "/Repos/etl/step_{i:04d}"',
            f'      + tasks["step_{i:04d}"].depends_on = ["step_{max(i - 1, 0):04d}"]',
            f'      + tasks["step_{i:04d}"].job_cluster_key = "small" <&>',
        ]
    lines += [
        "",
        "Steps:",
        '  1. create job "big"',
        "",
        f"Plan: {3 * tasks} to add, 0 to change, 0 to remove.",
    ]
    base = dict(
        id="t-0000abcd",
        request="run many notebooks",
        requester="U1",
        thread="C1:1.0",
        channel="C1",
        settings={"name": "big"},
        plan={"action": "create", "job_id": None, "job_name": "big", "text": "\n".join(lines)},
        citations=[
            {"title": f"Jobs API | part {i}", "url": f"https://docs.databricks.com/{i}", "score": 0.5}
            for i in range(9)
        ],
        assumptions=[f"assumption {i} " + "x" * 300 for i in range(20)],
        meta={"notes": [f"note {i} " + "y" * 500 for i in range(30)]},
    )
    base.update(kw)
    return TaskRecord(**base)


def assert_within_limits(message: blocks.Message) -> None:
    assert message.text and len(message.text) <= 4000
    assert 0 < len(message.blocks) <= blocks.MAX_BLOCKS
    assert blocks.size(message.blocks) <= blocks.MESSAGE_BUDGET
    for block in message.blocks:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= blocks.SECTION_TEXT
        if block["type"] == "header":
            assert len(text) <= blocks.HEADER_TEXT


def test_short_plan_has_everything_and_buttons():
    msg = blocks.plan_message(
        record(tasks=2, assumptions=["cluster: small"], meta={"notes": ["next runs: Mon"]})
    )
    assert_within_limits(msg)
    dumped = json.dumps(msg.blocks, ensure_ascii=False)
    assert msg.attachment is None
    assert "```" in dumped and "step_0001" in dumped and "&lt;&amp;&gt;" in dumped  # escaped in code too
    assert "next runs: Mon" in dumped and "cluster: small" in dumped
    assert "<https://docs.databricks.com/0|Jobs API ¦ part 0>" in dumped
    actions = [b for b in msg.blocks if b["type"] == "actions"][0]
    approve, reject = actions["elements"]
    assert approve["action_id"] == blocks.APPROVE_ACTION and approve["value"] == "t-0000abcd"
    assert approve["style"] == "primary" and approve["confirm"]["confirm"]["text"]
    assert reject["action_id"] == blocks.REJECT_ACTION and reject["value"] == "t-0000abcd"


@pytest.mark.parametrize("tasks", [50, 400, 1000])
def test_very_long_plan_is_cut_and_attached(tasks):
    rec = record(tasks=tasks)
    msg = blocks.plan_message(rec)
    assert_within_limits(msg)
    assert msg.attachment == rec.plan["text"]  # the whole plan goes into the thread as a file
    dumped = json.dumps(msg.blocks, ensure_ascii=False)
    assert "more lines: the full plan is attached" in dumped
    assert "…and " in dumped  # 30 long notes: only some are shown
    assert any(b["type"] == "actions" for b in msg.blocks)  # the buttons survive the cut


def test_decided_plan_has_no_buttons():
    msg = blocks.plan_message(record(), decision="Approved by <@U2> — applying…")
    assert_within_limits(msg)
    assert not any(b["type"] == "actions" for b in msg.blocks)
    assert "Approved by <@U2>" in json.dumps(msg.blocks)


def test_other_messages_within_limits():
    long_error = "Validation failed:\n" + "\n".join(f"  - problem {i} <x>" for i in range(2000))
    rec = record(state=TaskState.FAILED, error=long_error, questions=["Which notebook?"] * 40)
    for msg in (
        blocks.failed_plan_message(rec),
        blocks.question_message(rec),
        blocks.result_message(rec),
        blocks.result_message(record(state=TaskState.COMPLETE, job_id=7), "http://x/jobs/7"),
        blocks.error_message("planning", long_error, "try again"),
        blocks.status_message([record(id=f"t-{i:08d}") for i in range(200)]),
        blocks.status_message([]),
        blocks.help_message(),
    ):
        assert_within_limits(msg)


def test_result_links_the_job():
    msg = blocks.result_message(record(state=TaskState.COMPLETE, job_id=7), "http://ws/#job/7")
    assert "<http://ws/#job/7|job 7>" in json.dumps(msg.blocks)
    assert "job 7" in msg.text


def test_plain_text_unwraps_slack_markup():
    raw = (
        "<@UBOT> run /Repos/etl/ingest &amp; email <mailto:ops@example.com|ops@example.com> "
        "see <https://x.example/a|docs> in <#C1|jobs> for <@U2> &lt;now&gt;"
    )
    assert plain_text(raw, "UBOT") == (
        "run /Repos/etl/ingest & email ops@example.com see https://x.example/a in #jobs for @U2 <now>"
    )
