"""A "still working" line in the thread when a plan takes longer than a few seconds.

Slack users otherwise see only 👀 while the model thinks (up to the LLM deadline) or the workspace is
slow. The line is posted once, from a timer, and turned into the time the plan took when it is done.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


class Interim:
    """Use as a context manager around planning; nothing is posted when planning is quick."""

    def __init__(self, client: WebClient, channel: str, thread_ts: str, after: float, lead: Any = None):
        self.client, self.channel, self.thread_ts, self.after = client, channel, thread_ts, after
        llm = getattr(lead, "llm", None)
        self.deadline = llm.config.deadline if llm is not None else None
        self._lock = threading.Lock()
        self._done = False
        self._ts: str | None = None
        self._timer = threading.Timer(after, self._post)
        self._timer.daemon = True
        self._started = time.monotonic()

    def text(self) -> str:
        if self.deadline is not None:
            return (
                f":hourglass_flowing_sand: Still working on your plan: the model is thinking. If it has "
                f"no valid answer within {self.deadline:g} s, you get the offline Tech Lead's plan."
            )
        return ":hourglass_flowing_sand: Still working on your plan (docs, workspace checks)."

    def _post(self) -> None:
        with self._lock:
            if self._done:
                return
            try:
                resp = self.client.chat_postMessage(
                    channel=self.channel, thread_ts=self.thread_ts, text=self.text()
                )
                self._ts = resp["ts"]
            except SlackApiError as exc:  # progress is a courtesy; the plan still comes
                log.warning("interim message failed: %s", exc.response.get("error"))

    def __enter__(self) -> Interim:
        if self.after > 0:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            if self._ts is None:
                return
            took = time.monotonic() - self._started
            try:
                self.client.chat_update(
                    channel=self.channel, ts=self._ts, text=f":stopwatch: Planning took {took:.1f} s."
                )
            except SlackApiError as exc:
                log.warning("interim message update failed: %s", exc.response.get("error"))
