"""The one module that talks to `databricks.sdk.WorkspaceClient`; everything else goes through it.

It also turns the SDK's typed errors into `WorkspaceError`s whose messages say what to do.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk import errors as dbx
from databricks.sdk.retries import retried
from databricks.sdk.service.jobs import Job, JobAccessControlRequest, JobSettings

from agent.errors import CreateUncertain, WorkspaceError
from agent.identity import Principal, looks_like_application_id
from agent.workspace_cache import DEFAULT_TTL, ComputeCache

log = logging.getLogger(__name__)
T = TypeVar("T")

TASK_TAG = "jobagent_task"  # tag put on every job the agent creates, so a retry finds it
PAGED_ARRAYS = ("tasks", "job_clusters", "environments", "parameters")  # jobs/get pages these by 100
UNREACHABLE_MEMORY = 30.0  # seconds an unreachable workspace fails fast before it is tried again
_CONFIG_SUFFIX = re.compile(r"[.\s]*\bConfig: host=.*$", re.DOTALL)


def explain(exc: Exception, doing: str) -> WorkspaceError:
    """A user-facing message for an SDK error raised while `doing` something."""
    # The SDK appends its configuration ("Config: host=…, auth_type=…") to auth errors: not for users.
    detail = _CONFIG_SUFFIX.sub("", str(exc)).strip() or type(exc).__name__
    if isinstance(exc, dbx.Unauthenticated):
        hint = "Check DATABRICKS_HOST and your token or profile (`databricks auth profiles`)."
    elif isinstance(exc, dbx.PermissionDenied):
        hint = (
            "jobagent's own Databricks identity lacks this permission; ask a workspace admin to grant it "
            "(CAN_MANAGE on the job; to set whom a job runs as: admin for a user, the Service Principal "
            "User role for a service principal)."
        )
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
    """Jobs, paths and compute lookups the Worker needs, over a real `WorkspaceClient`.

    Node types and Spark versions are kept in `cache_dir` (one file per workspace, keyed by `cache_key`,
    default the host) for `cache_ttl` seconds, see agent/workspace_cache.py; without `cache_dir` they are
    fetched once per Workspace."""

    def __init__(
        self,
        client: WorkspaceClient,
        label: str = "",
        *,
        cache_dir: Path | None = None,
        cache_key: str | None = None,
        cache_ttl: float = DEFAULT_TTL,
    ):
        self.client = client
        self.label = label or client.config.host
        self._down: tuple[float, WorkspaceError] | None = None  # (until, error) after it was unreachable
        self.compute = ComputeCache(cache_dir, cache_key or self.host or self.label, cache_ttl)
        self._journals: dict[int, list[list[str]]] = {}  # thread id → the recordings open on it
        self._on_the_wire = _listen(client, self._heard)

    # -- the journal of API calls ----------------------------------------------------------------
    @contextmanager
    def recording(self) -> Iterator[list[str]]:
        """The API calls this thread makes inside the block, one line each as it went over HTTP:
        `GET /api/2.2/jobs/get?job_id=5 → 200` (a retried request is a line per attempt). Method, path,
        query and status only: never a body or a header, so never a token."""
        calls: list[str] = []
        open_here = self._journals.setdefault(threading.get_ident(), [])
        open_here.append(calls)
        try:
            yield calls
        finally:
            open_here[:] = [c for c in open_here if c is not calls]  # by identity: equal lists differ
            if not open_here:
                self._journals.pop(threading.get_ident(), None)

    def _journal(self, line: str) -> None:
        for calls in self._journals.get(threading.get_ident(), ()):
            calls.append(line)

    def _heard(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A `requests` response hook: runs on the thread that sent the request, once per response."""
        if self._journals.get(threading.get_ident()):
            self._journal(f"{response.request.method} {response.request.path_url} → {response.status_code}")

    def _outcome(self, doing: str, outcome: str, *, answered: bool = True) -> None:
        """Journal what the response hook cannot see: a call that got no HTTP answer, or any call when
        the SDK's session could not be found (then each call is described as `_call` saw it)."""
        if not self._on_the_wire:
            self._journal(f"{doing} → {outcome}")
        elif not answered:
            self._journal(f"(no answer while {doing}: {outcome})")

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        """Run one SDK call, turning its errors into messages; once the workspace proved unreachable,
        later calls fail at once for a while instead of each waiting out the SDK's retry budget."""
        if self._down and self._down[0] > time.monotonic():
            raise self._down[1]
        try:
            result = fn()
        except dbx.DatabricksError as exc:
            log.warning("workspace call failed while %s: %s", doing, type(exc).__name__)
            self._outcome(doing, type(exc).__name__)
            raise explain(exc, doing) from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            if isinstance(exc.__cause__, dbx.DatabricksError):  # e.g. throttled until the budget ran out
                self._outcome(doing, type(exc.__cause__).__name__)
                raise explain(exc.__cause__, doing) from exc
            log.warning("workspace unreachable while %s: %s", doing, type(exc).__name__)
            self._outcome(doing, type(exc).__name__, answered=False)
            budget = self.client.config.retry_timeout_seconds or 300
            error = WorkspaceError(
                f"Databricks at {self.host or '(no host)'} did not answer while {doing} "
                f"(gave up after about {budget} s). Check DATABRICKS_HOST, your network (VPN, proxy, "
                "firewall) and that the workspace is running, then try again; JOBAGENT_DATABRICKS_TIMEOUT "
                "sets how long to wait."
            )
            self._down = (time.monotonic() + UNREACHABLE_MEMORY, error)
            raise error from exc
        self._outcome(doing, "ok")
        return result

    @property
    def host(self) -> str:
        return (self.client.config.host or "").rstrip("/")

    def job_url(self, job_id: int) -> str:
        return f"{self.host}/jobs/{job_id}"

    # -- jobs --------------------------------------------------------------------------------------
    def get_job(self, job_id: int) -> Job | None:
        """The whole job: `jobs/get` returns 100 items of each array per page, the rest on later pages
        (arrays with nothing more are empty there), so pages are read until none is left."""
        return self._call(f"reading job {job_id}", lambda: self._read_job(job_id))

    def _read_job(self, job_id: int) -> Job | None:
        try:
            job = self.client.jobs.get(job_id)
            token = job.next_page_token
            while token and job.settings:
                page = self.client.jobs.get(job_id, page_token=token)
                for name in PAGED_ARRAYS:
                    more = getattr(page.settings, name, None) if page.settings else None
                    if more:
                        setattr(job.settings, name, (getattr(job.settings, name) or []) + more)
                token = page.next_page_token
            job.next_page_token = None
            return job
        except dbx.NotFound:
            return None
        except dbx.InvalidParameterValue as exc:
            if "does not exist" in str(exc):
                return None
            raise

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

    def create_job(
        self, settings: JobSettings, access_control_list: list[dict[str, str]] | None = None
    ) -> int:
        """Send `jobs/create` at most once per answer we could not read.

        The SDK re-sends a request that timed out or lost its connection; for a create that can make
        two jobs when the first one lands late, and `jobs/create` has no idempotency token. So the
        create goes through a copy of the client whose retry budget is spent by the first attempt,
        and only refusals that prove nothing was created (429, 503) are retried here; anything else
        raises CreateUncertain and the Worker looks for the job before it ever sends another create.
        """
        body = settings.as_dict()
        doing = f"creating job {settings.name!r}"
        acl = [JobAccessControlRequest.from_dict(e) for e in access_control_list or []] or None

        def send() -> int:
            return int(self._send_once.jobs.create(**_kwargs(body), access_control_list=acl).job_id)

        budget = timedelta(seconds=self.client.config.retry_timeout_seconds or 300)
        try:
            job_id = retried(is_retryable=_refused_unprocessed, timeout=budget)(send)()
        except dbx.DatabricksError as exc:
            self._outcome(doing, type(exc).__name__)
            raise explain(exc, doing) from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            cause = exc.__cause__
            if isinstance(cause, dbx.DatabricksError):  # throttled until the budget ran out
                self._outcome(doing, type(cause).__name__)
                raise explain(cause, doing) from exc
            self._outcome(doing, f"{type(exc).__name__}; the create may still land", answered=False)
            raise CreateUncertain(
                f"Databricks did not answer in time while {doing}; the job may still be created. "
                "Nothing was sent again."
            ) from exc
        self._outcome(doing, "ok")
        return job_id

    @cached_property
    def _send_once(self) -> WorkspaceClient:
        config = self.client.config.copy()
        config.retry_timeout_seconds = 1  # the SDK reads 0 as its 300 s default; 1 s ends after one try
        client = WorkspaceClient(config=config)
        if self._on_the_wire:
            _listen(client, self._heard)
        return client

    def reset_job(self, job_id: int, settings: JobSettings) -> None:
        self._call(f"updating job {job_id}", lambda: self.client.jobs.reset(job_id, settings))

    def update_job(self, job_id: int, new_settings: dict[str, Any], fields_to_remove: list[str]) -> None:
        """A partial `jobs/update`: fields it does not name stay exactly as they are on the job."""
        self._call(
            f"updating job {job_id}",
            lambda: self.client.jobs.update(
                job_id,
                new_settings=JobSettings.from_dict(new_settings) if new_settings else None,
                fields_to_remove=fields_to_remove or None,
            ),
        )

    def delete_job(self, job_id: int) -> None:
        self._call(f"deleting job {job_id}", lambda: self.client.jobs.delete(job_id))

    def run_now(self, job_id: int, idempotency_token: str | None = None) -> int:
        resp = self._call(
            f"starting a run of job {job_id}",
            lambda: self.client.jobs.run_now(job_id, idempotency_token=idempotency_token),
        )
        return int(resp.run_id)

    # -- identities and permissions ------------------------------------------------------------
    def current_principal(self) -> Principal:
        """Who jobagent's own credentials are (SCIM Me); a service principal's user name is its app id."""
        me = self._call("asking who jobagent is (SCIM Me)", self.client.current_user.me)
        kind = "service_principal" if looks_like_application_id(me.user_name or "") else "user"
        return _principal(kind, me.user_name or "", me.display_name, me.groups, me.active)

    def find_user(self, user_name: str) -> Principal | None:
        """The workspace user with this user name (SCIM matches it case-insensitively), or None."""

        def find() -> Principal | None:
            found = self.client.users.list(filter=f'userName eq "{user_name}"')
            user = next(iter(found), None)  # the first page holds it; no second request
            if user is None:
                return None
            return _principal(
                "user", user.user_name or user_name, user.display_name, user.groups, user.active
            )

        return self._call(f"looking up the Databricks user {user_name}", find)

    def find_service_principal(self, application_id: str) -> Principal | None:
        def find() -> Principal | None:
            found = self.client.service_principals.list(filter=f'applicationId eq "{application_id}"')
            sp = next(iter(found), None)
            if sp is None:
                return None
            return _principal(
                "service_principal",
                sp.application_id or application_id,
                sp.display_name,
                sp.groups,
                sp.active,
            )

        return self._call(f"looking up service principal {application_id}", find)

    def job_permissions(self, job_id: int) -> list[tuple[str, str, str]]:
        """The job's access control list as (kind, name, level) — kind user, group or service_principal —
        one row per level held, inherited ones (e.g. the admins group's) included."""

        def read() -> list[tuple[str, str, str]]:
            got = self.client.jobs.get_permissions(str(job_id))
            rows = []
            for entry in got.access_control_list or []:
                if entry.user_name:
                    kind, name = "user", entry.user_name
                elif entry.service_principal_name:
                    kind, name = "service_principal", entry.service_principal_name
                elif entry.group_name:
                    kind, name = "group", entry.group_name
                else:
                    continue
                for perm in entry.all_permissions or []:
                    if perm.permission_level:
                        rows.append((kind, name, perm.permission_level.value))
            return rows

        return self._call(f"reading the permissions of job {job_id}", read)

    def service_principal_users(self, application_id: str) -> set[str]:
        """Who holds the Service Principal User role on it, as "users/<name>", "groups/<name>",
        "servicePrincipals/<app id>" (the rule set of that service principal)."""
        account = self.client.config.account_id or "-"
        name = f"accounts/{account}/servicePrincipals/{application_id}/ruleSets/default"

        def read() -> set[str]:
            rules = self.client.account_access_control_proxy.get_rule_set(name, "")
            return {
                p
                for rule in rules.grant_rules or []
                if rule.role == "roles/servicePrincipal.user"
                for p in rule.principals or []
            }

        return self._call(f"reading who may use service principal {application_id}", read)

    # -- prerequisites -----------------------------------------------------------------------------
    def path_exists(self, path: str) -> bool:
        candidates = [path]
        if path.startswith("/Workspace/"):
            candidates.append(path[len("/Workspace") :])
        return any(
            self._exists(f"checking that {path} exists", lambda c=c: self.client.workspace.get_status(c))
            for c in candidates
        )

    @property
    def node_types(self) -> frozenset[str]:
        return self.compute.get("node_types", self._list_node_types)

    @property
    def spark_versions(self) -> frozenset[str]:
        return self.compute.get("spark_versions", self._list_spark_versions)

    def has_node_type(self, node_type_id: str) -> bool:
        """Whether the workspace offers it (a kept list that lacks it is fetched again first)."""
        return self.compute.contains("node_types", node_type_id, self._list_node_types)

    def has_spark_version(self, key: str) -> bool:
        return self.compute.contains("spark_versions", key, self._list_spark_versions)

    def _list_node_types(self) -> set[str]:
        resp = self._call("listing node types", self.client.clusters.list_node_types)
        return {n.node_type_id for n in resp.node_types or [] if n.node_type_id}

    def _list_spark_versions(self) -> set[str]:
        resp = self._call("listing Spark versions", self.client.clusters.spark_versions)
        return {v.key for v in resp.versions or [] if v.key}

    def cluster_exists(self, cluster_id: str) -> bool:
        return self._exists(f"looking up cluster {cluster_id}", lambda: self.client.clusters.get(cluster_id))

    def warehouse_exists(self, warehouse_id: str) -> bool:
        return self._exists(
            f"looking up SQL warehouse {warehouse_id}", lambda: self.client.warehouses.get(warehouse_id)
        )

    def _exists(self, doing: str, get: Callable[[], Any]) -> bool:
        """Databricks answers an unknown id with 404 or with 400 "… does not exist": both mean no."""

        def probe() -> bool:
            try:
                get()
                return True
            except (dbx.NotFound, dbx.InvalidParameterValue):
                return False

        return self._call(doing, probe)


