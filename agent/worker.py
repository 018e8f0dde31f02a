"""The Worker: validate → plan → apply, each phase explicit, every outcome recorded in state and note.

Creates are de-duplicated by tagging each new job with the task id (Jobs `create` has no
idempotency token): a retry after a crash finds the tagged job instead of creating another, and a
create that got no answer is looked for, never sent again blindly. Updates are partial `jobs/update`
calls built from the diff, so what the plan shows is all that changes; the job is read back after.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from databricks.sdk.service.jobs import JobSettings

from agent import synopsis
from agent.access import Access
from agent.diff import diff_settings, fingerprint, render_changes, update_for
from agent.errors import (
    AccessDenied,
    ConfigError,
    CreateUncertain,
    IllegalTransition,
    JobAgentError,
    StalePlan,
    StateWriteFailed,
    ValidationFailed,
    WorkspaceError,
)
from agent.identity import Principal
from agent.models import APPLYABLE, Assignment, FieldChange, Plan, Step, TaskState
from agent.notes import NoteBook
from agent.state import TaskRecord, TaskStore, new_task_id, state_hint, utcnow
from agent.validation import settings_problems, workspace_problems
from agent.workspace import TASK_TAG, Workspace

log = logging.getLogger(__name__)
OPEN_STATES = (TaskState.PLANNED, TaskState.NEEDS_INPUT)


@dataclass
class Remote:
    """A job as the workspace has it: its settings, and its creator (whom it runs as by default)."""

    settings: dict[str, Any]
    owner: str | None = None

    def changes(self, wanted: dict[str, Any]) -> list[FieldChange]:
        return diff_settings(self.settings, wanted, self.owner)


class Worker:
    """`workspace` may be a zero-argument factory, so decisions (approve/reject) never connect."""

    def __init__(
        self,
        workspace: Workspace | Callable[[], Workspace],
        store: TaskStore,
        notes: NoteBook,
        policies: Any = None,
        access: Access | None = None,
    ):
        """`policies` (e.g. Unity Catalog's PolicyChecker) has `.problems(settings) -> list[str]`;
        `access` checks Databricks permissions for the people it acts for (None: no checks)."""
        self._workspace, self.store, self.notes = workspace, store, notes
        self.policies = policies
        self.access = access
        self.settle_seconds = 20.0  # how long to look for a job whose create got no answer
        # Notebooks and files the plan found are not looked up again by an apply within this many
        # seconds (JOBAGENT_PATH_RECHECK_SECONDS): one call per path saved on every quick approval.
        self.path_recheck_seconds = 900.0

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
        requester_email: str | None = None,
        principal: Principal | None = None,
    ) -> TaskRecord:
        """Record a new task for `assignment` and plan it (or record its questions).

        With `preflight` the workspace checks run now, so a missing notebook is reported before anyone
        approves; without it a *create* is planned offline and the checks run at apply time. With access
        checks, the requester's Databricks identity (`principal`, or found from `requester` /
        `requester_email`) decides what may be planned; someone without one gets a FAILED task saying so.
        """
        task_id = new_task_id()
        denied: JobAgentError | None = None
        if self.access is not None and principal is None:
            try:
                principal = self.access.identify(requester, requester_email)
            except (AccessDenied, WorkspaceError) as exc:
                denied = exc
        thread = thread or f"cli-{task_id}"
        state = TaskState.NEEDS_INPUT if assignment.needs_input else TaskState.PLANNED
        identity = self._identity_meta(assignment, principal)
        record = TaskRecord(
            id=task_id,
            request=request,
            requester=requester,
            thread=thread,
            channel=channel,
            state=TaskState.FAILED if denied else state,
            error=str(denied) if denied else None,
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
                **({"refused": True} if assignment.refused else {}),
                **({"requester_email": requester_email} if requester_email is not None else {}),
                **identity,
            },
        )
        self.notes.append(thread, "request", task_id, f"**{requester}** asked:\n\n> {_quote(request)}")
        if denied:
            self.notes.append(thread, "refused", task_id, str(denied))
        elif state is TaskState.NEEDS_INPUT:
            warning = not_acted_on(record.unused)
            body = "\n".join(f"- {q}" for q in assignment.questions) + (f"\n\n{warning}" if warning else "")
            self.notes.append(thread, "question", task_id, body)
        else:  # planned before it is stored, so the task is written once, whole (one fsync, not two)
            failed: JobAgentError | None = None
            try:
                plan = self.plan(record, check_workspace=preflight or record.action == "update")
                record.plan, record.fingerprint = plan.to_dict(), plan.fingerprint
            except (ValidationFailed, WorkspaceError, AccessDenied, ConfigError) as exc:
                failed = exc
            except Exception as exc:  # a bug must not leave the task half-recorded
                log.exception("task %s: unexpected error while planning", record.id)
                failed = unexpected(exc)
            if failed is not None:
                record.history.append({"state": str(state), "at": record.created_at, "by": requester})
                record.state, record.error = TaskState.FAILED, str(failed)
                log.warning("task %s failed in plan: %s", task_id, failed)
                self.notes.append(thread, "failed (plan)", task_id, str(failed))
        older = [t for t in self.store.find(thread=thread) if t.state in OPEN_STATES]
        try:
            self.store.add(record)
        except StateWriteFailed as exc:
            self.notes.append(thread, "not saved", task_id, f"{exc} Nothing was planned; ask again.")
            raise
        for task in older:  # only once the new task is saved: a failed save leaves the old plan standing
            try:
                self._move(
                    task.id,
                    TaskState.SUPERSEDED,
                    requester,
                    "superseded",
                    f"Superseded by task {task_id}, a newer request from **{requester}** in this thread; "
                    "this plan will not be applied.",
                    error=f"superseded by {task_id}",
                )
            except IllegalTransition as exc:  # decided on in the meantime: it stands as decided
                log.info("task %s not superseded: %s", task.id, exc)
        return record

    # -- phases --------------------------------------------------------------------------------
    def validate(self, record: TaskRecord, *, check_workspace: bool = True) -> Remote | None:
        """Raise ValidationFailed with every problem in the settings and their prerequisites; return the
        job as it is now for an update (None for a create)."""
        return self._validate(record, check_workspace=check_workspace)[0]

    def _validate(
        self, record: TaskRecord, *, check_workspace: bool = True, paths: bool = True
    ) -> tuple[Remote | None, dict[int, dict[str, str]] | None]:
        """`validate`, also returning a create's `jobs/list?name=` answer ({job_id: tags}, None when it
        was not asked): apply reuses it to adopt a job an earlier attempt created, instead of listing
        again."""
        settings = record.settings or {}
        named: dict[int, dict[str, str]] | None = None
        problems = settings_problems(settings)
        shape_ok = not problems
        if self.policies is not None and shape_ok:
            problems.extend(self.policies.problems(settings))  # team rules, run at plan and at apply
        remote = None
        who = self.requester_principal(record) if self.access is not None else None
        if check_workspace and record.action == "update":
            job = self.ws.get_job(record.job_id) if record.job_id else None
            if job is None:
                problems.append(
                    f"Job {record.job_id} does not exist in {self.ws.label}; it cannot be updated."
                )
            else:
                if who is not None:  # before anything about the job reaches the plan
                    self.access.require_manage(who, int(record.job_id or 0), "changing it")
                remote = Remote(job.settings.as_dict() if job.settings else {}, job.creator_user_name)
        elif check_workspace and settings.get("name"):
            named = self.ws.jobs_named(settings["name"])
            others = sorted(j for j, tags in named.items() if tags.get(TASK_TAG) != record.id)
            if others:
                problems.append(
                    f"A job named {settings['name']!r} already exists (job {others[0]}). "
                    "Choose another name, or ask to update that job."
                )
        if check_workspace and shape_ok:
            problems.extend(workspace_problems(settings, self.ws, paths=paths))
        if problems:
            raise ValidationFailed(problems)
        if who is not None:
            self._check_run_as(record, who, remote)
        return remote, named

    # -- identity ------------------------------------------------------------------------------
    def _identity_meta(self, assignment: Assignment, principal: Principal | None) -> dict[str, Any]:
        """Who asked, and for a new job whom it runs as and who may manage it — decided once, at plan
        time, so apply does exactly what the plan showed even if the team's policy changes in between."""
        if principal is None or self.access is None:
            return {}
        meta: dict[str, Any] = {"principal": principal.to_dict()}
        if assignment.action == "create":
            if not (assignment.settings and assignment.settings.run_as):  # one asked for wins
                meta["run_as"] = self.access.new_job_identity(principal)
            meta["grants"] = self.access.new_job_grants(principal)
        return meta

    def requester_principal(self, record: TaskRecord) -> Principal:
        data = record.meta.get("principal")
        if data:
            return Principal.from_dict(data)
        return self.access.identify(record.requester, record.meta.get("requester_email"))  # type: ignore[union-attr]

    def _check_run_as(self, record: TaskRecord, who: Principal, remote: Remote | None) -> None:
        """A job runs with its run_as identity's data access: choosing someone other than yourself
        follows Databricks' rule for the requester, not for jobagent's (usually stronger) identity."""
        wanted = self.desired_settings(record, remote.settings if remote else None).get("run_as")
        if remote is not None:
            current = remote.settings.get("run_as") or ({"user_name": remote.owner} if remote.owner else None)
            if not wanted or wanted == current:
                return
        self.access.require_run_as(who, wanted)  # type: ignore[union-attr]

    def plan(self, record: TaskRecord, *, check_workspace: bool = True) -> Plan:
        remote = self.validate(record, check_workspace=check_workspace)
        wanted = self.desired_settings(record, remote.settings if remote else None)
        changes = remote.changes(wanted) if remote else diff_settings(None, wanted)
        grants = record.meta.get("grants") or [] if record.action == "create" else []
        changes += [
            FieldChange("+", f'access_control_list["{_grantee(g)}"]', None, g["permission_level"])
            for g in grants
        ]
        name = wanted.get("name", "")
        steps: list[Step] = []
        if record.action == "create":
            granting = "; ".join(f"{_grantee(g)} gets {g['permission_level']}" for g in grants)
            steps.append(
                Step(
                    "create_job",
                    f'create job "{name}" (tagged {TASK_TAG}={record.id})'
                    + (f"; {granting}" if granting else ""),
                )
            )
        elif changes:
            call = update_for(changes, wanted).describe()
            steps.append(Step("update_job", f'update job {record.job_id} "{name}" with jobs/update ({call})'))
        if record.meta.get("run_now"):
            steps.append(Step("run_now", "start a run of the job now"))
        plan = Plan(
            record.action,  # type: ignore[arg-type]
            record.job_id,
            name,
            steps,
            changes,
            fingerprint(remote.settings if remote else None),
            checked_at=time.time() if check_workspace else None,
        )
        if remote is not None:
            plan.base = remote.settings
            plan.drift, plan.drift_since = self._drift(record, remote)
        plan.synopsis = synopsis.describe(plan, wanted)
        plan.text = render_plan(record, plan, runs_as(wanted, remote))
        if not check_workspace:
            plan.text += (
                "\nWorkspace not checked yet (planned offline): apply first checks that the notebooks "
                "and files exist, the node types and Spark versions are available and the name is free."
            )
        log.info("task %s planned: %s %s", record.id, plan.summary, [s.kind for s in steps])
        assumed = "\n".join(f"- {a}" for a in record.assumptions)
        parts = [
            f"Planned for **{record.requester}**: {plan.synopsis}",
            f"```\n{plan.text}\n```",
            f"Assumptions:\n{assumed}" if assumed else "Assumptions: none.",
            not_acted_on(record.unused),
        ]
        self.notes.append(record.thread, "plan", record.id, "\n\n".join(p for p in parts if p))
        return plan

    def _drift(self, record: TaskRecord, remote: Remote) -> tuple[list[FieldChange], dict[str, Any] | None]:
        """What changed on the job outside jobagent since jobagent last applied it (its latest COMPLETE
        task's read-back), and that task: nothing when no such task kept what it left, or nothing
        changed since. Read from the store only: the job itself was just read by validate."""
        last = self.store.find(job_id=record.job_id, state=TaskState.COMPLETE, limit=1)
        applied = last[-1].meta.get("applied") if last else None
        if not applied or applied.get("fingerprint") == fingerprint(remote.settings):
            return [], None
        drift = diff_settings(applied["settings"], remote.settings, remote.owner)
        return (drift, {"task": last[-1].id, "at": applied.get("at")}) if drift else ([], None)

    def desired_settings(self, record: TaskRecord, remote: dict[str, Any] | None) -> dict[str, Any]:
        wanted = JobSettings.from_dict(record.settings or {}).as_dict()
        if "run_as" not in wanted:
            if record.action == "create" and record.meta.get("run_as"):
                wanted["run_as"] = dict(record.meta["run_as"])
            elif remote and remote.get("run_as"):
                wanted["run_as"] = dict(remote["run_as"])  # an update never changes run_as unless asked
        tags = dict(wanted.get("tags") or {})
        if record.action == "create":
            tags[TASK_TAG] = record.id
        elif remote and (remote.get("tags") or {}).get(TASK_TAG):
            tags.setdefault(TASK_TAG, remote["tags"][TASK_TAG])  # keep the provenance tag
        if tags:
            wanted["tags"] = tags
        return wanted

    # -- decisions -----------------------------------------------------------------------------
    def approve(
        self, task_id: str, by: str, *, email: str | None = None, principal: Principal | None = None
    ) -> TaskRecord:
        """PLANNED → APPROVED (compare-and-set, so two clicks cannot both approve). With access checks
        the approver's Databricks identity must be allowed to approve (see agent/access.py); a refusal
        is written to the note and raised as AccessDenied, the task staying PLANNED."""
        extra: dict[str, Any] = {}
        if self.access is not None:
            record = self.store.get(task_id)
            if record.state is not TaskState.PLANNED:
                raise IllegalTransition(task_id, record.state, TaskState.APPROVED, state_hint(record.state))
            try:
                who = principal or self.access.identify(by, email)
                requester = self.requester_principal(record) if record.meta.get("principal") else None
                self.access.require_approver(who, requester, record.action, record.job_id)
            except (AccessDenied, WorkspaceError) as exc:
                self.notes.append(record.thread, "approval refused", task_id, f"**{by}**: {exc}")
                raise
            extra["meta"] = {**record.meta, "approver": who.to_dict()}
        return self._move(
            task_id,
            TaskState.APPROVED,
            by,
            "decision",
            f"Approved by **{by}**.",
            expect=TaskState.PLANNED,
            decided_by=by,
            **extra,
        )

    def reject(self, task_id: str, by: str, reason: str = "") -> TaskRecord:
        body = f"Rejected by **{by}**. {reason}".strip()
        return self._move(task_id, TaskState.REJECTED, by, "decision", body, decided_by=by)

    def _move(
        self,
        task_id: str,
        to: TaskState,
        by: str | None,
        kind: str,
        body: str,
        *,
        expect: TaskState | None = None,
        **fields: Any,
    ) -> TaskRecord:
        """Transition and note together: every change of state leaves its entry, who and why, in the
        thread's note — the trail an auditor reads — right after the store accepted it."""
        record = self.store.transition(task_id, to, by=by, expect=expect, **fields)
        self.notes.append(record.thread, kind, task_id, body)
        return record

    # -- apply ---------------------------------------------------------------------------------
    def apply(self, task_id: str, *, by: str = "worker", resume: bool = False) -> TaskRecord:
        """Re-validate, refuse a stale plan, then execute exactly the planned steps."""
        record = self._start(task_id, by, resume)
        if not record.plan:
            return self._fail(
                task_id, ValidationFailed(["The task has no plan; make a new plan."]), phase="apply", by=by
            )
        plan = Plan.from_dict(record.plan)
        log.info("task %s: applying %d step(s)", task_id, len(plan.steps))
        seen: dict[str, Any] = {}  # "changed" once a step changed the job; "settings" as read back after
        remote: Remote | None = None
        calls: list[str] = []  # the workspace API calls this apply makes, as they went over HTTP
        try:
            with self.ws.recording() as calls:
                fresh = (
                    plan.checked_at is not None and time.time() - plan.checked_at < self.path_recheck_seconds
                )
                remote, named = self._validate(record, paths=not fresh)
                resumed = any(step.status == "done" for step in plan.steps)  # changed by our own hand
                if not resumed and fingerprint(remote.settings if remote else None) != plan.fingerprint:
                    self._recognise_own_change(record, plan, remote)
                    done = [asdict(s) for s in plan.steps if s.status == "done"]
                    self.store.update(task_id, plan=plan.to_dict(), steps=done)
                job_id = record.job_id
                for i, step in enumerate(plan.steps):
                    if step.status == "done":
                        continue
                    job_id = self._execute(record, step, job_id, remote, named, seen)
                    step.status, step.at = "done", utcnow()
                    self.store.update(
                        task_id,
                        job_id=job_id,
                        plan=plan.to_dict(),
                        steps=[asdict(s) for s in plan.steps[: i + 1]],
                    )
        except StalePlan as exc:
            body = _with_calls(str(exc), calls)
            self._move(task_id, TaskState.STALE, by, "stale plan", body, error=str(exc))
            raise
        except (ValidationFailed, WorkspaceError, AccessDenied, ConfigError) as exc:
            self.store.update(task_id, steps=[asdict(s) for s in plan.steps])
            return self._fail(task_id, exc, phase="apply", by=by, calls=calls)
        except Exception as exc:  # never leave a task IN_PROGRESS behind a bug; a retry adopts a created job
            log.exception("task %s: unexpected error while applying", task_id)
            self.store.update(task_id, steps=[asdict(s) for s in plan.steps])
            return self._fail(task_id, unexpected(exc), phase="apply", by=by, calls=calls)
        body = (
            "\n".join(f"- {s.description}: **{s.status}** {_result(s)}" for s in plan.steps)
            or "- nothing to do"
        )
        job = f"\n\nJob {job_id}: {self.ws.job_url(job_id)}" if job_id else ""
        # What this apply left on the job, so a later plan can tell what changed outside jobagent since:
        # the read-back, or — when this apply changed nothing after validate read the job — that read.
        left = seen.get("settings")
        if left is None and remote is not None and "changed" not in seen:
            left = remote.settings
        fields: dict[str, Any] = {}
        if left is not None:
            applied = {"settings": left, "fingerprint": fingerprint(left), "at": utcnow()}
            fields["meta"] = {**self.store.get(task_id).meta, "applied": applied}
        return self._move(
            task_id,
            TaskState.COMPLETE,
            by,
            "applied",
            _with_calls(body, calls) + job,
            job_id=job_id,
            error=None,
            **fields,
        )

    def _start(self, task_id: str, by: str, resume: bool) -> TaskRecord:
        """→ IN_PROGRESS, noted as a first apply, a retry of a failed one (its error quoted: the task's
        `error` is overwritten by the next outcome) or an explicit resume after a crash."""
        record = self.store.get(task_id)
        if resume and record.state is TaskState.IN_PROGRESS:
            kind = "apply resumed"
            body = f"Apply resumed by **{by}** after an interrupted apply; steps already done are not redone."
        elif record.state is TaskState.FAILED:
            earlier = record.error or "(none recorded)"
            kind = "apply retried"
            body = f"Apply started by **{by}**: retry of a failed apply; earlier error: {earlier}"
        elif record.state in APPLYABLE:
            kind, body = "apply started", f"Apply started by **{by}**."
        else:
            hint = "Approve it first." if record.state is TaskState.PLANNED else ""
            raise IllegalTransition(
                task_id, record.state, TaskState.IN_PROGRESS, hint or state_hint(record.state)
            )
        return self._move(task_id, TaskState.IN_PROGRESS, by, kind, body, expect=record.state)

    def _recognise_own_change(self, record: TaskRecord, plan: Plan, remote: Remote | None) -> None:
        """The job changed since the plan: stale, unless it already is exactly what the plan makes (an
        apply killed after its update landed, then resumed) — then that step is done, not redone."""
        step = next((s for s in plan.steps if s.kind in ("update_job", "reset_job")), None)
        if remote is None or step is None or remote.changes(self.desired_settings(record, remote.settings)):
            raise stale(record, plan, remote)
        log.info(
            "task %s: job %s already has the planned settings; not updating again", record.id, record.job_id
        )
        step.status, step.at, step.result = (
            "done",
            utcnow(),
            {"job_id": record.job_id, "already_applied": True},
        )

    def _execute(
        self,
        record: TaskRecord,
        step: Step,
        job_id: int | None,
        remote: Remote | None,
        named: dict[int, dict[str, str]] | None = None,
        seen: dict[str, Any] | None = None,
    ) -> int | None:
        """Run one step; `remote` is the job as validate just read it (None for a create), `named` the
        jobs with the new job's name as validate just listed them. A step that changes the job puts
        "changed" in `seen`, and the job's settings as read back after it under "settings"."""
        seen = {} if seen is None else seen
        if step.kind == "create_job":
            return self._create(record, step, named, seen)
        if step.kind in ("update_job", "reset_job"):  # reset_job: plans recorded before jobs/update
            wanted = self.desired_settings(record, remote.settings if remote else {})
            changes = remote.changes(wanted) if remote else []
            update = update_for(changes, wanted)
            seen.pop("settings", None)
            seen["changed"] = True
            self.ws.update_job(int(job_id or 0), update.new_settings, update.fields_to_remove)
            step.result = {"job_id": job_id, "call": "jobs/update", "changed": update.describe()}
            _keep(seen, self._check_result(record, step, int(job_id or 0), wanted))
            return job_id
        if step.kind == "run_now":
            run_id = self.ws.run_now(int(job_id or 0), idempotency_token=f"{record.id}-run")
            step.result = {"run_id": run_id}
            return job_id
        raise ValueError(f"unknown step {step.kind}")

    def _create(
        self,
        record: TaskRecord,
        step: Step,
        named: dict[int, dict[str, str]] | None = None,
        seen: dict[str, Any] | None = None,
    ) -> int:
        """Create the job once: adopt one an earlier attempt made, and after a create that got no
        answer, look for it (until `settle_seconds`) rather than send a second one.

        `named` is this apply's listing of the jobs with this name (from validate, just before): a job
        tagged with this task in it was created by an earlier attempt. Without it the jobs are listed
        here. A create answered normally needs no look afterwards: it went out once and made one job."""
        wanted = self.desired_settings(record, None)
        name = wanted.get("name") or ""
        if named is not None and name == (record.settings or {}).get("name"):
            found = sorted(j for j, tags in named.items() if tags.get(TASK_TAG) == record.id)
        else:
            found = self.ws.jobs_tagged(name, record.id)
        if found:
            log.info("task %s: job %s was created by an earlier attempt; adopting it", record.id, found[0])
            step.result = {"job_id": found[0], "adopted": True}
            return found[0]
        seen = {} if seen is None else seen
        seen["changed"] = True
        try:
            job_id = self.ws.create_job(JobSettings.from_dict(wanted), record.meta.get("grants") or None)
        except CreateUncertain as exc:
            found = self._await_tagged(name, record.id)
            if not found:
                raise WorkspaceError(
                    f"{exc} It did not appear within {self.settle_seconds:g} s. Apply again in a minute: "
                    "jobagent adopts the job if it was created, and creates it only if it was not."
                ) from exc
            job_id = found[0]
        step.result = {"job_id": job_id}
        log.info("task %s: created job %s", record.id, job_id)
        _keep(seen, self._check_result(record, step, job_id, wanted))
        return job_id

    def _await_tagged(self, name: str, task_id: str) -> list[int]:
        deadline = time.monotonic() + self.settle_seconds
        while True:
            found = self.ws.jobs_tagged(name, task_id)
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _check_result(
        self, record: TaskRecord, step: Step, job_id: int, wanted: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Read the job back: what Databricks stored must be what the plan showed; any difference is
        recorded on the step and in the note, never passed over. Returns the stored settings (None: the
        job was not found), which the task keeps to tell later changes made outside jobagent."""
        job = self.ws.get_job(job_id)
        if job is None:
            return None
        stored = Remote(job.settings.as_dict() if job.settings else {}, job.creator_user_name)
        differs = [
            f"{c.path}: planned {_shown(c.new)}, stored {_shown(c.old)}" for c in stored.changes(wanted)
        ]
        if differs:
            step.result["differs_from_plan"] = differs
            log.warning("task %s: job %s differs from the plan: %s", record.id, job_id, differs)
            self.notes.append(
                record.thread,
                "applied differently",
                record.id,
                "Databricks stored the job differently from the plan (read back after the change):\n"
                + "\n".join(f"- {line}" for line in differs),
            )
        return stored.settings

    def _fail(
        self,
        task_id: str,
        exc: Exception,
        *,
        phase: str,
        by: str | None = None,
        calls: list[str] | None = None,
    ) -> TaskRecord:
        log.warning("task %s failed in %s: %s", task_id, phase, exc)
        body = _with_calls(str(exc), calls) if calls is not None else str(exc)
        return self._move(task_id, TaskState.FAILED, by, f"failed ({phase})", body, error=str(exc))


def _keep(seen: dict[str, Any], settings: dict[str, Any] | None) -> None:
    if settings is not None:
        seen["settings"] = settings


def stale(record: TaskRecord, plan: Plan, remote: Remote | None) -> StalePlan:
    """StalePlan, its message extended with what changed outside jobagent between the plan's read of the
    job (`plan.base`) and apply's: the Slack reply, `status` and the note all say it."""
    if plan.base is None or remote is None:
        what = "(This plan did not keep the job as it read it, so what changed cannot be listed.)"
    elif outside := diff_settings(plan.base, remote.settings, remote.owner):
        listed = "\n".join(render_changes(outside, "  "))
        what = f"Changed outside jobagent since the plan was made:\n{listed}"
    else:
        what = "(Only values Databricks fills in by itself differ from what the plan read.)"
    return StalePlan(record.id, record.job_id, what)


def _with_calls(body: str, calls: list[str]) -> str:
    """A note body followed by the workspace API calls that produced it, as sent."""
    listed = "\n".join(f"- `{c}`" for c in calls) or "- none"
    return f"{body}\n\nAPI calls ({len(calls)}):\n{listed}"


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


def runs_as(wanted: dict[str, Any], remote: Remote | None) -> str:
    """Whose data access the job will run with, in words, for the plan."""
    run_as = wanted.get("run_as") or {}
    who = run_as.get("user_name") or run_as.get("service_principal_name")
    if remote is not None:
        before = (remote.settings.get("run_as") or {}) or (
            {"user_name": remote.owner} if remote.owner else {}
        )
        was = before.get("user_name") or before.get("service_principal_name")
        if not who or run_as == before:
            return f"Runs as: {was or 'its owner'} (unchanged)."
        return f"Runs as: {who} (changed from {was or 'its owner'})."
    return f"Runs as: {who}." if who else "Runs as: jobagent's own identity (the job's creator)."


def _grantee(entry: dict[str, str]) -> str:
    return entry.get("user_name") or entry.get("service_principal_name") or entry.get("group_name") or "?"


def render_plan(record: TaskRecord, plan: Plan, identity: str = "") -> str:
    head = (
        f'create job "{plan.job_name}"'
        if plan.action == "create"
        else f'update job {plan.job_id} "{plan.job_name}"'
    )
    lines = [*drift_block(plan), f"Task {record.id} · {head}", ""]
    if plan.changes:
        marker = "+" if plan.action == "create" else "~"
        ident = f'job "{plan.job_name}"' + (f" ({plan.job_id})" if plan.job_id else "")
        marks = [_against_drift(c, plan.drift) for c in plan.changes]
        lines += [
            f"  {marker} {ident}",
            *(line + mark for line, mark in zip(render_changes(plan.changes), marks, strict=True)),
            "",
        ]
    else:
        lines += ["  No changes: the job already matches these settings.", ""]
    if identity:
        lines += [identity, ""]
    lines.append("Steps:")
    lines += [f"  {i}. {s.description}" for i, s in enumerate(plan.steps, 1)] or ["  (none)"]
    lines += ["", plan.summary]
    return "\n".join(lines)


def drift_block(plan: Plan) -> list[str]:
    """The plan's opening warning: changes made to the job outside jobagent since it last applied it,
    apart from the requested ones ([] when there are none)."""
    if not plan.drift:
        return []
    since = plan.drift_since or {}
    at = str(since.get("at") or "")
    when = f" ({at[:16].replace('T', ' ')} UTC)" if at else ""
    touched = {c.path for c in plan.changes} & {d.path for d in plan.drift}
    return [
        f"⚠ Job {plan.job_id} was changed outside jobagent since task {since.get('task')} applied it{when}:",
        *render_changes(plan.drift),
        "  A requested change below that undoes or overrides one of these says so."
        if touched
        else "  The requested changes below leave these as they are.",
        "",
    ]


def _against_drift(change: FieldChange, drift: list[FieldChange]) -> str:
    """The mark " (reverts an outside change)" for a requested change that puts back the value a change made
    outside jobagent replaced, " (overrides an outside change)" for one that changes it again."""
    outside = next((d for d in drift if d.path == change.path), None)
    if outside is None:
        return ""
    return " (reverts an outside change)" if change.new == outside.old else " (overrides an outside change)"


def _shown(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _quote(text: str) -> str:
    return text.strip().replace("\n", "\n> ")


def _result(step: Step) -> str:
    return ", ".join(f"{k}={v}" for k, v in step.result.items())
