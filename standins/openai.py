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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    """One answer: `content` (str or JSON-able), `tool_calls` [(name, args)], or an error `status`."""

    content: Any = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusal: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class OpenAIStandIn:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[Scripted] = deque()
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- scripting -----------------------------------------------------------------------------
    def enqueue(self, *answers: Scripted | dict[str, Any] | str) -> None:
        with self._cond:
            for a in answers:
                self._queue.append(a if isinstance(a, Scripted) else Scripted(content=a))

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout)

    # -- serving -------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "local-model", "object": "model"}]})
                else:
                    self._send(404, _error("Not found", "invalid_request_error"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(
                        400,
                        _error("We could not parse the JSON body of your request.", "invalid_request_error"),
                    )
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, _error(f"Unknown path {self.path}", "invalid_request_error"))
                    return
                if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                    self._send(401, _error("You didn't provide an API key.", "invalid_request_error"))
                    return
                with stand_in._cond:
                    stand_in.requests.append(body)
                    answer = stand_in._queue.popleft() if stand_in._queue else None
                    stand_in._cond.notify_all()
                if answer is None:
                    self._send(500, _error("The stand-in has no scripted answer left.", "server_error"))
                    return
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.status != 200:
                    kind = "rate_limit_exceeded" if answer.status == 429 else "server_error"
                    with contextlib.suppress(OSError):  # the client may have given up waiting
                        self._send(answer.status, _error(f"scripted {answer.status}", kind), answer.headers)
                    return
                with contextlib.suppress(OSError):
                    self._send(200, completion(body, answer), answer.headers)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="openai-standin").start()
        self.url = f"http://{host}:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
