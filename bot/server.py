"""Running the bot: HTTP mode (a threaded stdlib WSGI server) or Socket Mode, chosen by configuration.

HTTP mode serves Events API, interactivity and slash commands on one path, POST /slack/events (Bolt
verifies the signature: a bad one gets 401), plus GET /healthz. Socket Mode needs no public URL. The
rule is `BotConfig.resolve_mode`: a port asked for → HTTP; else SLACK_APP_TOKEN → Socket Mode; else HTTP.
"""

from __future__ import annotations

import logging
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from agent.config import Settings
from agent.errors import JobAgentError
from bot.config import BotConfig

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request, so a slow request never delays another's 3-second acknowledgement."""

    daemon_threads = True
    request_queue_size = 256  # bursts of deliveries must not overflow the listen backlog


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def wsgi_app(app: App, path: str = EVENTS_PATH) -> Callable[..., Iterable[bytes]]:
    slack = SlackRequestHandler(app, path=path)

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        return slack(environ, start_response)

    return route


class HttpBotServer:
    """The bot's HTTP endpoint; port 0 picks a free port (tests). `start()` runs it in a thread."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0):
        self.httpd = ThreadingWSGIServer((host, port), QuietHandler)
        self.httpd.set_app(wsgi_app(app))
        self.host, self.port = host, self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{EVENTS_PATH}"

    def start(self) -> str:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="jobagent-http", daemon=True
        )
        self._thread.start()
        return self.url

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def make_runner(config: BotConfig, app: App, port: int | None = None) -> Any:
    """The HttpBotServer or SocketModeHandler the configuration asks for (not started)."""
    if config.resolve_mode(port) == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        return SocketModeHandler(app, config.app_token)
    return HttpBotServer(app, config.host, config.port if port is None else port)


def serve(config: BotConfig, settings: Settings, port: int | None = None) -> int:
    """Build everything and serve until interrupted; says which mode, URL and workspace it uses."""
    from agent.runtime import Runtime
    from agent.tech_lead import TechLead
    from bot.app import build_app

    config.resolve_mode(port)
    with Runtime(settings) as runtime:
        lead = TechLead.from_settings(settings, runtime)
        runner = make_runner(config, build_app(config, runtime, lead), port)
        print(f"jobagent: workspace: {runtime.handle.description}", flush=True)
        print(
            f"jobagent: state {settings.state_path}, notes {settings.notes_dir}, Slack API {config.api_url}"
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
                runner.httpd.server_close()
            else:
                runner.close()
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
