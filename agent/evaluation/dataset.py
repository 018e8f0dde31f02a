"""The evaluation dataset: JSONL, one request per line with what the plan should contain.

A row::

    {"id": "nightly-chain", "request": "run /Repos/etl/ingest then … every weekday at 2:30am",
     "expected_response": {"action": "create", "questions": false,
                           "job_settings": {<only the fields that matter, Jobs API JSON>}},
     "expected_retrieved_context": [{"title": "schedule.quartz_cron_expression"}],   # optional
     "custom_expected": {…},                  # optional, for user metrics
     "base": {<current settings>}, "job_id": 123, "follow_up": true,                 # update rows
     "requester_email": "me@corp.com", "tags": ["schedule"], "review": false}

Update rows carry the job as it is now (``base``): the evaluation serves it from an in-memory
workspace under ``job_id``, so no Databricks workspace is needed. ``follow_up: true`` plans the
request as a follow-up in the thread that created that job; otherwise the request must name the
job itself ("update job 123 …", "change nightly-ingest …"). Rows with ``review: true`` are candidates
exported from 👎 feedback and are skipped until a person has checked them and removed the flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import JobAgentError

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "data" / "eval" / "dataset.jsonl"
KNOWN = {
    "id",
    "request",
    "expected_response",
    "expected_retrieved_context",
    "custom_expected",
    "base",
    "job_id",
    "follow_up",
    "requester_email",
    "tags",
    "review",
    "source",
    "planned",
    "expected_facts",
    "guidelines",
    "custom_inputs",
}


class DatasetError(JobAgentError):
    """The dataset file cannot be read; the message names the file and line."""


@dataclass
class Row:
    id: str
    request: str
    expected_response: dict[str, Any] = field(default_factory=dict)
    expected_retrieved_context: list[dict[str, Any]] | None = None
    custom_expected: dict[str, Any] | None = None
    base: dict[str, Any] | None = None
    job_id: int | None = None
    follow_up: bool = False
    requester_email: str | None = None
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # expected_facts, guidelines, custom_inputs


def load_rows(path: str | Path | None = None, *, include_review: bool = False) -> list[Row]:
    path = Path(path) if path else DEFAULT_DATASET
    if not path.is_file():
        raise DatasetError(f"Dataset {path} does not exist (give one with --dataset FILE.jsonl).")
    rows: list[Row] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        where = f"{path}:{n}"
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not JSON ({exc.msg}).") from exc
        if doc.get("review") and not include_review:
            continue
        row = _row(doc, where, default_job_id=900_000 + n)
        if row.id in seen:
            raise DatasetError(f"{where}: id {row.id!r} is used twice.")
        seen.add(row.id)
        rows.append(row)
    if not rows:
        raise DatasetError(f"Dataset {path} has no rows to evaluate.")
    return rows


def _row(doc: Any, where: str, default_job_id: int) -> Row:
    if not isinstance(doc, dict) or not isinstance(doc.get("request"), str) or not doc["request"].strip():
        raise DatasetError(f'{where}: each row is an object with a non-empty "request".')
    unknown = sorted(set(doc) - KNOWN)
    if unknown:
        raise DatasetError(
            f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN))}."
        )
    expected = doc.get("expected_response") or {}
    if not isinstance(expected, dict):
        raise DatasetError(f"{where}: expected_response is an object (action, job_settings, questions).")
    docs = doc.get("expected_retrieved_context")
    if docs is not None and not (isinstance(docs, list) and all(isinstance(d, dict) for d in docs)):
        raise DatasetError(
            f"{where}: expected_retrieved_context is a list of objects (doc_uri and/or title)."
        )
    base = doc.get("base")
    if base is not None and not isinstance(base, dict):
        raise DatasetError(f"{where}: base is the job's current settings (an object).")
    return Row(
        id=str(doc.get("id") or where.rsplit(":", 1)[-1]),
        request=doc["request"],
        expected_response=expected,
        expected_retrieved_context=doc.get("expected_retrieved_context"),
        custom_expected=doc.get("custom_expected"),
        base=base,
        job_id=int(doc["job_id"]) if doc.get("job_id") is not None else (default_job_id if base else None),
        follow_up=bool(doc.get("follow_up")),
        requester_email=doc.get("requester_email"),
        tags=list(doc.get("tags") or []),
        extra={k: doc[k] for k in ("expected_facts", "guidelines", "custom_inputs") if k in doc},
    )


def write_rows(rows: list[dict[str, Any]], path: str | Path | None) -> str:
    """JSONL text of `rows`, also written to `path` when given."""
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
