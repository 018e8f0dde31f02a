"""Running the bot: HTTP mode (waitress: whole requests buffered, then a bounded worker pool) or Socket
Mode, chosen by configuration.

HTTP mode serves Events API, interactivity and slash commands on one path, POST /slack/events (Bolt
verifies the signature: a bad one gets 401), plus GET /healthz. Socket Mode needs no public URL. The
rule is `BotConfig.resolve_mode`: a port asked for → HTTP; else SLACK_APP_TOKEN → Socket Mode; else HTTP.

Why waitress: one event loop reads every connection and only a complete request (headers and body within
`HttpLimits`) reaches one of a fixed number of worker threads, so a client that connects and stalls holds
a socket, never a thread, and Slack's 3-second acknowledgement holds while hundreds stall. It also answers
bad framing itself (400 for a bad Content-Length, 413 over the body limit, 431 over the header limit) and
closes connections silent for `read_timeout` seconds. This module adds what is Slack's: 400 for headers
and payloads Bolt cannot read, and no request body (nor signature) in any log line.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from slack_bolt import App
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.request import BoltRequest
from waitress import wasyncore

from agent.config import Settings
from agent.errors import JobAgentError
from bot.config import BotConfig, HttpLimits

try:
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
MAX_HEADER_BYTES = 64 * 1024  # Slack's headers are well under 2 KB
BACKLOG = 1024  # bursts of deliveries must not overflow the listen queue
ACCEPT_BATCH = 256  # connections accepted per wake-up of the event loop
FD_RESERVE = 128  # descriptors kept for everything but client connections (files, Slack/Databricks calls)

_DIGITS = re.compile(r"[0-9]{1,15}")
_SIGNATURE = re.compile(r"[\x21-\x7e]{0,256}")  # printable ASCII: anything else crashes the HMAC compare
_CONTAINERS = {"event": dict, "view": dict, "message": dict, "container": dict, "actions": list}
_INTERNAL_HEADERS = "x-slack-bolt-"  # Bolt's own lazy-listener headers: never taken from the network

# Log lines that carry a request body (or the signature and timestamp), by logger: (how the line starts,
# where its payload starts, what is withheld). The line is kept up to that point. Logger filters run before
# propagation, so no handler anywhere receives the payload. slack_sdk's are the Web API calls at DEBUG:
# they would repeat users' words that the bot quotes back, and users.info answers.
WITHHELD = {
    "slack_bolt.RequestVerification": (
        ("Invalid request signature", " (signature:", "signature, timestamp and body"),
    ),
    "slack_bolt.IgnoringSelfEvents": (("Skipped self event", ":", "event"),),
    "slack_bolt.App": (
        ("A global middleware", " for the request (", "body"),
        ("Unhandled request", " (", "body"),
    ),
    "slack_sdk.web.base_client": (
        ("Sending a request", ", query_params:", "parameters and body"),
        ("Received the following response", ", headers:", "headers and body"),
    ),
}


class WithholdBodies(logging.Filter):
    """Cuts a known log line short where its payload starts, at every level."""

    def __init__(self, rules: tuple[tuple[str, str, str], ...]):
        super().__init__("")
        self.rules = rules

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        for prefix, payload, what in self.rules:
            if message.startswith(prefix):
                cut = message.find(payload)
                kept = message[:cut] if cut > 0 else prefix
                record.msg, record.args = f"{kept} [{what} withheld]", ()
                break
        return True


def withhold_request_bodies() -> None:
    """Installs `WithholdBodies` on the loggers in `WITHHELD` (once per process)."""
    for name, rules in WITHHELD.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithholdBodies) for f in logger.filters):
            logger.addFilter(WithholdBodies(rules))


class Malformed(ValueError):
    """A request Bolt cannot read: answered 400 with this message (which never quotes the body)."""


def bolt_request(environ: dict[str, Any]) -> BoltRequest:
    """The Bolt request for a WSGI environ; raises `Malformed` for bad headers or an unreadable body
    before Bolt sees it, so a signed but broken payload gets 400 rather than a 500 and a traceback."""
    headers = _headers(environ)
    text = _body(environ)
    try:  # parses the JSON or form payload and reads ids out of it; no I/O, so any failure is the body's
        request = BoltRequest(body=text, query=environ.get("QUERY_STRING", ""), headers=headers)
    except Exception as exc:
        raise Malformed(f"the body is not a Slack payload ({type(exc).__name__})") from None
    for key, kind in _CONTAINERS.items():  # Bolt's listener matchers index into these without checking
        value = request.body.get(key)
        if value is not None and not isinstance(value, kind):
            raise Malformed(f"{key!r} is not a JSON {'object' if kind is dict else 'array'}")
    if not all(isinstance(action, dict) for action in request.body.get("actions") or ()):
        raise Malformed("'actions' holds something other than objects")
    return request


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    named = ((k[5:].lower().replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_"))
    headers = {name: value for name, value in named if not name.startswith(_INTERNAL_HEADERS)}
    stamp = headers.get("x-slack-request-timestamp")
    if stamp is not None and not _DIGITS.fullmatch(stamp):
        raise Malformed("X-Slack-Request-Timestamp is not a Unix time")
    if not _SIGNATURE.fullmatch(headers.get("x-slack-signature", "")):
        raise Malformed("X-Slack-Signature is not printable ASCII")
    headers["content-type"] = environ.get("CONTENT_TYPE", "")
    return headers


def _body(environ: dict[str, Any]) -> str:
    length = environ.get("CONTENT_LENGTH") or "0"
    if not _DIGITS.fullmatch(length):  # waitress refuses these first; this keeps wsgi_app safe anywhere
        raise Malformed("Content-Length is not a byte count")
    raw = environ["wsgi.input"].read(int(length)) if int(length) else b""
    if len(raw) != int(length):
        raise Malformed("the body is shorter than Content-Length")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None


def wsgi_app(app: App, path: str = EVENTS_PATH) -> Callable[..., Iterable[bytes]]:
    """Routes /healthz and `path`; everything else is 404, other methods on `path` 405."""

    def reply(start_response: Callable[..., Any], status: str, text: str, *extra: tuple[str, str]) -> list:
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *extra])
        return [text.encode()]

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, where = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        if where == "/healthz" and method == "GET":
            return reply(start_response, "200 OK", "ok\n")
        if where != path:
            return reply(start_response, "404 Not Found", "not found\n")
        if method != "POST":
            return reply(start_response, "405 Method Not Allowed", "POST only\n", ("Allow", "POST"))
        try:
            request = bolt_request(environ)
        except Malformed as exc:
            log.info("400 for %s: %s", environ.get("REMOTE_ADDR", "?"), exc)
            return reply(start_response, "400 Bad Request", f"bad request: {exc}\n")
        response = app.dispatch(request)
        log.debug("POST %s %s (%s bytes in)", where, response.status, environ.get("CONTENT_LENGTH") or 0)
        out = WsgiHttpResponse(status=response.status, headers=response.headers, body=response.body)
        start_response(out.status, out.get_headers())
        return out.get_body()

    return route


def open_file_limit(wanted: int) -> int:
    """The soft RLIMIT_NOFILE, raised towards the hard limit first when `wanted` descriptors need it:
    every held connection is one descriptor."""
    if resource is None:  # pragma: no cover
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted if soft == resource.RLIM_INFINITY else soft
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # e.g. macOS caps the soft limit below an infinite hard one
        return soft
    return target


def _accept_waiting(accept_one: Callable[[], None], held: dict[int, Any], limit: int) -> Callable[[], None]:
    """Accepts every waiting connection (up to the limit) per wake-up. Waitress takes one per loop turn,
    and each turn polls every open connection, so a burst of N connections cost O(N²): 900 stalled ones
    opened at once delayed the next acknowledgement by a second."""

    def accept() -> None:
        for _ in range(ACCEPT_BATCH):
            before = len(held)
            if before >= limit:
                return
            accept_one()
            if len(held) == before:  # nothing was waiting (or the client already left)
                return

    return accept


class HttpBotServer:
    """The bot's HTTP endpoint; port 0 picks a free port (tests). `start()` runs it in a thread."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, limits: HttpLimits | None = None):
        self.limits = limits or HttpLimits()
        withhold_request_bodies()
        connections = self.limits.max_connections
        files = open_file_limit(connections + FD_RESERVE)
        if connections + FD_RESERVE > files:
            connections = max(16, files - FD_RESERVE)
            log.warning(
                "the process may open only %d files (RLIMIT_NOFILE): holding at most %d connections, "
                "not JOBAGENT_HTTP_MAX_CONNECTIONS=%d",
                files,
                connections,
                self.limits.max_connections,
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
        self._map: dict[int, Any] = {}
        self._server = waitress.create_server(
            wsgi_app(app),
            map=self._map,
            sockets=[listener],
            threads=self.limits.threads,
            channel_timeout=self.limits.read_timeout,
            cleanup_interval=1,  # silent connections are looked for every second
            asyncore_loop_timeout=1,
            asyncore_use_poll=True,  # select() stops at descriptor 1024
            connection_limit=connections + 2,  # its map also holds the listener and the wake-up pipe
            max_request_body_size=self.limits.max_body,
            max_request_header_size=MAX_HEADER_BYTES,
            backlog=BACKLOG,
            ident="jobagent",
            expose_tracebacks=False,
            log_socket_errors=False,  # a client that resets or vanishes is not worth a traceback
        )
        self._server.handle_accept = _accept_waiting(self._server.handle_accept, self._map, connections + 2)
        self.host, self.port = host, listener.getsockname()[1]
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # the wake-up pipe is never written after the loop closed it
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{EVENTS_PATH}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self.serve_forever, name="jobagent-http", daemon=True)
        self._thread.start()
        return self.url

    def serve_forever(self) -> None:
        """Runs the event loop in this thread until `stop()` (or Ctrl-C, which propagates)."""
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1, map=self._map, use_poll=True, count=1)
        finally:
            self._close()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is None:
            self._close()
            return
        with self._lock:
            if not self._closed:
                self._server.pull_trigger()  # wakes the loop now, not at its next one-second poll
        self._thread.join(timeout=10)

    def _close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            wasyncore.close_all(self._map)
        self._server.task_dispatcher.shutdown(timeout=5)


