"""Slack settings from environment variables, checked at start-up so a mistake is named before serving.

Mode rule: a port given on the command line (``jobagent serve --port P``) or ``JOBAGENT_SLACK_MODE=http``
means HTTP mode (needs SLACK_SIGNING_SECRET); otherwise SLACK_APP_TOKEN (``xapp-…``) means Socket Mode;
otherwise SLACK_SIGNING_SECRET means HTTP mode on JOBAGENT_BOT_PORT (default 3000).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.config import env_flag
from agent.errors import ConfigError

DEFAULT_API_URL = "https://slack.com/api/"
MODES = ("auto", "http", "socket")


@dataclass(frozen=True)
class HttpLimits:
    """What one HTTP-mode client may cost: Slack sends small payloads at once, so anything slower or
    larger is a stalled or hostile client and is cut off before it can hold a worker."""

    max_body: int = 1024 * 1024  # bytes; Slack's payloads are a few KB (413 above this)
    read_timeout: int = 10  # seconds a connection may stay silent (mid-request or idle keep-alive)
    max_connections: int = 4000  # open at once; a stalled one holds a socket, not a thread (bench_http.py)
    # Request workers. Acknowledging a request is one fsynced record (bot/listeners/gate.py), planning runs
    # elsewhere; 8 threads already keep the disk busy (8, 32 and 64 measured alike: benchmarks/bench_bot.py).
    threads: int = 8

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> HttpLimits:
        return cls(
            max_body=_bounded(env, "JOBAGENT_HTTP_MAX_BODY", cls.max_body, 4096, 64 * 1024 * 1024, "bytes"),
            read_timeout=_bounded(env, "JOBAGENT_HTTP_READ_TIMEOUT", cls.read_timeout, 1, 300, "seconds"),
            max_connections=_bounded(
                env, "JOBAGENT_HTTP_MAX_CONNECTIONS", cls.max_connections, 16, 20_000, "connections"
            ),
            threads=_bounded(env, "JOBAGENT_HTTP_THREADS", cls.threads, 1, 256, "threads"),
        )


@dataclass(frozen=True)
class BotConfig:
    """Who the bot is, how Slack reaches it, and who may approve plans."""

    bot_token: str
    signing_secret: str = ""
    app_token: str = ""
    api_url: str = DEFAULT_API_URL
    approvers: frozenset[str] = field(default_factory=frozenset)
    approver_groups: frozenset[str] = field(default_factory=frozenset)
    admins_can_approve: bool = True
    mode: str = "auto"
    port: int = 3000
    host: str = "0.0.0.0"
    workers: int = field(default_factory=lambda: default_workers())
    trace_plans: bool = False  # an MLflow trace per plan (JOBAGENT_TRACE_PLANS), for feedback on traces
    alert_channel: str = ""  # the monitor posts regressions here (JOBAGENT_ALERT_CHANNEL)
    interim_seconds: float = 4.0  # "still working…" in the thread when a plan takes longer than this
    # Planning runs off the acknowledgement path: in this many worker processes (JOBAGENT_PLANNER_PROCESSES;
    # `jobagent serve` defaults to 1 on a machine with 2+ CPUs), or with 0 in threads of this process.
    planner_processes: int = 0
    slack_retry_seconds: float = 0.5  # first wait before retrying a failed Web API call (then doubled)
    http: HttpLimits = field(default_factory=HttpLimits)  # HTTP mode: body size, timeouts, connections

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BotConfig:
        env = os.environ if env is None else env
        token = env.get("SLACK_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError(
                "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from your app's "
                "OAuth & Permissions page."
            )
        if not token.startswith("xox"):
            raise ConfigError("SLACK_BOT_TOKEN does not look like a Slack token (expected xoxb-…).")
        app_token = env.get("SLACK_APP_TOKEN", "").strip()
        if app_token and not app_token.startswith("xapp-"):
            raise ConfigError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- "
                "(Basic Information → App-Level Tokens, scope connections:write)."
            )
        mode = env.get("JOBAGENT_SLACK_MODE", "auto").strip().lower() or "auto"
        if mode not in MODES:
            raise ConfigError(f"JOBAGENT_SLACK_MODE={mode!r} is not one of {', '.join(MODES)}.")
        api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
        if not api_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"SLACK_API_URL={api_url!r} must be an http(s) URL such as https://slack.com/api/."
            )
        config = cls(
            bot_token=token,
            signing_secret=env.get("SLACK_SIGNING_SECRET", "").strip(),
            app_token=app_token,
            api_url=api_url if api_url.endswith("/") else api_url + "/",
            approvers=_ids(env.get("JOBAGENT_APPROVERS", "")),
            approver_groups=_ids(env.get("JOBAGENT_APPROVER_GROUPS", "")),
            admins_can_approve=env_flag(env, "JOBAGENT_ADMINS_CAN_APPROVE", True),
            mode=mode,
            port=_int(env, "JOBAGENT_BOT_PORT", 3000),
            host=env.get("JOBAGENT_BOT_HOST", "").strip() or "0.0.0.0",
            workers=_int(env, "JOBAGENT_BOT_WORKERS", default_workers()) or default_workers(),
            trace_plans=env_flag(env, "JOBAGENT_TRACE_PLANS", False),
            alert_channel=env.get("JOBAGENT_ALERT_CHANNEL", "").strip(),
            interim_seconds=_int(env, "JOBAGENT_SLACK_INTERIM_SECONDS", 4),
            planner_processes=_bounded(
                env, "JOBAGENT_PLANNER_PROCESSES", default_planner_processes(), 0, 64, "processes"
            ),
            http=HttpLimits.from_env(env),
        )
        config.resolve_mode(None)  # fail now, not on the first event
        return config

    def resolve_mode(self, port: int | None) -> str:
        """'http' or 'socket' by the rule in the module docstring; raises ConfigError if neither can work."""
        want = "http" if port is not None else self.mode
        if want == "auto":
            want = "socket" if self.app_token else "http"
        if want == "socket" and not self.app_token:
            raise ConfigError(
                "Socket Mode needs SLACK_APP_TOKEN (xapp-…); or set SLACK_SIGNING_SECRET for HTTP mode."
            )
        if want == "http" and not self.signing_secret:
            raise ConfigError(
                "HTTP mode needs SLACK_SIGNING_SECRET (Basic Information → Signing Secret); "
                "or set SLACK_APP_TOKEN for Socket Mode."
            )
        return want

    @property
    def has_allow_list(self) -> bool:
        return bool(self.approvers or self.approver_groups)


def default_workers() -> int:
    """Listener threads: planning is mostly CPU-bound, so more threads than about 2 per CPU only add
    contention (measured: benchmarks/bench_bot.py); at least 4 so a slow workspace call never blocks all."""
    return max(4, min(16, 2 * (os.cpu_count() or 2)))


def default_planner_processes() -> int:
    """One planner process per CPU (at most 4) when there are two or more, else threads in the server
    process. Planning is CPU-bound and planner processes run at a lower priority, so acknowledgements still
    come first (benchmarks/bench_bot.py: on 2 CPUs, 2 processes halve plan latency under a burst)."""
    cpus = os.cpu_count() or 1
    return min(cpus, 4) if cpus >= 2 else 0


def _ids(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be a whole number.") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative.")
    return value


def _bounded(env: Mapping[str, str], name: str, default: int, low: int, high: int, unit: str) -> int:
    """A whole number within sane bounds: a typo (a missing "000", an extra one) is named, not served."""
    value = _int(env, name, default)
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}–{high} {unit} (default {default}).")
    return value
