"""The Worker: validate → plan → apply, each phase explicit, every outcome recorded in state and note.

Creates are de-duplicated by tagging each new job with the task id (Jobs `create` has no
idempotency token): a retry after a crash finds the tagged job instead of creating another, and a
create that the SDK re-sent after a timeout is reconciled down to one job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from databricks.sdk.service.jobs import JobSettings

from agent.diff import diff_settings, fingerprint, render_changes
from agent.errors import IllegalTransition, JobAgentError, StalePlan, ValidationFailed, WorkspaceError
from agent.models import APPLYABLE, Assignment, Plan, Step, TaskState
from agent.notes import NoteBook
from agent.state import StateStore, TaskRecord, new_task_id, state_hint, utcnow
from agent.validation import settings_problems, workspace_problems
from agent.workspace import TASK_TAG, Workspace

log = logging.getLogger(__name__)
OPEN_STATES = (TaskState.PLANNED, TaskState.NEEDS_INPUT)


class Worker:
    """`workspace` may be a zero-argument factory, so decisions (approve/reject) never connect."""

    def __init__(
        self,
        workspace: Workspace | Callable[[], Workspace],
        store: StateStore,
        notes: NoteBook,
        policies: Any = None,
    ):
        """`policies` (e.g. Unity Catalog's PolicyChecker) has `.problems(settings) -> list[str]`."""
        self._workspace, self.store, self.notes = workspace, store, notes
        self.policies = policies

    @property
    def ws(self) -> Workspace:
        if not isinstance(self._workspace, Workspace):
            self._workspace = self._workspace()
        return self._workspace

    # -- intake --------------------------------------------------------------------------------
    def submit(
        self,
        assignment: Assignment,
        *,
        request: str,
        requester: str,
        thread: str | None = None,
        channel: str | None = None,
        run_now: bool = False,
        meta: dict[str, Any] | None = None,
        preflight: bool = True,
    ) -> TaskRecord:
        """Record a new task for `assignment` and plan it (or record its questions).

        With `preflight` the workspace checks run now, so a missing notebook is reported before anyone
        approves; without it a *create* is planned offline and the checks run at apply time.
        """
        task_id = new_task_id()
        thread = thread or f"cli-{task_id}"
        for older in self.store.find(thread=thread):
            if older.state in OPEN_STATES:
                self.store.transition(
                    older.id, TaskState.SUPERSEDED, by=requester, error=f"superseded by {task_id}"
                )
        state = TaskState.NEEDS_INPUT if assignment.needs_input else TaskState.PLANNED
        record = TaskRecord(
            id=task_id,
            request=request,
            requester=requester,
            thread=thread,
            channel=channel,
            state=state,
            action=assignment.action,
            settings=assignment.settings.as_dict() if assignment.settings else None,
            job_id=assignment.job_id,
            citations=[c.to_dict() for c in assignment.citations],
            assumptions=list(assignment.assumptions),
            questions=list(assignment.questions),
            unused=list(assignment.unused),
            meta={
                **(meta or {}),
                "run_now": run_now,
                "planner": assignment.planner,
                "carries": assignment.carries,
                "notes": assignment.notes,
                "usage": assignment.usage,
            },
        )
        self.store.add(record)
        self.notes.append(thread, "request", task_id, f"**{requester}** asked:\n\n> {_quote(request)}")
        if state is TaskState.NEEDS_INPUT:
            warning = not_acted_on(record.unused)
            body = "\n".join(f"- {q}" for q in assignment.questions) + (f"\n\n{warning}" if warning else "")
            self.notes.append(thread, "question", task_id, body)
            return record
        try:
            plan = self.plan(record, check_workspace=preflight or record.action == "update")
        except (ValidationFailed, WorkspaceError) as exc:
            return self._fail(record.id, exc, phase="plan")
        except Exception as exc:  # a bug must not leave the task half-recorded
            log.exception("task %s: unexpected error while planning", record.id)
            return self._fail(record.id, unexpected(exc), phase="plan")
        return self.store.update(record.id, plan=plan.to_dict(), fingerprint=plan.fingerprint)

    # -- phases --------------------------------------------------------------------------------
    def validate(self, record: TaskRecord, *, check_workspace: bool = True) -> dict[str, Any] | None:
        """Raise ValidationFailed with every problem in the settings and their prerequisites; return the
        job's current settings for an update (None for a create)."""
        settings = record.settings or {}
        problems = settings_problems(settings)
        shape_ok = not problems
        if self.policies is not None and shape_ok:
            problems.extend(self.policies.problems(settings))  # team rules, run at plan and at apply
        remote = None
        if check_workspace and record.action == "update":
            job = self.ws.get_job(record.job_id) if record.job_id else None
            if job is None:
                problems.append(
                    f"Job {record.job_id} does not exist in {self.ws.label}; it cannot be updated."
                )
            else:
                remote = job.settings.as_dict() if job.settings else {}
        elif check_workspace and settings.get("name"):
            named = self.ws.jobs_named(settings["name"])
            others = sorted(j for j, tags in named.items() if tags.get(TASK_TAG) != record.id)
            if others:
                problems.append(
                    f"A job named {settings['name']!r} already exists (job {others[0]}). "
                    "Choose another name, or ask to update that job."
                )
        if check_workspace and shape_ok:
            problems.extend(workspace_problems(settings, self.ws))
        if problems:
            raise ValidationFailed(problems)
        return remote

    def plan(self, record: TaskRecord, *, check_workspace: bool = True) -> Plan:
        remote = self.validate(record, check_workspace=check_workspace)
        wanted = self.desired_settings(record, remote)
        changes = diff_settings(remote, wanted)
        name = wanted.get("name", "")
        steps: list[Step] = []
        if record.action == "create":
            steps.append(Step("create_job", f'create job "{name}" (tagged {TASK_TAG}={record.id})'))
        elif changes:
            steps.append(Step("reset_job", f'update job {record.job_id} "{name}" (all settings replaced)'))
        if record.meta.get("run_now"):
            steps.append(Step("run_now", "start a run of the job now"))
        plan = Plan(record.action, record.job_id, name, steps, changes, fingerprint(remote))  # type: ignore[arg-type]
        plan.text = render_plan(record, plan)
        log.info("task %s planned: %s %s", record.id, plan.summary, [s.kind for s in steps])
        warning = not_acted_on(record.unused)
        self.notes.append(
            record.thread, "plan", record.id, f"```\n{plan.text}\n```" + (f"\n\n{warning}" if warning else "")
        )
        return plan

    def desired_settings(self, record: TaskRecord, remote: dict[str, Any] | None) -> dict[str, Any]:
        wanted = JobSettings.from_dict(record.settings or {}).as_dict()
        tags = dict(wanted.get("tags") or {})
        if record.action == "create":
            tags[TASK_TAG] = record.id
        elif remote and (remote.get("tags") or {}).get(TASK_TAG):
            tags.setdefault(TASK_TAG, remote["tags"][TASK_TAG])  # keep the provenance tag
        if tags:
            wanted["tags"] = tags
        return wanted

    # -- decisions -----------------------------------------------------------------------------
    def approve(self, task_id: str, by: str) -> TaskRecord:
        record = self.store.transition(
            task_id, TaskState.APPROVED, by=by, expect=TaskState.PLANNED, decided_by=by
        )
        self.notes.append(record.thread, "decision", task_id, f"Approved by **{by}**.")
        return record

    def reject(self, task_id: str, by: str, reason: str = "") -> TaskRecord:
        record = self.store.transition(task_id, TaskState.REJECTED, by=by, decided_by=by)
        self.notes.append(record.thread, "decision", task_id, f"Rejected by **{by}**. {reason}".strip())
        return record

    # -- apply ---------------------------------------------------------------------------------
    def apply(self, task_id: str, *, by: str = "worker", resume: bool = False) -> TaskRecord:
        """Re-validate, refuse a stale plan, then execute exactly the planned steps."""
        record = self.store.get(task_id)
        if resume and record.state is TaskState.IN_PROGRESS:
            record = self.store.transition(
                task_id, TaskState.IN_PROGRESS, by=by, expect=TaskState.IN_PROGRESS
            )
        elif record.state in APPLYABLE:
            record = self.store.transition(task_id, TaskState.IN_PROGRESS, by=by, expect=record.state)
        else:
            hint = "Approve it first." if record.state is TaskState.PLANNED else ""
            raise IllegalTransition(
                task_id, record.state, TaskState.IN_PROGRESS, hint or state_hint(record.state)
            )
        if not record.plan:
            return self._fail(
                task_id, ValidationFailed(["The task has no plan; make a new plan."]), phase="apply"
            )
        plan = Plan.from_dict(record.plan)
        log.info("task %s: applying %d step(s)", task_id, len(plan.steps))
        try:
            remote = self.validate(record)
            resumed = any(step.status == "done" for step in plan.steps)  # the job changed by our own hand
            if not resumed and fingerprint(remote) != plan.fingerprint:
                raise StalePlan(task_id, record.job_id)
            job_id = record.job_id
            for i, step in enumerate(plan.steps):
                if step.status == "done":
                    continue
                job_id = self._execute(record, step, job_id, remote)
                step.status, step.at = "done", utcnow()
                self.store.update(
                    task_id,
                    job_id=job_id,
                    plan=plan.to_dict(),
                    steps=[asdict(s) for s in plan.steps[: i + 1]],
                )
        except StalePlan as exc:
            record = self.store.transition(task_id, TaskState.STALE, by=by, error=str(exc))
            self.notes.append(record.thread, "stale plan", task_id, str(exc))
            raise
        except (ValidationFailed, WorkspaceError) as exc:
            self.store.update(task_id, steps=[asdict(s) for s in plan.steps])
            return self._fail(task_id, exc, phase="apply")
        except Exception as exc:  # never leave a task IN_PROGRESS behind a bug; a retry adopts a created job
            log.exception("task %s: unexpected error while applying", task_id)
            self.store.update(task_id, steps=[asdict(s) for s in plan.steps])
            return self._fail(task_id, unexpected(exc), phase="apply")
        record = self.store.transition(task_id, TaskState.COMPLETE, by=by, job_id=job_id, error=None)
        body = (
            "\n".join(f"- {s.description}: **{s.status}** {_result(s)}" for s in plan.steps)
            or "- nothing to do"
        )
        url = self.ws.job_url(job_id) if job_id else ""
        self.notes.append(record.thread, "applied", task_id, f"{body}\n\nJob {job_id}: {url}".strip())
        return record

    def _execute(
        self, record: TaskRecord, step: Step, job_id: int | None, remote: dict[str, Any] | None
    ) -> int | None:
        """Run one step; `remote` is the job as validate just read it (None for a create)."""
        if step.kind == "create_job":
            settings = JobSettings.from_dict(self.desired_settings(record, None))
            name = settings.name or ""
            found = self.ws.jobs_tagged(name, record.id)
            if found:
                step.result = {"job_id": found[0], "adopted": True}
                log.info(
                    "task %s: job %s was created by an earlier attempt; adopting it", record.id, found[0]
                )
                return found[0]
            new_id = self.ws.create_job(settings)
            tagged = self.ws.jobs_tagged(name, record.id)
            for extra in [j for j in tagged if j != min(tagged, default=new_id)]:
                log.warning("task %s: removing duplicate job %s left by a retried create", record.id, extra)
                self.ws.delete_job(extra)
            job_id = min(tagged, default=new_id)
            step.result = {"job_id": job_id}
            log.info("task %s: created job %s", record.id, job_id)
            return job_id
        if step.kind == "reset_job":
            settings = JobSettings.from_dict(self.desired_settings(record, remote or {}))
            self.ws.reset_job(int(job_id or 0), settings)
            step.result = {"job_id": job_id}
            return job_id
        if step.kind == "run_now":
            run_id = self.ws.run_now(int(job_id or 0), idempotency_token=f"{record.id}-run")
            step.result = {"run_id": run_id}
            return job_id
        raise ValueError(f"unknown step {step.kind}")

    def _fail(self, task_id: str, exc: Exception, *, phase: str) -> TaskRecord:
        record = self.store.transition(task_id, TaskState.FAILED, error=str(exc))
        log.warning("task %s failed in %s: %s", task_id, phase, exc)
        self.notes.append(record.thread, f"failed ({phase})", task_id, str(exc))
        return record


def unexpected(exc: Exception) -> JobAgentError:
    return JobAgentError(
        f"Internal error ({type(exc).__name__}: {exc}). Nothing further was changed; apply again to retry "
        "safely (a job created before the error is found, not created twice), and report this if it repeats."
    )


def not_acted_on(unused: list[str]) -> str:
    """The reviewer's warning for the parts of a request the plan does not act on ("" when none)."""
    if not unused:
        return ""
    items = "\n".join(f"  - “{u}”" for u in unused)
    return (
        f"⚠ I did not act on:\n{items}\n"
        "  Nothing in this plan does what these ask. Reply to rephrase them, or approve without them."
    )


def render_plan(record: TaskRecord, plan: Plan) -> str:
    head = (
        f'create job "{plan.job_name}"'
        if plan.action == "create"
        else f'update job {plan.job_id} "{plan.job_name}"'
    )
    lines = [f"Task {record.id} · {head}", ""]
    if plan.changes:
        marker = "+" if plan.action == "create" else "~"
        ident = f'job "{plan.job_name}"' + (f" ({plan.job_id})" if plan.job_id else "")
        lines += [f"  {marker} {ident}", *render_changes(plan.changes), ""]
    else:
        lines += ["  No changes: the job already matches these settings.", ""]
    lines.append("Steps:")
    lines += [f"  {i}. {s.description}" for i, s in enumerate(plan.steps, 1)] or ["  (none)"]
    lines += ["", plan.summary]
    return "\n".join(lines)


def _quote(text: str) -> str:
    return text.strip().replace("\n", "\n> ")


def _result(step: Step) -> str:
    return ", ".join(f"{k}={v}" for k, v in step.result.items())