def make_runner(config: BotConfig, app: App, port: int | None = None) -> Any:
    """The HttpBotServer or SocketModeHandler the configuration asks for (not started)."""
    if config.resolve_mode(port) == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        return SocketModeHandler(app, config.app_token)
    return HttpBotServer(app, config.host, config.port if port is None else port, config.http)


def serve(config: BotConfig, settings: Settings, port: int | None = None) -> int:
    """Build everything and serve until interrupted; says which mode, URL and workspace it uses."""
    from agent.runtime import Runtime
    from bot.app import LazyLead, build_app

    def tech_lead() -> Any:
        from agent.tech_lead import TechLead

        return TechLead.from_settings(settings, runtime)

    config.resolve_mode(port)
    with Runtime(settings) as runtime:
        lead = LazyLead(tech_lead)  # built in the background: planner processes start meanwhile
        app = build_app(config, runtime, lead)
        lead.warm()
        print(f"jobagent: workspace: {runtime.handle.description}", flush=True)
        planner = app.jobagent.planner  # type: ignore[attr-defined]
        runner = make_runner(config, app, port)
        print(
            f"jobagent: state {settings.state_path}, notes {settings.notes_dir}, Slack API {config.api_url}"
        )
        workers = config.planner_processes
        print(
            "jobagent: planning "
            + (f"in {workers} process(es) (JOBAGENT_PLANNER_PROCESSES)" if workers else "in server threads"),
            flush=True,
        )
        if isinstance(runner, HttpBotServer):
            print(
                f"jobagent: HTTP mode on {config.host}:{runner.port}: set the Request URL of Event "
                "Subscriptions, Interactivity and the /jobagent command to "
                f"https://<your host>{EVENTS_PATH}; health check GET /healthz. Ctrl-C stops.",
                flush=True,
            )
        else:
            print("jobagent: Socket Mode (SLACK_APP_TOKEN): no public URL needed. Ctrl-C stops.", flush=True)
        monitor = start_monitoring(config, settings)
        try:
            if isinstance(runner, HttpBotServer):
                runner.serve_forever()
            else:
                runner.start()  # SocketModeHandler.start() blocks
        except KeyboardInterrupt:
            print("jobagent: stopped.")
        finally:
            if isinstance(runner, HttpBotServer):
                runner.stop()
            else:
                runner.close()
            planner.stop()
            if monitor is not None:
                monitor.shutdown(wait=False)
    return 0


def start_monitoring(config: BotConfig, settings: Settings) -> object | None:
    """With JOBAGENT_ALERT_CHANNEL set, the bot process re-evaluates on a schedule and alerts there."""
    if not config.alert_channel:
        return None
    from agent.evaluation.monitor import start_monitor
    from bot.alerts import slack_poster

    scheduler = start_monitor(settings, slack_poster())
    print(f"jobagent: monitoring on, alerts to {config.alert_channel}", flush=True)
    return scheduler


def serve_command(args_port: int | None) -> int:
    """`jobagent serve [--port P]`: configuration from the environment; exit 2 on a configuration error."""
    try:
        settings = Settings.from_env()
        config = BotConfig.from_env()
        config.resolve_mode(args_port)
        return serve(config, settings, args_port)
    except JobAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
