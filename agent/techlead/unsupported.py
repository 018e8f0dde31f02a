"""Task kinds the Jobs API has but jobagent cannot build yet: named honestly, never guessed at.

Their words are hidden from the other grammars while they read (so "dbt Cloud job 12" is not taken for a
dbt task, nor "the Lakeview dashboard 01ef…" for a legacy SQL dashboard), then shown again so the
plan lists them as not acted on, and a question says what jobagent cannot create and what it can.
"""

from __future__ import annotations

import re

from agent.techlead.scan import Scan

_ID = r"(?:\s+(?:id\s*)?[:=#]?\s*[`'\"]?[\w-]*\d[\w-]*[`'\"]?)?"
_DASHBOARD = r"(?:\s+dashboards?)?"
_NEW_BI = r"\b(?:lakeview|ai\s*/\s*bi|aibi)\b"

# (phrases, what it is called, the Jobs API field it would need); never part of a name ("powerbi-sync")
KINDS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(rf"(?<![\w/-])(?:{rx})(?![\w/-])", re.I), label, api)
    for rx, label, api in (
        (
            r"\bpower[\s-]?bi\b(?:\s+(?:semantic\s+)?(?:models?|datasets?|refresh|tasks?))?",
            "Power BI tasks",
            "power_bi_task",
        ),
        (
            r"\bclean[\s-]?rooms?\b(?:\s+notebooks?)?",
            "clean room notebook tasks",
            "clean_rooms_notebook_task",
        ),
        (
            r"\bmain[\s_-]?class(?:[\s_-]?name)?\b(?:\s*[:=]?\s*(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*)?"
            r"|\b(?:spark[\s_-]+)?jar(?:[\s_-]+tasks?)?\b|(?<=\.)jar\b",
            "JAR tasks",
            "spark_jar_task",
        ),
        (r"\bspark[\s_-]?submit\b", "spark-submit tasks", "spark_submit_task"),
        (
            rf"\bdashboards?\b{_ID}[^.;\n]{{0,40}}?{_NEW_BI}(?:\s+(?:kind|type|style|one))?"
            rf"|{_NEW_BI}{_DASHBOARD}{_ID}",
            "AI/BI (Lakeview) dashboard tasks",
            "dashboard_task",
        ),
        (
            r"\bdbt[\s_-]?(?:cloud|platform)\b(?:\s+jobs?)?(?:\s+(?:id\s*)?#?\d+)?",
            "dbt Cloud tasks",
            "dbt_cloud_task",
        ),
    )
)
CAN = (
    "it can build notebook, Python file, wheel, SQL (query, file, legacy dashboard, alert), dbt, pipeline "
    "and run-job tasks"
)


def named(text: str) -> bool:
    """Whether the request names a task kind jobagent cannot create."""
    return any(rx.search(text) for rx, _, _ in KINDS)


def hide(scan: Scan) -> list[tuple[int, int]]:
    """Blank the unsupported kinds' words before the other grammars read; `report` shows them again."""
    hidden = []
    for rx, _, _ in KINDS:
        for m in rx.finditer(scan.masked):
            if m.group(0).strip():
                scan.consume(*m.span())
                hidden.append(m.span())
    return hidden


def report(scan: Scan, hidden: list[tuple[int, int]], draft) -> None:
    """Show the hidden words again (so they are reported as not acted on) and say what cannot be built."""
    for start, end in hidden:
        scan.masked = scan.masked[:start] + scan.text[start:end] + scan.masked[end:]
    view = scan.masked  # what no other grammar read ("jar" of a library jar), and paths no grammar used
    for e in scan.entities:
        if not e.used:
            view = view[: e.start] + scan.text[e.start : e.end] + view[e.end :]
    said = [(label, api) for rx, label, api in KINDS if rx.search(view)]
    if any(api == "spark_submit_task" for _, api in said):  # the JAR a spark-submit runs is part of it
        said = [(label, api) for label, api in said if api != "spark_jar_task"]
    for label, api in said:
        draft.ask(
            f"jobagent cannot create {label} ({api}) yet; {CAN}. Add that task in the Databricks UI, "
            "or tell me what the job should run instead."
        )
