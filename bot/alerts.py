"""Monitor alerts to a Slack channel (JOBAGENT_ALERT_CHANNEL), with the bot's own settings
(SLACK_BOT_TOKEN, SLACK_API_URL); the evaluation core only ever sees a `post(text)` callable."""

from __future__ import annotations

import os
from collections.abc import Mapping

from agent.evaluation.alerts import PostAlert


def slack_poster(env: Mapping[str, str] | None = None) -> PostAlert | None:
    """``post(text)`` to the alert channel, or None when no channel or token is configured."""
    env = os.environ if env is None else env
    channel = env.get("JOBAGENT_ALERT_CHANNEL", "").strip()
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if not channel or not token:
        return None
    from slack_sdk import WebClient

    client = WebClient(token=token, base_url=env.get("SLACK_API_URL") or WebClient.BASE_URL)

    def post(text: str) -> None:
        client.chat_postMessage(channel=channel, text=text, unfurl_links=False)

    return post
