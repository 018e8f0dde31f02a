"""Every error a user can see, in one place; each docstring says what the user is told."""

from __future__ import annotations


class JobAgentError(Exception):
    """Base class: the message is written for the person who asked, and says what to do next."""


class ConfigError(JobAgentError):
    """A setting is missing or invalid; the message names the environment variable."""


class TaskNotFound(JobAgentError):
    """No task with that id exists in the state store."""

    def __init__(self, task_id: str):
        super().__init__(f"No task {task_id!r}. `jobagent status` lists the known tasks.")
        self.task_id = task_id


class IllegalTransition(JobAgentError):
    """The task is not in a state that allows this step (e.g. applying a rejected plan)."""

    def __init__(self, task_id: str, current: str, wanted: str, hint: str = ""):
        msg = f"Task {task_id} is {current}; it cannot move to {wanted}."
        super().__init__(f"{msg} {hint}".strip())
        self.task_id, self.current, self.wanted = task_id, current, wanted


class ValidationFailed(JobAgentError):
    """The settings or the workspace fail checks; every problem is listed, not just the first."""

    def __init__(self, problems: list[str]):
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Validation failed ({len(problems)} problem{'s' * (len(problems) != 1)}):\n{lines}")
        self.problems = problems


class StalePlan(JobAgentError):
    """The job changed after the plan was shown; nothing was applied and a new plan is needed."""

    def __init__(self, task_id: str, job_id: int | None, what_changed: str = ""):
        super().__init__(
            f"The plan for task {task_id} is stale: job {job_id} changed since the plan was made. "
            "Nothing was applied. Make a new plan and review it."
            + (f"\n{what_changed}" if what_changed else "")
        )
        self.task_id, self.job_id = task_id, job_id


class WorkspaceError(JobAgentError):
    """The Databricks workspace refused or failed a call; the message says which and what to try."""


class NeedsInput(JobAgentError):
    """The request lacks something the agent cannot assume; the message is the question to answer."""

    def __init__(self, questions: list[str]):
        super().__init__("\n".join(questions))
        self.questions = questions


class CreateUncertain(WorkspaceError):
    """A `jobs/create` got no answer: the job may or may not exist; the Worker looks before it resends."""


class AccessDenied(JobAgentError):
    """Databricks permissions (or the team's approval rules) do not let this person do this; the message
    names the person, what they lack, and whom to ask. Nothing was changed."""


class StateUnreadable(JobAgentError):
    """A state file cannot be read (truncated, not JSON, not a task): it is never reset or overwritten;
    the message names the file and the `jobagent state check|repair` commands."""

    def __init__(self, path: object, reason: str):
        super().__init__(
            f"The state file {path} cannot be read ({reason}). Nothing was changed and it will not be "
            "overwritten. Run `jobagent state check` to list every damaged file, and `jobagent state repair` "
            "to move damaged files aside (a copy is kept) and rebuild the indexes."
        )
        self.path, self.reason = path, reason


class StateWriteFailed(JobAgentError):
    """Saving to the state store failed (disk full, permissions): nothing was saved, memory and disk are
    as they were, and the step that needed the write did not happen."""

    def __init__(self, where: object, exc: BaseException):
        super().__init__(
            f"Could not save to the state store at {where} ({exc}). Nothing was changed; free disk space "
            "or fix the permissions, then try again."
        )
        self.where = where
