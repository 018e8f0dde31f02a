"""A local OpenAI-compatible server (chat completions) with scripted answers, for tests and demos.

It speaks the real wire format, so the unmodified `openai` client talks to it over a socket:
`OpenAI(base_url=server.url + "/v1", api_key="sk-local")`. Answers are queued with `enqueue`; each
may be JSON content, tool calls, a refusal, an HTTP error (with Retry-After) or a delay.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from standins.http import LocalServer, send_json


@dataclass
class Scripted:
    """One answer: `content` (str or JSON-able), `tool_calls` [(name, args)], or an error `status`."""

    content: Any = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusal: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class OpenAIStandIn(LocalServer):
    thread_name = "openai-standin"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[Scripted] = deque()
        self._cond = threading.Condition()

    # -- scripting -----------------------------------------------------------------------------
    def enqueue(self, *answers: Scripted | dict[str, Any] | str) -> None:
        with self._cond:
            for a in answers:
                self._queue.append(a if isinstance(a, Scripted) else Scripted(content=a))

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout)

    def next_answer(self, body: dict[str, Any]) -> Scripted | None:
        with self._cond:
            self.requests.append(body)
            answer = self._queue.popleft() if self._queue else None
            self._cond.notify_all()
        return answer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        if self.path.rstrip("/").endswith("/models"):
            send_json(self, 200, {"object": "list", "data": [{"id": "local-model", "object": "model"}]})
        else:
            send_json(self, 404, _error("Not found", "invalid_request_error"))

    def do_POST(self) -> None:  # noqa: N802
        stand_in: OpenAIStandIn = self.server.stand_in  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            send_json(
                self,
                400,
                _error("We could not parse the JSON body of your request.", "invalid_request_error"),
            )
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            send_json(self, 404, _error(f"Unknown path {self.path}", "invalid_request_error"))
            return
        if not (self.headers.get("Authorization") or "").startswith("Bearer "):
            send_json(self, 401, _error("You didn't provide an API key.", "invalid_request_error"))
            return
        answer = stand_in.next_answer(body)
        if answer is None:
            send_json(self, 500, _error("The stand-in has no scripted answer left.", "server_error"))
            return
        if answer.delay:
            time.sleep(answer.delay)
        with contextlib.suppress(OSError):  # the client may have given up waiting
            if answer.status != 200:
                kind = "rate_limit_exceeded" if answer.status == 429 else "server_error"
                send_json(self, answer.status, _error(f"scripted {answer.status}", kind), answer.headers)
            else:
                send_json(self, 200, completion(body, answer), answer.headers)


OpenAIStandIn.handler = _Handler


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def completion(request: dict[str, Any], answer: Scripted) -> dict[str, Any]:
    """A chat.completion object as the real API returns it, with rough token counts."""
    content = answer.content
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": answer.refusal}
    if answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for name, args in answer.tool_calls
        ]
    prompt_tokens = len(json.dumps(request.get("messages", []))) // 4
    completion_tokens = len(content or "") // 4 + 1
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "local-model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if answer.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
