"""Where monitor alerts go: a `post(text)` callable given by the caller (bot.alerts posts to a Slack
channel), or, without one, only the log. The core stays Slack-free."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
PostAlert = Callable[[str], None]


def log_only(text: str) -> None:
    """The alert is already in the log (the monitor logs every alert); say why it went nowhere else."""
    log.info("no JOBAGENT_ALERT_CHANNEL / SLACK_BOT_TOKEN configured: the alert was only logged")
