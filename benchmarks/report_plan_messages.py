"""How long the Slack plan message is for typical requests, as a reviewer on a phone meets it.

Each request is planned the way the bot plans it (offline Tech Lead, the embedded workspace emulator),
then rendered as the Slack plan message. Per request it prints:

- `visible`: characters of text in the message before the buttons (header, sections, context);
- `phone_lines`: those characters as lines on a phone (38 characters a line, each block starts a line);
- `blocks` and `json`: the Block Kit size Slack counts (limit 50 blocks, ~13,000 characters);
- `whole`: characters of the whole plan (`Show details` / the attached text), the everything-inline
  baseline, and `ratio` = visible / whole;
- `attached`: whether the whole plan goes into the thread as a file (it does not fit one message).

    .venv/bin/python benchmarks/report_plan_messages.py
"""

from __future__ import annotations

import logging
import re
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_plan import REQUESTS as TYPICAL  # noqa: E402

from agent.config import Settings, WorkspaceHandle  # noqa: E402
from agent.models import TaskState  # noqa: E402
from agent.runtime import Runtime  # noqa: E402
from agent.tech_lead import TechLead  # noqa: E402
from bot import blocks  # noqa: E402
from standins.databricks import WorkspaceEmulator  # noqa: E402

PHONE_WIDTH = 38
LINK = re.compile(r"<([^|>]+)(?:\|([^>]+))?>")
CREATES = [  # the demo's request, bench_plan's typical ones, and one long job with a long value
    "Run /Repos/etl/ingest then /Repos/etl/transform every weekday at 2:30am Berlin time on a small "
    "cluster, retry twice, email data-eng@example.com on failure. Call it nightly-ingest.",
    *TYPICAL,
    "run /Repos/etl/step1, /Repos/etl/step2, /Repos/etl/step3, /Repos/etl/step4, /Repos/etl/step5, "
    "/Repos/etl/step6, /Repos/etl/step7, /Repos/etl/step8, /Repos/etl/step9 and /Repos/etl/step10 in order "
    "daily at 1am on 8 workers with the maven library com.databricks:spark-xml_2.12:0.18.0",
]
# Follow-ups in the thread of the first request, after it was applied: updates of that job.
UPDATES = [
    "make it 3am instead, and also email bob@example.com",
    "retry 3 times and time out after 90 minutes",
    "add /Repos/etl/publish after transform",
]


def measure(record) -> dict[str, object]:
    message = blocks.plan_message(record)
    texts = []
    for block in message.blocks:
        if block["type"] == "actions":
            break
        if block["type"] in ("section", "header"):
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.append(" ".join(e["text"] for e in block["elements"]))
    texts = [LINK.sub(lambda m: m.group(2) or m.group(1), t) for t in texts]  # as Slack shows links
    lines = sum(max(1, -(-len(line) // PHONE_WIDTH)) for text in texts for line in text.splitlines())
    whole = len(blocks.review(record).full_text)
    visible = sum(len(t) for t in texts)
    return {
        "visible": visible,
        "phone_lines": lines,
        "blocks": len(message.blocks),
        "json": blocks.size(message.blocks),
        "whole": whole,
        "ratio": visible / whole if whole else 0.0,
        "attached": message.attachment is not None,
    }


def main() -> int:
    logging.getLogger("agent").setLevel(logging.ERROR)
    home = Path(tempfile.mkdtemp(prefix="jobagent-report-"))
    settings = replace(Settings.from_env(), home=home, state_path=home / "state", notes_dir=home / "notes")
    emulator = WorkspaceEmulator()
    emulator.start()
    rows: list[tuple[str, dict[str, object]]] = []
    try:
        handle = WorkspaceHandle(emulator.client(), "report emulator", emulator)
        with Runtime(settings, handle) as rt:
            lead = TechLead.from_settings(settings, rt)
            for i, request in enumerate(CREATES):
                thread = f"report-{i}"
                record = rt.worker.submit(
                    lead.assign(request, thread=thread),
                    request=request,
                    requester=emulator.user_name,
                    thread=thread,
                    preflight=False,
                )
                rows.append((f"create: {request}", measure(record)))
                if i == 0 and record.state is TaskState.PLANNED:
                    rt.worker.approve(record.id, by=emulator.user_name)
                    rt.worker.apply(record.id, by=emulator.user_name)
            for request in UPDATES:
                record = rt.worker.submit(
                    lead.assign(request, thread="report-0"),
                    request=request,
                    requester=emulator.user_name,
                    thread="report-0",
                )
                rows.append((f"update: {request}", measure(record)))
                if record.state is TaskState.PLANNED:
                    rt.worker.approve(record.id, by=emulator.user_name)
                    rt.worker.apply(record.id, by=emulator.user_name)
    finally:
        emulator.stop()
    header = ("visible", "phone", "blocks", "json", "whole", "ratio", "file")
    print(" ".join(f"{h:>7}" for h in header) + "  request")
    for request, m in rows:
        print(
            f"{m['visible']:>7} {m['phone_lines']:>7} {m['blocks']:>7} {m['json']:>7} {m['whole']:>7} "
            f"{m['ratio']:>7.2f} {'yes' if m['attached'] else 'no':>7}  {request[:70]}"
        )
    for key in ("visible", "phone_lines", "json", "whole"):
        values = [float(m[key]) for _, m in rows]  # type: ignore[arg-type]
        print(f"{key}: median {statistics.median(values):.0f}, max {max(values):.0f}")
    ratios = [float(m["ratio"]) for _, m in rows]  # type: ignore[arg-type]
    print(f"visible / whole plan: median {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
