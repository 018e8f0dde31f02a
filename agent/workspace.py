"""The one module that talks to `databricks.sdk.WorkspaceClient`; everything else goes through it.

It also turns the SDK's typed errors into `WorkspaceError`s whose messages say what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk import errors as dbx
from databricks.sdk.service.jobs import Job, JobSettings

from agent.errors import WorkspaceError

log = logging.getLogger(__name__)
T = TypeVar("T")

TASK_TAG = "jobagent_task"  # tag put on every job the agent creates, so a retry finds it


def explain(exc: Exception, doing: str) -> WorkspaceError:
    """A user-facing message for an SDK error raised while `doing` something."""
    detail = str(exc).strip() or type(exc).__name__
    if isinstance(exc, dbx.Unauthenticated):
        hint = "Check DATABRICKS_HOST and your token or profile (`databricks auth profiles`)."
    elif isinstance(exc, dbx.PermissionDenied):
        hint = "Your identity lacks permission; ask a workspace admin for CAN_MANAGE on the job."
    elif isinstance(exc, dbx.NotFound):
        hint = "It does not exist (any more) in this workspace."
    elif isinstance(exc, dbx.BadRequest):
        hint = "The workspace rejected the settings; fix them and plan again."
    elif isinstance(exc, dbx.TooManyRequests):
        hint = "The workspace is rate-limiting us even after retries; try again in a few minutes."
    elif isinstance(exc, dbx.InternalError | dbx.TemporarilyUnavailable | dbx.DeadlineExceeded):
        hint = "The workspace had a server error; nothing is lost — apply again to retry safely."
    elif isinstance(exc, TimeoutError | ConnectionError | OSError):
        hint = "The workspace could not be reached; check the host and network, then apply again."
    else:
        hint = "Apply again to retry; the agent will not create the job twice."
    return WorkspaceError(f"Databricks said, while {doing}: {detail}. {hint}")


class Workspace:
    """Jobs, paths and compute lookups the Worker needs, over a real `WorkspaceClient`."""

    def __init__(self, client: WorkspaceClient, label: str = ""):
        self.client = client
        self.label = label or client.config.host

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except dbx.DatabricksError as exc:
            log.warning("workspace call failed while %s: %s", doing, type(exc).__name__)
            raise explain(exc, doing) from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.warning("workspace unreachable while %s: %s", doing, type(exc).__name__)
            raise explain(exc, doing) from exc

    @property
    def host(self) -> str:
        return (self.client.config.host or "").rstrip("/")

    def job_url(self, job_id: int) -> str:
        return f"{self.host}/jobs/{job_id}"

    # -- jobs --------------------------------------------------------------------------------------
    def get_job(self, job_id: int) -> Job | None:
        try:
            return self.client.jobs.get(job_id)
        except dbx.NotFound:
            return None
        except dbx.InvalidParameterValue as exc:
            if "does not exist" in str(exc):
                return None
            raise explain(exc, f"reading job {job_id}") from exc
        except dbx.DatabricksError as exc:
            raise explain(exc, f"reading job {job_id}") from exc

    def jobs_named(self, name: str) -> dict[int, dict[str, str]]:
        """Jobs with exactly this name, as {job_id: tags} (one paginated list call)."""

        def find() -> dict[int, dict[str, str]]:
            return {
                j.job_id: dict((j.settings.tags if j.settings else None) or {})
                for j in self.client.jobs.list(name=name)
                if j.job_id is not None
            }

        return self._call(f"listing jobs named {name!r}", find)

    def jobs_tagged(self, name: str, task_id: str) -> list[int]:
        """Ids of jobs named `name` that carry this task's tag, lowest (oldest) first."""
        return sorted(j for j, tags in self.jobs_named(name).items() if tags.get(TASK_TAG) == task_id)

    def create_job(self, settings: JobSettings) -> int:
        body = settings.as_dict()
        resp = self._call(f"creating job {settings.name!r}", lambda: self.client.jobs.create(**_kwargs(body)))
        return int(resp.job_id)

    def reset_job(self, job_id: int, settings: JobSettings) -> None:
        self._call(f"updating job {job_id}", lambda: self.client.jobs.reset(job_id, settings))

    def delete_job(self, job_id: int) -> None:
        self._call(f"deleting job {job_id}", lambda: self.client.jobs.delete(job_id))

    def run_now(self, job_id: int, idempotency_token: str | None = None) -> int:
        resp = self._call(
            f"starting a run of job {job_id}",
            lambda: self.client.jobs.run_now(job_id, idempotency_token=idempotency_token),
        )
        return int(resp.run_id)

    # -- prerequisites -----------------------------------------------------------------------------
    def path_exists(self, path: str) -> bool:
        candidates = [path]
        if path.startswith("/Workspace/"):
            candidates.append(path[len("/Workspace") :])
        for candidate in candidates:
            try:
                self.client.workspace.get_status(candidate)
                return True
            except dbx.NotFound:
                continue
            except dbx.DatabricksError as exc:
                raise explain(exc, f"checking that {path} exists") from exc
        return False

    @cached_property
    def node_types(self) -> set[str]:
        resp = self._call("listing node types", self.client.clusters.list_node_types)
        return {n.node_type_id for n in resp.node_types or [] if n.node_type_id}

    @cached_property
    def spark_versions(self) -> set[str]:
        resp = self._call("listing Spark versions", self.client.clusters.spark_versions)
        return {v.key for v in resp.versions or [] if v.key}

    def cluster_exists(self, cluster_id: str) -> bool:
        return self._exists(f"looking up cluster {cluster_id}", lambda: self.client.clusters.get(cluster_id))

    def warehouse_exists(self, warehouse_id: str) -> bool:
        return self._exists(
            f"looking up SQL warehouse {warehouse_id}", lambda: self.client.warehouses.get(warehouse_id)
        )

    @staticmethod
    def _exists(doing: str, get: Callable[[], Any]) -> bool:
        """Databricks answers an unknown id with 404 or with 400 "… does not exist": both mean no."""
        try:
            get()
            return True
        except (dbx.NotFound, dbx.InvalidParameterValue):
            return False
        except dbx.DatabricksError as exc:
            raise explain(exc, doing) from exc


def _kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """`jobs.create` takes the settings as keyword arguments of SDK types."""
    settings = JobSettings.from_dict(body)
    return {name: getattr(settings, name) for name in body}
