"""Builds the Bolt app: one WebClient (rate-limit retries, optional local base URL), authorization, the
services the listeners share, and the listeners.

Who may approve a plan (`Approvers`): users listed in JOBAGENT_APPROVERS, members of the user groups in
JOBAGENT_APPROVER_GROUPS, and workspace admins/owners (unless JOBAGENT_ADMINS_CAN_APPROVE=false). When
neither list is set, the person who asked for the plan may approve it too; once a list is set, only the
list (and admins) may — a four-eyes rule. The requester may always reject their own plan.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    Jitter,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from agent.runtime import Runtime
from agent.state import TaskRecord
from bot.config import BotConfig

log = logging.getLogger(__name__)
CACHE_SECONDS = 120.0
# Errors Slack answers with HTTP 200 and `"ok": false` that say "try again" (its documented transient ones).
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class SpreadJitter(Jitter):
    """Up to half the interval again, at random (slack_sdk's default adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() / 2)


class TransientErrorRetryHandler(RetryHandler):
    """Retries a call Slack answered with HTTP 200 but a transient `ok: false` error (TRANSIENT_ERRORS)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        body = response.body if response is not None else None
        return isinstance(body, dict) and body.get("ok") is False and body.get("error") in TRANSIENT_ERRORS


def retry_handlers(config: BotConfig) -> list[RetryHandler]:
    """Dropped connections, 5xx and transient errors retried with backoff (first wait
    `config.slack_retry_seconds`, then doubled: about 5 s over three retries by default); 429s after
    their Retry-After. A post that still fails is recorded on its task (see bot/listeners/common.py)."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=config.slack_retry_seconds, jitter=SpreadJitter())
    return [
        ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=3, interval_calculator=backoff),
        TransientErrorRetryHandler(max_retry_count=3, interval_calculator=backoff),
    ]


def make_client(config: BotConfig) -> WebClient:
    """The Web API client: SLACK_API_URL as base URL, the retries of `retry_handlers`."""
    return WebClient(
        token=config.bot_token, base_url=config.api_url, timeout=15, retry_handlers=retry_handlers(config)
    )


class Directory:
    """users.info and usergroups.users.list answers, cached briefly (approvals and emails ask often)."""

    def __init__(self, client: WebClient, ttl: float = CACHE_SECONDS):
        self.client, self.ttl = client, ttl
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
        try:
            value = fetch()
        except SlackApiError as exc:
            log.warning("Slack lookup %s failed: %s", key, exc.response.get("error"))
            value = None
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def user(self, user_id: str) -> dict[str, Any]:
        return self._cached("user:" + user_id, lambda: self.client.users_info(user=user_id)["user"]) or {}

    def email(self, user_id: str) -> str | None:
        return (self.user(user_id).get("profile") or {}).get("email")

    def is_admin(self, user_id: str) -> bool:
        info = self.user(user_id)
        return any(info.get(k) for k in ("is_admin", "is_owner", "is_primary_owner"))

    def members(self, group_id: str) -> set[str]:
        got = self._cached(
            "group:" + group_id, lambda: self.client.usergroups_users_list(usergroup=group_id)["users"]
        )
        return set(got or [])


class Approvers:
    """The approval rule in the module docstring; `check` returns (allowed, refusal text)."""

    def __init__(self, config: BotConfig, directory: Directory):
        self.config, self.directory = config, directory

    def may_approve(self, user: str, record: TaskRecord) -> bool:
        if user in self.config.approvers:
            return True
        if any(user in self.directory.members(g) for g in sorted(self.config.approver_groups)):
            return True
        if self.config.admins_can_approve and self.directory.is_admin(user):
            return True
        return not self.config.has_allow_list and user == record.requester

    def may_reject(self, user: str, record: TaskRecord) -> bool:
        return user == record.requester or self.may_approve(user, record)

    def who(self, record: TaskRecord) -> str:
        parts = [f"<@{u}>" for u in sorted(self.config.approvers)]
        parts += [f"<!subteam^{g}>" for g in sorted(self.config.approver_groups)]
        if not self.config.has_allow_list:
            parts.insert(0, f"the requester <@{record.requester}>")
        if self.config.admins_can_approve:
            parts.append("Slack workspace admins")
        return ", ".join(parts) or "nobody (no approvers are configured)"


