"""`jobagent serve`: run the Slack bot (Socket Mode or HTTP, see bot.server)."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> dict[str, Any]:
    serve = sub.add_parser(
        "serve",
        help="run the Slack bot (Socket Mode with SLACK_APP_TOKEN, or HTTP on /slack/events)",
        description="Run the Slack bot. A --port (or JOBAGENT_SLACK_MODE=http) means HTTP mode on "
        "/slack/events, which needs SLACK_SIGNING_SECRET; otherwise SLACK_APP_TOKEN means Socket Mode.",
    )
    serve.add_argument("--port", type=int, default=None, help="serve HTTP mode on this port")
    return {"serve": cmd_serve}


def cmd_serve(args: argparse.Namespace, settings: Any) -> int:
    from bot.server import serve_command

    return serve_command(args.port)
