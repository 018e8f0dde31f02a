"""Planning off the acknowledgement path, fed from the accepted requests (`TaskStore.accepted`).

The gate (bot/listeners/gate.py) records each request durably before it answers Slack and hands it
here. `process_accepted` plans it with the conversation steps of bot/listeners/common.py (the task
records the request's key in its meta), posts the answer and finishes the request. Whatever stops the
server on the way, the request stays accepted and unfinished, and the next start (`Planner.start`)
queues it again; a request whose task exists is never planned again: the task is posted if it never was
(no `slack_ts`), else the request is just finished.

Two modes, one interface:

- threads (``JOBAGENT_PLANNER_PROCESSES=0``; the default of `BotConfig()`, so tests and the demo): a
  thread pool in the server process;
- processes (N ≥ 1; `jobagent serve`'s default on a machine with 2+ CPUs): N worker processes (spawned,
  at a lower priority so acknowledgements keep the CPU first), each with its own Runtime, Tech Lead and
  WebClient built from the same settings; the server process only hands them requests and counts what
  they finish (`services.activity`, kind "request"). A worker that dies is replaced and its requests
  are handed out again; workers die with the server (PR_SET_PDEATHSIG on Linux, and each checks its
  parent before every request), so a killed server never leaves one planning behind the next server's
  back. If workers cannot even start, planning falls back to threads (and says so in the log).

One server process per state directory: start-up and the periodic sweep resume the accepted requests
that are not in progress in this process. The sweep (every SWEEP_SECONDS) re-queues requests accepted
more than STALE_SECONDS ago (say, a Slack outage kept their answer from being posted), gives up with an
error in the log on those older than GIVE_UP_SECONDS, and once a day forgets old claims and finished
requests (`prune_intake`).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient

from agent.config import Settings, WorkspaceHandle
from agent.models import TaskState
from agent.runtime import Runtime
from agent.state import Accepted
from bot import blocks
from bot.app import Services, make_client, make_services
from bot.config import BotConfig
from bot.listeners.common import (
    deliver,
    handle_request,
    plain_text,
    post,
    redeliver,
    task_for_key,
    thread_id,
)

log = logging.getLogger(__name__)
SWEEP_SECONDS = 600.0
STALE_SECONDS = 600.0
GIVE_UP_SECONDS = 86_400.0
PRUNE_SECONDS = 86_400.0
KEEP_INTAKE_SECONDS = 7 * 86_400.0  # Slack stops retrying within the hour; a week is for investigations
NICE = 10  # planner processes' priority below the server's
SETUP_FAILURES = 3  # planner processes that die before they are ready, before falling back to threads


def process_accepted(svc: Services, client: WebClient, item: Accepted) -> bool:
    """Answer one accepted request, or resume it; True when it is finished (see the module docstring)."""
    payload = item.payload
    channel, ts = str(payload.get("channel") or ""), str(payload.get("ts") or "")
    if payload.get("event_type") == "command" and not ts:  # /jobagent: its thread starts with our post
        ts = post(
            client,
            channel,
            None,
            blocks.notice_message(
                f"<@{payload.get('user')}> asked (via /jobagent): {blocks.esc(payload['text'])}"
            ),
        )
        payload = {**payload, "ts": ts, "thread_ts": ts, "reacted": True}
        item = Accepted(item.key, payload, item.accepted_at)
    thread_ts = str(payload.get("thread_ts") or ts)
    thread = thread_id(channel, thread_ts)
    store = svc.runtime.store
    record = task_for_key(svc, item.key, thread)
    if record is not None and (record.state is not TaskState.PLANNED or record.plan is not None):
        answered = record.meta.get("slack_ts") or record.meta.get("undelivered")
        if answered or record.state is TaskState.SUPERSEDED:
            done = True
        else:
            log.warning("resuming %s: posting task %s, planned before a restart", item.key, record.id)
            done = deliver(svc, client, record)
    else:  # nothing recorded yet, or a task cut short while planning (a new plan supersedes it)
        try:
            redeliver(svc, client, channel, thread_ts)
        except Exception:
            log.exception("could not re-post undelivered messages in %s", thread)
        done = handle_request(
            svc,
            client,
            channel=channel,
            thread_ts=thread_ts,
            user=str(payload.get("user") or ""),
            text=plain_text(str(payload.get("text") or ""), payload.get("bot_user_id")),
            source_ts=None if payload.get("reacted") else ts,
            accepted_key=item.key,
        )
    if done:
        store.finish(item.key)
    return done


def age_seconds(item: Accepted) -> float:
    try:
        at = datetime.strptime(item.accepted_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - at).total_seconds()


# -- planner processes -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannerSpec:
    """What a planner process builds its own Runtime, Tech Lead and WebClient from."""

    config: BotConfig
    settings: Settings
    workspace: tuple[str, str, str] | None  # (host, token, description) to share; None: open from settings
    lead_factory: Callable[[Settings, Runtime], Any] | None
    log_level: int


def workspace_spec(runtime: Runtime) -> tuple[str, str, str] | None:
    """The server's workspace connection when a planner process can share it by URL and token (the local
    emulator, a personal access token); otherwise the process opens its own from the settings."""
    handle = runtime.handle
    config = getattr(handle.client, "config", None)
    host, token = getattr(config, "host", None), getattr(config, "token", None)
    if host and token and (handle.emulator is not None or getattr(config, "auth_type", "") == "pat"):
        return (str(host), str(token), handle.description)
    return None


def default_lead(settings: Settings, runtime: Runtime) -> Any:
    """The Tech Lead as `jobagent serve` builds it; a docs index built before is loaded now, not at the
    first plan."""
    from agent.tech_lead import TechLead

    lead = TechLead.from_settings(settings, runtime)
    if settings.index_dir.is_dir():
        from retrieval import DocsIndex

        docs = settings.docs_dir if settings.docs_dir.exists() else None
        DocsIndex.load_or_build(docs_dir=docs, cache_dir=settings.index_dir)
    return lead


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the thread that started it (the server's) goes."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)


def _open_workspace(spec: PlannerSpec) -> WorkspaceHandle | None:
    if spec.workspace is None:
        return None  # Runtime opens it from the settings, as the server did
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    host, token, description = spec.workspace
    timeout = spec.settings.databricks_timeout
    config = Config(
        host=host, token=token, auth_type="pat", http_timeout_seconds=timeout, retry_timeout_seconds=timeout
    )
    return WorkspaceHandle(WorkspaceClient(config=config), description)


def planner_process(jobs: Any, results: Any, stopping: Any) -> None:
    """A planner process: import what planning needs while the server opens its workspace, take the
    `PlannerSpec` (the first item on `jobs`), set up once, then answer the requests handed to it until
    told to stop."""
    parent = os.getppid()
    _die_with_parent(parent)
    with contextlib.suppress(OSError):
        os.nice(NICE)
    import databricks.sdk  # noqa: F401  # seconds of imports, in parallel with the server's own

    import agent.tech_lead  # noqa: F401

    spec: PlannerSpec = jobs.get()
    logging.basicConfig(
        level=spec.log_level, format="%(levelname)s %(name)s [planner %(process)d]: %(message)s"
    )
    from bot.server import withhold_request_bodies

    withhold_request_bodies()
    pid = os.getpid()
    runtime = Runtime(spec.settings, _open_workspace(spec))
    # Several requests at a time, as the threads mode does: a plan waits on Slack, the workspace and
    # fsyncs often enough that one at a time would leave the CPU idle.
    pool = ThreadPoolExecutor(max_workers=max(spec.config.workers, 1), thread_name_prefix="jobagent-plan")
    try:
        lead = (spec.lead_factory or default_lead)(spec.settings, runtime)
        client = make_client(spec.config)
        svc = make_services(spec.config, runtime, lead, client)

        def run(item: Accepted) -> None:
            try:
                if not stopping.is_set() and os.getppid() == parent:
                    process_accepted(svc, client, item)
            except Exception:
                log.exception("planning %s failed; it stays accepted and is retried later", item.key)
            finally:
                results.put(("done", pid, item.key))

        results.put(("ready", pid, ""))
        while (item := jobs.get()) is not None and not stopping.is_set() and os.getppid() == parent:
            pool.submit(run, item)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        runtime.close()


@dataclass
class _Worker:
    process: Any
    jobs: Any
    assigned: dict[str, Accepted]
    ready: bool = False


class Planner:
    """Answers accepted requests in threads or planner processes (see the module docstring)."""

    def __init__(
        self,
        svc: Services,
        client: WebClient,
        *,
        processes: int | None = None,
        lead_factory: Callable[[Settings, Runtime], Any] | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
        target: Callable[..., None] | None = None,
    ):
        """`target(jobs, results, stopping)` is what each planner process runs (`planner_process`; tests
        give a stand-in); its first item on `jobs` is the `PlannerSpec`."""
        self.svc, self.client = svc, client
        self.target = target or planner_process
        self.processes = svc.config.planner_processes if processes is None else processes
        self.lead_factory = lead_factory
        self.sweep_seconds = sweep_seconds
        self._lock = threading.Condition()
        self._inflight: dict[str, Accepted] = {}
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._workers: dict[int, _Worker] = {}  # slot -> worker (process mode)
        self._started = False
        self._threads: list[threading.Thread] = []
        self._results: Any = None
        self._stop_timeout = 10.0

    @property
    def mode(self) -> str:
        with self._lock:
            return "processes" if self._workers else "threads"

    def pids(self) -> list[int]:
        """The planner processes' ids (none in thread mode)."""
        with self._lock:
            return [w.process.pid for w in self._workers.values() if w.process is not None]

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    # -- life cycle --------------------------------------------------------------------------------
    def start(self, *, resume: bool = True) -> None:
        """Start the threads or processes, queue what a previous run left unfinished, start the sweep."""
        if self._started or self._stop.is_set():
            return
        if self.processes > 0:
            self._start_processes()
        else:
            self._pool = self._thread_pool()
        with self._lock:
            self._started = True
        if resume:
            self.resume()
        self._spawn_thread(self._maintain, "jobagent-intake")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work; requests in progress get `timeout` seconds to finish, the rest stay accepted
        for the next start."""
        self._stop_timeout = timeout
        self._stop.set()
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for thread in self._threads:
            thread.join(timeout + 2)
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            _discard(worker.jobs)
        if self._results is not None:
            _discard(self._results)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every planner process has set up (immediately in thread mode)."""
        with self._lock:
            ok = self._lock.wait_for(
                lambda: (
                    self._pool is not None or (self._workers and all(w.ready for w in self._workers.values()))
                ),
                timeout=timeout,
            )
        if not ok:
            raise TimeoutError(f"planner processes not ready after {timeout}s")

    # -- work ----------------------------------------------------------------------------------------
    def submit(self, item: Accepted) -> bool:
        """Hand over one accepted request (False if it is in progress already, or the planner stopped).
        Cheap: the acknowledgement path calls it."""
        with self._lock:
            if not self._started or item.key in self._inflight or self._stop.is_set():
                return False  # not started: it is accepted, and `start` resumes it
            self._inflight[item.key] = item
            self._dispatch(item)
        return True

    def resume(self, older_than: float = 0.0) -> int:
        """Queue the accepted, unfinished requests not in progress here (accepted at least `older_than`
        seconds ago); give up on those older than GIVE_UP_SECONDS. Returns how many were queued."""
        store = self.svc.runtime.store
        queued = 0
        for item in store.accepted():
            age = age_seconds(item)
            if age < older_than:
                continue
            if age > GIVE_UP_SECONDS:
                log.error("giving up on %s, accepted %s and never answered", item.key, item.accepted_at)
                store.finish(item.key)
                continue
            queued += self.submit(item)
        if queued:
            log.warning("resuming %d accepted request(s) not answered yet", queued)
        return queued

    def _dispatch(self, item: Accepted) -> None:
        """Under the lock: to the thread pool, or to the planner process with the least work."""
        if self._pool is not None:
            self._pool.submit(self._run, item)
            return
        slot = min(self._workers, key=lambda s: len(self._workers[s].assigned))
        worker = self._workers[slot]
        worker.assigned[item.key] = item
        worker.jobs.put(item)

    def _run(self, item: Accepted) -> None:
        try:
            process_accepted(self.svc, self.client, item)
        except Exception:
            log.exception("planning %s failed; it stays accepted and is retried later", item.key)
        finally:
            self._finished(item.key)

    def _finished(self, key: str) -> None:
        with self._lock:
            self._inflight.pop(key, None)
            for worker in self._workers.values():
                worker.assigned.pop(key, None)
        self.svc.activity.done("request")

    def _thread_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(
            max_workers=max(self.svc.config.workers, 1), thread_name_prefix="jobagent-plan"
        )

    def _spawn_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _maintain(self) -> None:
        next_prune = time.monotonic()
        while True:
            if time.monotonic() >= next_prune:
                next_prune += PRUNE_SECONDS
                prune = getattr(self.svc.runtime.store, "prune_intake", None)
                if prune is not None:
                    try:
                        gone = prune(older_than=KEEP_INTAKE_SECONDS)
                        log.info("forgot %d old intake record(s)", gone)
                    except Exception:
                        log.exception("pruning the Slack intake failed")
            if self._stop.wait(self.sweep_seconds):
                return
            try:
                self.resume(older_than=STALE_SECONDS)
            except Exception:
                log.exception("resuming accepted requests failed")

    # -- processes -------------------------------------------------------------------------------------
    def _start_processes(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._results = self._ctx.Queue()
        self._stopping = self._ctx.Event()
        with self._lock:
            for slot in range(self.processes):
                self._workers[slot] = _Worker(None, self._ctx.Queue(), {})
        # Processes are started by one long-lived thread: Linux's parent-death signal follows the thread
        # that started a process, not the whole server.
        started = threading.Event()
        self._spawn_thread(lambda: self._supervise(started), "jobagent-planners")
        started.wait(30)
        self._spec = PlannerSpec(  # opening the workspace may take seconds: the processes import meanwhile
            config=self.svc.config,
            settings=self.svc.runtime.settings,
            workspace=workspace_spec(self.svc.runtime),
            lead_factory=self.lead_factory,
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        with self._lock:
            for worker in self._workers.values():
                worker.jobs.put(self._spec)  # the first item each process takes

    def _launch(self, slot: int) -> None:
        worker = self._workers[slot]
        worker.process = self._ctx.Process(
            target=self.target,
            args=(worker.jobs, self._results, self._stopping),
            name=f"jobagent-planner-{slot}",
            daemon=True,
        )
        worker.process.start()

    def _supervise(self, started: threading.Event) -> None:
        try:
            for slot in list(self._workers):
                self._launch(slot)
        except Exception:
            log.exception("could not start planner processes")
            self._fall_back()
            return
        finally:
            started.set()
        failures = 0
        while not self._stop.is_set():
            try:
                message = self._results.get(timeout=0.2)
            except queue.Empty:
                message = None
            except (EOFError, OSError):
                break
            if message is not None:
                self._on_message(*message)
            for slot, worker in list(self._workers.items()):
                if worker.process is None or worker.process.is_alive() or self._stop.is_set():
                    continue
                self._drain()
                failures += not worker.ready
                log.error(
                    "planner process %s exited with code %s%s",
                    worker.process.pid,
                    worker.process.exitcode,
                    "" if worker.ready else " before it was ready",
                )
                if failures >= SETUP_FAILURES:
                    self._fall_back()
                    return
                try:
                    self._replace(slot)
                except Exception:
                    log.exception("could not start a planner process")
                    self._fall_back()
                    return
        self._stop_processes()

    def _stop_processes(self) -> None:
        """From the thread that started them (their parent-death signal follows it): let the requests in
        progress finish, skip the queued ones, then end the processes."""
        self._stopping.set()
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.jobs.put(None)
        deadline = time.monotonic() + self._stop_timeout
        running = [w.process for w in workers if w.process is not None]
        while time.monotonic() < deadline:
            alive = [p for p in running if p.is_alive()]
            if not alive:
                break
            self._drain()  # a process exits only once what it reported is read
            alive[0].join(0.1)
        for process in running:
            if process.is_alive():
                log.warning("planner process %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join(1)

    def _drain(self) -> None:
        while True:
            try:
                self._on_message(*self._results.get_nowait())
            except queue.Empty:
                return

    def _on_message(self, kind: str, pid: int, key: str) -> None:
        if kind == "ready":
            with self._lock:
                for worker in self._workers.values():
                    if worker.process is not None and worker.process.pid == pid:
                        worker.ready = True
                self._lock.notify_all()
        elif kind == "done":
            self._finished(key)

    def _replace(self, slot: int) -> None:
        """A new process for `slot`, with a fresh queue; what the dead one held is handed out again."""
        with self._lock:
            old = self._workers[slot]
            self._workers[slot] = _Worker(None, self._ctx.Queue(), {})
            self._workers[slot].jobs.put(self._spec)
        self._launch(slot)
        _discard(old.jobs)
        with self._lock:
            for item in old.assigned.values():
                log.warning("handing %s to another planner process", item.key)
                self._dispatch(item)

    def _fall_back(self) -> None:
        log.error(
            "planner processes keep failing to start (see above); planning in threads of the server process"
        )
        with self._lock:
            self._pool = self._thread_pool()
            workers, self._workers = list(self._workers.values()), {}
            for item in self._inflight.values():
                self._dispatch(item)
        self._stopping.set()
        for worker in workers:
            if worker.process is not None and worker.process.is_alive():
                worker.process.kill()
            _discard(worker.jobs)


def _discard(channel: Any) -> None:
    """Close a multiprocessing queue without waiting for a reader that may be gone."""
    with contextlib.suppress(Exception):
        channel.cancel_join_thread()
        channel.close()