class Activity:
    """Counts finished units of background work by kind, so tests and benchmarks wait on a condition."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._cond = threading.Condition()

    def done(self, kind: str) -> None:
        with self._cond:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._cond.notify_all()

    def count(self, kind: str) -> int:
        with self._cond:
            return self._counts.get(kind, 0)

    def wait(self, kind: str, count: int = 1, timeout: float = 30.0) -> int:
        with self._cond:
            if not self._cond.wait_for(lambda: self._counts.get(kind, 0) >= count, timeout=timeout):
                raise TimeoutError(
                    f"{kind}: {self._counts.get(kind, 0)} of {count} finished after {timeout}s"
                )
            return self._counts[kind]


class LazyLead:
    """The Tech Lead, built on first use or by `warm()` in the background: importing it takes seconds, and
    the server can answer Slack (and start its planner processes) meanwhile."""

    def __init__(self, build: Callable[[], Any]):
        self._build, self._lead = build, None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._lead is None:
                self._lead = self._build()
            return self._lead

    def warm(self) -> threading.Thread:
        thread = threading.Thread(target=self.get, name="jobagent-lead", daemon=True)
        thread.start()
        return thread

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


@dataclass
class Services:
    """What listeners share: configuration, the agent's runtime and Tech Lead, the planner fed from the
    accepted requests (bot/planner.py), who may approve, and counts of finished work."""

    config: BotConfig
    runtime: Runtime
    lead: Any
    directory: Directory
    approvers: Approvers
    activity: Activity = field(default_factory=Activity)
    planner: Any = None  # bot.planner.Planner; None in a planner process itself


def make_services(config: BotConfig, runtime: Runtime, lead: Any, client: WebClient) -> Services:
    directory = Directory(client)
    return Services(config, runtime, lead, directory, Approvers(config, directory))


def make_authorize(config: BotConfig, client: WebClient) -> Callable[..., AuthorizeResult]:
    """Single-workspace authorize: one auth.test (for the bot's own ids), cached; no call per request."""
    lock = threading.Lock()
    cache: dict[str, Any] = {}

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        with lock:
            if "auth" not in cache:
                cache["auth"] = client.auth_test(token=config.bot_token).data
        auth = cache["auth"]
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or auth.get("team_id"),
            bot_token=config.bot_token,
            bot_id=auth.get("bot_id"),
            bot_user_id=auth.get("user_id"),
        )

    return authorize


def build_app(
    config: BotConfig,
    runtime: Runtime,
    lead: Any,
    client: WebClient | None = None,
    *,
    lead_factory: Callable[..., Any] | None = None,
    start_planner: bool = True,
) -> App:
    """The Bolt app, listeners registered, its planner started (threads, or `config.planner_processes`
    processes whose Tech Lead is `lead_factory(settings, runtime)`, by default `TechLead.from_settings`)
    and the requests a previous run accepted but did not finish queued again.

    `client` (with the bot token) defaults to `make_client(config)`; the retry handlers of
    `retry_handlers(config)` are added to it where it lacks one of their kind."""
    from bot.listeners import register_all
    from bot.planner import Planner

    given = client or make_client(config)
    handlers = list(given.retry_handlers or [])
    for wanted in retry_handlers(config):
        if not any(type(h) is type(wanted) for h in handlers):
            handlers.append(wanted)
    options = {"base_url": given.base_url, "timeout": given.timeout, "retry_handlers": handlers}
    client = WebClient(token=given.token or config.bot_token, logger=given.logger, **options)
    # The app's own client carries no token: `authorize` supplies it per request (no startup auth.test).
    app_client = WebClient(logger=given.logger, **options)
    app = App(
        name="jobagent",
        # Acks run in the request's own thread: the gate records a request and answers; planning runs in
        # the planner (bot/planner.py), clicks and reactions in lazy listeners (this executor).
        process_before_response=True,
        signing_secret=config.signing_secret,
        client=app_client,
        authorize=make_authorize(config, client),
        listener_executor=ThreadPoolExecutor(
            max_workers=max(config.workers, 2), thread_name_prefix="jobagent"
        ),
    )
    services = make_services(config, runtime, lead, client)
    services.planner = Planner(services, client, lead_factory=lead_factory)

    @app.error
    def report(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error for a %s request: %s", body.get("type"), error, exc_info=error)

    register_all(app, services)
    app.jobagent = services  # type: ignore[attr-defined]  # tests and benchmarks wait on services.activity
    if start_planner:
        services.planner.start()
    return app
