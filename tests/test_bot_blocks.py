"""Block Kit messages stay within Slack's limits and always carry a plain-text fallback."""

from __future__ import annotations

import json

import pytest

from agent import synopsis
from agent.diff import diff_settings, render_changes
from agent.models import FieldChange, Plan, TaskState
from agent.state import TaskRecord
from bot import blocks
from bot.listeners.common import plain_text


def settings(tasks: int = 2) -> dict:
    return {
        "name": "big",
        "tasks": [
            {
                "task_key": f"step_{i:04d}",
                "notebook_task": {"notebook_path": f"/Repos/etl/step_{i:04d} <&>"},
                "job_cluster_key": "small",
                **({"depends_on": [{"task_key": f"step_{i - 1:04d}"}]} if i else {}),
            }
            for i in range(tasks)
        ],
        "job_clusters": [
            {
                "job_cluster_key": "small",
                "new_cluster": {
                    "spark_version": "15.4.x-scala2.12",
                    "node_type_id": "i3.xlarge",
                    "num_workers": 2,
                },
            }
        ],
        "schedule": {"quartz_cron_expression": "0 30 2 ? * MON-FRI", "timezone_id": "Europe/Berlin"},
    }


def record(tasks: int = 2, action: str = "create", base: dict | None = None, **kw) -> TaskRecord:
    wanted = kw.pop("wanted", None) or settings(tasks)
    plan = Plan(
        action, 7 if action == "update" else None, "big", [], diff_settings(base, wanted), "f", base=base
    )
    plan.synopsis = synopsis.describe(plan, wanted)
    plan.text = "\n".join(["Task t-0000abcd", *render_changes(plan.changes), "", plan.summary])
    fields = dict(
        id="t-0000abcd",
        request="run many notebooks",
        requester="U1",
        thread="C1:1.0",
        channel="C1",
        action=action,
        job_id=plan.job_id,
        settings=wanted,
        plan=plan.to_dict(),
        citations=[
            {
                "title": f"Task.field_{i} (tasks[].field_{i})",
                "url": f"https://docs.databricks.com/{i}",
                "score": 9.5,
            }
            for i in range(9)
        ],
        assumptions=["Cluster: 2 × i3.xlarge workers (the defaults)."],
        meta={"notes": ["next runs: Mon 02:30", "tasks[].notebook_task.notebook_path: The notebook's path."]},
    )
    fields.update(kw)
    return TaskRecord(**fields)


def assert_within_limits(message: blocks.Message) -> None:
    assert message.text and len(message.text) <= 4000
    assert 0 < len(message.blocks) <= blocks.MAX_BLOCKS
    assert blocks.size(message.blocks) <= blocks.MESSAGE_BUDGET
    for block in message.blocks:
        text = (block.get("text") or {}).get("text", "")
        assert len(text) <= blocks.SECTION_TEXT
        if block["type"] == "header":
            assert len(text) <= blocks.HEADER_TEXT


def texts(message: blocks.Message) -> list[str]:
    """Each block's visible text, in order (sections, context, header)."""
    out = []
    for block in message.blocks:
        if block["type"] in ("section", "header"):
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out.append(" ".join(e["text"] for e in block["elements"]))
    return out


def visible(message: blocks.Message) -> int:
    return sum(len(t) for t in texts(message))


def test_small_plan_is_summary_first_then_diff_then_docs_then_buttons():
    msg = blocks.plan_message(record(tasks=2))
    assert_within_limits(msg)
    shown = texts(msg)
    assert shown[0] == 'Plan: create job "big"'
    assert shown[1].startswith(
        "Creates big: step_0000 → step_0001, weekdays 02:30 Europe/Berlin, 2 × i3.xlarge"
    )
    assert "next run" in shown[1]
    order = ["Creates big", "*Assumed*", "*Settings*", "```", "Docs:"]
    where = [next(i for i, t in enumerate(shown) if key in t) for key in order]
    assert where == sorted(where)
    dumped = json.dumps(msg.blocks, ensure_ascii=False)
    assert "&lt;&amp;&gt;" in dumped  # escaped, in code too
    assert "score" not in dumped and "9.5" not in dumped  # no retrieval scores
    assert "next runs: Mon" not in dumped  # the synopsis says the next run; the list waits in details
    assert "The notebook's path" not in dumped  # a field everyone knows is not explained
    assert "<https://docs.databricks.com/0|tasks[].field_0>" in dumped
    assert msg.attachment is None
    assert visible(msg) < 1500
    approve, reject, details = [b for b in msg.blocks if b["type"] == "actions"][0]["elements"]
    assert approve["action_id"] == blocks.APPROVE_ACTION and approve["value"] == "t-0000abcd"
    assert approve["style"] == "primary" and approve["confirm"]["confirm"]["text"]
    assert reject["action_id"] == blocks.REJECT_ACTION and reject["value"] == "t-0000abcd"
    assert details["action_id"] == blocks.DETAILS_ACTION