def _listen(client: WorkspaceClient, hook: Callable[..., None]) -> bool:
    """Add a `requests` response hook to the session the SDK sends `client`'s calls through; False
    when that session cannot be found.

    The SDK has no public hook on its HTTP traffic, and its debug log carries request bodies. Its session
    is private (`api_client._api_client._session`, databricks-sdk 0.x): this is the one place jobagent
    reaches into the SDK's internals. Should that change, the journal falls back to describing each call
    as `Workspace._call` saw it."""
    base = getattr(getattr(client, "api_client", None), "_api_client", None)
    hooks = getattr(getattr(base, "_session", None), "hooks", None)  # a requests.Session's
    if not isinstance(hooks, dict):
        log.info("databricks-sdk's HTTP session not found: API calls are journaled as described, not as sent")
        return False
    hooks.setdefault("response", []).append(hook)
    return True


def _refused_unprocessed(err: BaseException) -> str | None:
    """Retry a create only when the service said it did not process it (429 / 503, as the SDK's own
    client raises them once its one-try budget is spent)."""
    cause = err.__cause__ if isinstance(err, TimeoutError) else err
    if isinstance(cause, dbx.TooManyRequests | dbx.TemporarilyUnavailable):
        return "refused before processing"
    return None


def _principal(kind: str, name: str, display: str | None, groups: Any, active: bool | None) -> Principal:
    names = frozenset(g.display for g in groups or [] if getattr(g, "display", None))
    return Principal(kind, name, display or "", names, active is not False)  # type: ignore[arg-type]


def _kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """`jobs.create` takes the settings as keyword arguments of SDK types."""
    settings = JobSettings.from_dict(body)
    return {name: getattr(settings, name) for name in body}
