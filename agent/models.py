"""The domain's own data: what the SDK has no type for (task record, plan, diff, assignment).

Job settings themselves are always the SDK's `databricks.sdk.service.jobs.JobSettings`; records keep
them as Jobs API JSON (``JobSettings.as_dict()``) so the state file stays plain JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # only a type here: `agent.models` (and the state store) must not load databricks-sdk
    from databricks.sdk.service.jobs import JobSettings

Action = Literal["create", "update"]


class TaskState(StrEnum):
    NEEDS_INPUT = "NEEDS_INPUT"  # the Tech Lead asked a question; the answer re-plans
    PLANNED = "PLANNED"
    APPROVED = "APPROVED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    STALE = "STALE"  # the job changed after the plan was shown; a new plan is needed
    SUPERSEDED = "SUPERSEDED"  # a newer request in the same thread replaced this plan


# Legal transitions. FAILED -> IN_PROGRESS is a retried apply; IN_PROGRESS -> IN_PROGRESS is an
# explicit resume after a crash (never implicit, so a double click cannot apply twice).
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.NEEDS_INPUT: frozenset({TaskState.PLANNED, TaskState.SUPERSEDED, TaskState.REJECTED}),
    TaskState.PLANNED: frozenset(
        {TaskState.APPROVED, TaskState.REJECTED, TaskState.SUPERSEDED, TaskState.FAILED, TaskState.STALE}
    ),
    TaskState.APPROVED: frozenset({TaskState.IN_PROGRESS, TaskState.FAILED, TaskState.STALE}),
    TaskState.IN_PROGRESS: frozenset(
        {TaskState.IN_PROGRESS, TaskState.COMPLETE, TaskState.FAILED, TaskState.STALE}
    ),
    TaskState.FAILED: frozenset({TaskState.IN_PROGRESS, TaskState.SUPERSEDED, TaskState.REJECTED}),
    TaskState.COMPLETE: frozenset(),
    TaskState.REJECTED: frozenset(),
    TaskState.STALE: frozenset({TaskState.SUPERSEDED}),
    TaskState.SUPERSEDED: frozenset(),
}

APPLYABLE = frozenset({TaskState.APPROVED, TaskState.FAILED})


@dataclass
class Citation:
    """A documentation passage the plan relied on."""

    title: str
    url: str
    score: float
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "url": self.url, "score": round(self.score, 4)}


@dataclass
class Assignment:
    """What the Tech Lead hands the Worker: desired settings, create or update, and its reasoning."""

    settings: JobSettings | None
    action: Action = "create"
    job_id: int | None = None
    assumptions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # parts of the request not acted on, in its words
    carries: list[dict[str, str]] = field(default_factory=list)  # earlier unapplied requests it includes
    citations: list[Citation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # extra plan lines (e.g. next run times, warnings)
    planner: str = "offline"
    usage: dict[str, int] = field(default_factory=dict)  # LLM tokens spent on this plan
    refused: bool = False  # the request was declined whole; its text never re-enters a prompt or parser

    @property
    def needs_input(self) -> bool:
        return bool(self.questions) or self.settings is None


@dataclass
class FieldChange:
    """One line of a field-level diff: ``+`` added, ``~`` changed, ``-`` removed."""

    op: Literal["+", "~", "-"]
    path: str
    old: Any = None
    new: Any = None


@dataclass
class Step:
    """One planned (and later executed) action against the workspace."""

    kind: Literal["create_job", "update_job", "reset_job", "run_now"]  # reset_job: older plans
    description: str
    status: Literal["pending", "done", "failed", "skipped"] = "pending"
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    at: str | None = None


@dataclass
class Plan:
    """An ordered list of steps plus the diff the user approves; the fingerprint pins the remote job."""

    action: Action
    job_id: int | None
    job_name: str
    steps: list[Step]
    changes: list[FieldChange]
    fingerprint: str
    text: str = ""
    checked_at: float | None = None  # epoch seconds the workspace checks passed (None: planned offline)
    synopsis: str = ""  # one plain-English sentence a reviewer checks against the request
    # The job's settings as the plan read them (None for a create): a stale apply diffs against these
    # to say what changed outside in the meantime.
    base: dict[str, Any] | None = None
    # Changes made to the job outside jobagent since this thread last applied it, shown apart from
    # the requested `changes`; `drift_since` names that apply ({"task": id, "at": time}).
    drift: list[FieldChange] = field(default_factory=list)
    drift_since: dict[str, Any] | None = None

    @property
    def summary(self) -> str:
        adds = sum(c.op == "+" for c in self.changes)
        chg = sum(c.op == "~" for c in self.changes)
        rem = sum(c.op == "-" for c in self.changes)
        return f"Plan: {adds} to add, {chg} to change, {rem} to remove."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            action=data["action"],
            job_id=data.get("job_id"),
            job_name=data.get("job_name", ""),
            steps=[Step(**s) for s in data.get("steps", [])],
            changes=[FieldChange(**c) for c in data.get("changes", [])],
            fingerprint=data.get("fingerprint", ""),
            checked_at=data.get("checked_at"),
            text=data.get("text", ""),
            synopsis=data.get("synopsis", ""),
            base=data.get("base"),
            drift=[FieldChange(**c) for c in data.get("drift", [])],
            drift_since=data.get("drift_since"),
        )