def test_long_values_wrap_and_are_never_cut():
    wanted = settings(1)
    coordinate = "com.databricks:spark-xml_2.12:0.18.0," * 12
    wanted["tasks"][0]["libraries"] = [{"maven": {"coordinates": coordinate}}]
    rec = record(wanted=wanted)
    joined = "".join(
        line.removeprefix("  ↪ ")
        for line in blocks.details_message(rec).blocks[-1]["text"]["text"].splitlines()
    )
    assert coordinate in joined
    assert all(len(line) <= blocks.WRAP for line in blocks.wrap("x" * 1000))


@pytest.mark.parametrize("tasks", [12, 50, 400, 1000])
def test_large_plan_keeps_the_summary_short_and_the_diff_behind_details(tasks):
    rec = record(tasks=tasks)
    msg = blocks.plan_message(rec)
    assert_within_limits(msg)
    shown = texts(msg)
    assert shown[1].startswith(f"Creates big: {tasks} tasks, from step_0000 to step_{tasks - 1:04d}")
    assert not any("```" in t for t in shown)  # the diff waits behind "Show details"
    assert any("field changes: *Show details*" in t for t in shown)
    assert visible(msg) < 1500
    if tasks >= 400:  # too long even for the details message: the whole plan is attached
        assert msg.attachment and all(f"step_{i:04d}" in msg.attachment for i in range(tasks))
    details = blocks.details_message(rec)
    assert_within_limits(details)
    assert [b for b in msg.blocks if b["type"] == "actions"]  # the buttons survive


def test_update_shows_its_changes_and_drift_first():
    base = settings(2)
    wanted = settings(2)
    wanted["schedule"]["quartz_cron_expression"] = "0 0 3 * * ?"
    drift = [FieldChange("~", "max_concurrent_runs", 1, 5)]
    rec = record(action="update", base=base, wanted=wanted)
    rec.plan.update(
        drift=[vars(d) for d in drift], drift_since={"task": "t-00000001", "at": "2026-11-30T10:00:00Z"}
    )
    shown = texts(blocks.plan_message(rec))
    assert "changed outside jobagent" in shown[1] and "t-00000001" in shown[1]
    assert "max_concurrent_runs: 1 → 5" in shown[2]
    assert shown[3].startswith("Updates job 7 big: schedule weekdays 02:30 Europe/Berlin → daily 03:00")
    changes = next(i for i, t in enumerate(shown) if t == "*Changes*")
    assert "schedule.quartz_cron_expression" in shown[changes + 1]


@pytest.mark.parametrize(
    ("state", "extra", "expected"),
    [
        (TaskState.APPROVED, {}, "applying…"),
        (TaskState.COMPLETE, {"job_id": 7}, "applied: <http://ws/job/7|job 7>"),
        (
            TaskState.FAILED,
            {"error": "Job name taken\nmore"},
            "the apply failed: Job name taken Fix the cause",
        ),
        (TaskState.REJECTED, {}, "Rejected by <@U2>"),
        (TaskState.STALE, {}, "changed outside jobagent since this plan"),
        (TaskState.SUPERSEDED, {"error": "superseded by t-00000002"}, "(task `t-00000002`)"),
    ],
)
def test_plan_message_is_updated_in_place_as_the_task_moves(state, extra, expected):
    rec = record(state=state, decided_by="U2", **extra)
    msg = blocks.plan_message(rec, job_url="http://ws/job/7", applying=True)
    assert_within_limits(msg)
    status = [t for t in texts(msg) if expected in t]
    assert status, texts(msg)
    actions = [b for b in msg.blocks if b["type"] == "actions"]
    assert [e["action_id"] for a in actions for e in a["elements"]] == [blocks.DETAILS_ACTION]


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


def test_everything_at_once_stays_within_limits_and_attaches_the_rest():
    drift = [FieldChange("~", f'tasks["t{i}"].max_retries', 0, i) for i in range(400)]
    rec = record(
        tasks=3,
        unused=[f"do thing {i} " + "z" * 80 for i in range(25)],
        assumptions=[f"assumption {i} " + "x" * 300 for i in range(20)],
        meta={"notes": [f"note {i} " + "y" * 500 for i in range(30)]},
    )
    rec.plan.update(drift=[vars(d) for d in drift], drift_since={"task": "t-00000001", "at": "2026-11-30"})
    msg = blocks.plan_message(rec)
    assert_within_limits(msg)
    shown = "\n".join(texts(msg))
    assert "changed outside jobagent" in shown and "Creates big" in shown
    assert all(f"do thing {i}" in shown for i in range(25))  # what was not acted on: never dropped
    assert msg.attachment and "assumption 19" in msg.attachment and "note 29" in msg.attachment
    assert [b for b in msg.blocks if b["type"] == "actions"]
