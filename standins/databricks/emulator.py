"""`WorkspaceEmulator`: a local Databricks workspace over HTTP, and `serve()` for `jobagent emulator`.

In-process use (tests, `jobagent demo`): `with WorkspaceEmulator() as emu: emu.client().jobs.list()`.
Out of process: `serve(port, data_path)`, then point DATABRICKS_HOST / DATABRICKS_TOKEN at it, add people
through `POST /_emulator/principals` and drive faults through `POST /_emulator/faults`.
"""

from __future__ import annotations

import copy
import logging
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from standins.databricks import job_acl, permissions, principals
from standins.databricks.faults import FaultInjector
from standins.databricks.routes import build_routes
from standins.databricks.seed import DEFAULT_USER, seed
from standins.databricks.server import EmulatorServer, control, dispatch
from standins.databricks.state import Store, empty_state
from standins.databricks.workspace_files import put_object

log = logging.getLogger("standins.databricks")
ROOT_DIRS = ("/", "/Users", "/Shared", "/Repos")


class WorkspaceEmulator:
    """A Databricks workspace (Jobs 2.2, Permissions, SCIM, Workspace, Clusters, SQL warehouses) on
    127.0.0.1.

    Each bearer token belongs to one user or service principal and requests are made as it; `token`
    is `user_name`'s, a workspace admin. `add_user` / `add_service_principal` hand out more; an unknown
    token gets 403 "Invalid access token.". Job permissions and run_as rules are enforced as the service
    does. Runs advance one step per runs/get poll and finish after `run_steps` polls. With `data_path`,
    state (people and permissions included) survives restarts.
    """

    token = "dapi-local"

    def __init__(
        self,
        *,
        data_path: Path | None = None,
        seed: bool = True,
        run_steps: int = 3,
        user_name: str = DEFAULT_USER,
    ):
        self.user_name = user_name
        self.run_steps = max(0, int(run_steps))
        self.faults = FaultInjector()
        self.calls: list[tuple[str, str]] = []
        self.store = Store(data_path)
        self._routes = build_routes(self.run_steps)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._idle = threading.Condition()
        self._in_flight = 0
        with self.store.transaction():  # reads data_path when it exists
            if not self.store.loaded:
                self._fill(seed)
            principals.ensure_default(self.store, self.user_name, self.token)

    def _fill(self, with_seed: bool) -> None:
        self.store.data = empty_state()
        principals.ensure_default(self.store, self.user_name, self.token)
        for path in ROOT_DIRS:
            put_object(self.store, path, "DIRECTORY", b"")
        if with_seed:
            seed(self.store, self.user_name)
        self.store.mark_dirty()

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Bind and serve in a daemon thread; the socket is listening when this returns."""
        if self._server is not None:
            return self.url
        self._server = EmulatorServer((host, port), self)
        bound_host, bound_port = self._server.server_address[:2]
        self._url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"databricks-emulator-{bound_port}",
            daemon=True,
        )
        self._thread.start()
        log.info("Databricks workspace emulator listening on %s", self._url)
        return self._url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("Databricks workspace emulator at %s stopped", self._url)

    def __enter__(self) -> WorkspaceEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("The emulator is not started; call start() first")
        return self._url

    def client(self, token: str | None = None, **config: Any):
        """A real `WorkspaceClient` for this emulator as `token`'s principal (default: `self.token`, the
        admin `user_name`), with short timeouts so failures surface fast.

        Keyword arguments go to `databricks.sdk.config.Config` (e.g. `retry_timeout_seconds=5`);
        `WorkspaceClient(...)` itself does not accept the timeout options.
        """
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        options = {"retry_timeout_seconds": 30, "http_timeout_seconds": 15, **config}
        return WorkspaceClient(
            config=Config(host=self.url, token=token or self.token, auth_type="pat", **options)
        )

    # -- request accounting (called by the HTTP handler) --------------------------------------------
    def _process(self, method: str, path: str, query: dict, raw: bytes, oversize: bool, headers: Any):
        if path.startswith("/_emulator/"):
            return control(self, method, path, raw)
        with self._idle:
            self.calls.append((method, path))
            self._in_flight += 1
        try:
            return dispatch(self, method, path, query, raw, oversize, headers)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being processed (e.g. one delayed by injected latency)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def reset_calls(self) -> None:
        with self._idle:
            self.calls.clear()

    def reset(self, *, seed: bool = True) -> None:
        """Back to a fresh workspace: state, faults and recorded calls."""
        with self.store.transaction():
            self._fill(seed)
        self.faults.clear()
        self.reset_calls()

    # -- test and demo helpers -------------------------------------------------------------------------
    def add_notebook(self, path: str, source: str = "", language: str = "PYTHON") -> None:
        with self.store.transaction():
            put_object(
                self.store,
                path,
                "NOTEBOOK",
                source.encode("utf-8"),
                language=language.upper(),
                make_parents=True,
                overwrite=True,
            )

    def add_file(self, path: str, content: bytes | str = b"") -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with self.store.transaction():
            put_object(self.store, path, "FILE", data, make_parents=True, overwrite=True)

    def add_user(
        self,
        user_name: str,
        *,
        admin: bool = False,
        groups: Iterable[str] = (),
        display_name: str = "",
        active: bool = True,
    ) -> str:
        """Create (or update: admin, groups, display name, active) a user; returns a new token for it."""
        with self.store.transaction():
            return principals.add_user(
                self.store, user_name, admin=admin, groups=groups, display_name=display_name, active=active
            )

    def add_service_principal(
        self,
        display_name: str,
        *,
        application_id: str | None = None,
        admin: bool = False,
        groups: Iterable[str] = (),
        users: Iterable[str] = (),
        active: bool = True,
    ) -> tuple[str, str]:
        """Create (or update) a service principal; `users` (user names, or `groups/<name>`) get its Service
        Principal User role, `user_name` its Manager role as its creator. Returns (application_id, token)."""
        with self.store.transaction():
            return principals.add_service_principal(
                self.store,
                display_name,
                application_id=application_id,
                admin=admin,
                groups=groups,
                users=users,
                active=active,
                manager=principals.USER + self.user_name,
            )

    def add_group(self, name: str, members: Iterable[str] = ()) -> None:
        """Create a group (if needed) and add members: user names, application ids, `groups/<name>`."""
        with self.store.transaction():
            principals.add_group(self.store, name, members)

    def set_job_permissions(self, job_id: int, acl: list[dict[str, Any]]) -> dict[str, Any]:
        """Grant directly, as the admin `user_name` with PATCH's semantics; returns the GET shape."""
        with self.store.transaction():
            job = self._job(job_id)
            admin = principals.caller(self.store, principals.USER + self.user_name)
            permissions.apply(self.store, admin, job_id, job, acl, replace=False)
            return job_acl.render(self.store, job_id, job)

    def job_permissions(self, job_id: int) -> dict[str, Any]:
        """The job's permissions as GET /api/2.0/permissions/jobs/<id> returns them."""
        with self.store.transaction():
            return job_acl.render(self.store, job_id, self._job(job_id))

    def _job(self, job_id: int) -> dict[str, Any]:
        job = self.store.data["jobs"].get(str(job_id))
        if job is None:
            raise KeyError(f"No job {job_id} in the emulator")
        return job

    def jobs_snapshot(self) -> list[dict[str, Any]]:
        """Stored jobs (full settings), oldest first."""
        with self.store.transaction():
            return sorted(copy.deepcopy(list(self.store.data["jobs"].values())), key=lambda j: j["job_id"])

    def runs_snapshot(self) -> list[dict[str, Any]]:
        with self.store.transaction():
            return sorted(copy.deepcopy(list(self.store.data["runs"].values())), key=lambda r: r["run_id"])


def serve(port: int, data_path: Path | None) -> None:
    """Run an emulator in the foreground until Ctrl-C (or SIGTERM); prints how to point clients at it."""
    emulator = WorkspaceEmulator(data_path=data_path)
    url = emulator.start(port=port)
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main else None
    print(f"Databricks workspace emulator listening on {url}")
    print(f"State: {data_path if data_path else 'in memory (lost on exit)'}")
    print(f"Token: {emulator.token} (workspace admin {emulator.user_name})")
    print("Point the SDK, the CLI or jobagent at it with:")
    print(f"  export DATABRICKS_HOST={url} DATABRICKS_TOKEN={emulator.token}")
    print(
        f"Add people: curl -X POST {url}/_emulator/principals "
        '-d \'{"kind": "user", "user_name": "ana@example.com"}\'  (the answer carries a token)'
    )
    print(
        f'Inject faults: curl -X POST {url}/_emulator/faults -d \'{{"path_prefix": "/api/2.2/jobs/create", '
        '"status": 503, "count": 1}\''
    )
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        print()
    finally:
        emulator.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        print("Emulator stopped.", flush=True)
