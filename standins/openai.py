"""A local OpenAI-compatible server (chat completions) with scripted answers, for tests and demos.

It speaks the real wire format, so the unmodified `openai` client talks to it over a socket:
`OpenAI(base_url=server.url + "/v1", api_key="sk-local")`, or Databricks model serving's flavour through
`WorkspaceClient(host=server.url, token=...).serving_endpoints.get_open_ai_client()` (path
/serving-endpoints/chat/completions). It refuses with the real 400s what the real services refuse (the
rules live in standins/openai_rules.py) and answers the way real models answer: queued with `enqueue`,
each answer may be JSON content, tool calls, a refusal, an HTTP error (with Retry-After) or a delay.
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
from standins.openai_rules import (
    Flavor,
    ModelProfile,
    Refusal,
    content_blocks,
    databricks_error,
    default_profile,
    openai_error,
    request_refusal,
    scripted_mismatch,
    strict_style,
)

__all__ = ["ModelProfile", "OpenAIStandIn", "Scripted", "completion"]


@dataclass
class Scripted:
    """One answer: `content` (str or JSON-able), `tool_calls` [(name, args)], or an error `status`.
    `strict_style` / `blocks` (None: the model's profile, then the server's default) shape it like a
    strict-mode model or like gpt-oss on Databricks; `reasoning` is the text of the reasoning block."""

    content: Any = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refusal: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    strict_style: bool | None = None
    blocks: bool | None = None
    reasoning: str = "Scripted reasoning."


class OpenAIStandIn(LocalServer):
    """`models` overrides the profile picked by name (`openai_rules.default_profile`); `strict_style`
    is the default for answers and profiles that do not say."""

    thread_name = "openai-standin"

    def __init__(self, models: dict[str, ModelProfile] | None = None, strict_style: bool = False) -> None:
        super().__init__()
        self.models = dict(models or {})
        self.strict_style = strict_style
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
        """Record the request and take the next scripted answer."""
        with self._cond:
            self.requests.append(body)
            answer = self._queue.popleft() if self._queue else None
            self._cond.notify_all()
        return answer

    def record(self, body: dict[str, Any]) -> None:
        """Record a request the service refused: it uses up no scripted answer."""
        with self._cond:
            self.requests.append(body)
            self._cond.notify_all()

    def reset(self) -> None:
        """Forget recorded requests and queued answers, so one server can serve many tests."""
        with self._cond:
            self.requests.clear()
            self._queue.clear()

    def profile(self, model: str) -> ModelProfile:
        return self.models.get(model) or default_profile(model)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus the client's delayed ACK
    # cost ~40 ms per answer on loopback.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def _route(self) -> Flavor:
        return "databricks" if self.path.startswith("/serving-endpoints") else "openai"

    def _refuse(self, status: int, refusal: Refusal, kind: str = "invalid_request_error") -> None:
        if self._route() == "databricks":
            send_json(self, status, databricks_error(refusal, _DATABRICKS_CODES.get(status, "BAD_REQUEST")))
        else:
            send_json(self, status, openai_error(refusal, kind))

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        if self.path == "/.well-known/databricks-config":  # the SDK's WorkspaceClient asks first
            from standins.databricks.clusters import host_metadata

            send_json(self, 200, host_metadata(self.server.stand_in.url))  # type: ignore[attr-defined]
        elif self.path.rstrip("/").endswith("/models"):
            send_json(self, 200, {"object": "list", "data": [{"id": "local-model", "object": "model"}]})
        else:
            self._refuse(404, Refusal(f"Unknown path {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        stand_in: OpenAIStandIn = self.server.stand_in  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._refuse(400, Refusal("We could not parse the JSON body of your request."))
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._refuse(404, Refusal(f"Unknown path {self.path}"))
            return
        route, profile = self._route(), stand_in.profile(str(body.get("model", "")))
        if not (self.headers.get("Authorization") or "").startswith("Bearer "):
            # Databricks' text is as commonly reported (unconfirmed); OpenAI's is abridged.
            text = "Credential was not sent or was of an unsupported type for this API."
            self._refuse(401, Refusal(text if route == "databricks" else "You didn't provide an API key."))
            return
        if refusal := request_refusal(body, route=route, profile=profile):
            stand_in.record(body)
            self._refuse(400, refusal)
            return
        answer = stand_in.next_answer(body)
        if answer is None:
            self._refuse(500, Refusal("The stand-in has no scripted answer left."), "server_error")
            return
        if answer.delay:
            time.sleep(answer.delay)
        with contextlib.suppress(OSError):  # the client may have given up waiting
            if answer.status != 200:
                kind = "rate_limit_exceeded" if answer.status == 429 else "server_error"
                error = Refusal(f"scripted {answer.status}", code=kind)
                if route == "databricks":
                    code = _DATABRICKS_CODES.get(answer.status, "INTERNAL_ERROR")
                    send_json(self, answer.status, databricks_error(error, code), answer.headers)
                else:
                    send_json(self, answer.status, openai_error(error, kind), answer.headers)
                return
            calls = [name for name, _ in answer.tool_calls]
            if mismatch := scripted_mismatch(body, route, answer.content is not None, calls):
                self._refuse(500, Refusal(f"stand-in: {mismatch}."), "server_error")
                return
            strict = _first(answer.strict_style, profile.strict_style, stand_in.strict_style)
            blocks = _first(answer.blocks, profile.blocks)
            send_json(self, 200, completion(body, answer, strict_style=strict, blocks=blocks), answer.headers)


OpenAIStandIn.handler = _Handler

# Databricks error codes by status: 400/429/500/503 as PLATFORM-FACTS lists them; 401/404 unconfirmed.
_DATABRICKS_CODES = {400: "BAD_REQUEST", 404: "ENDPOINT_NOT_FOUND", 429: "REQUEST_LIMIT_EXCEEDED"}
_DATABRICKS_CODES |= {401: "UNAUTHENTICATED", 500: "INTERNAL_ERROR", 503: "TEMPORARILY_UNAVAILABLE"}


def _first(*flags: bool | None) -> bool:
    return next((f for f in flags if f is not None), False)


def completion(
    request: dict[str, Any], answer: Scripted, *, strict_style: bool | None = None, blocks: bool | None = None
) -> dict[str, Any]:
    """A chat.completion object as the real API returns it, with rough token counts.

    With tool_choice "none" a scripted answer's tool calls are dropped (its content is the answer).
    `strict_style` fills the scripted value the way a strict-mode model writes it, against the schema the
    request sent (response_format, or the called tool's parameters); `blocks` serves content as
    reasoning/text blocks."""
    strict = answer.strict_style if strict_style is None else strict_style
    as_blocks = answer.blocks if blocks is None else blocks
    content = answer.content
    schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema")
    if strict and isinstance(schema, dict) and isinstance(content, dict | list):
        content = _strict(content, schema)
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)
    calls = [] if request.get("tool_choice") == "none" else answer.tool_calls
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": answer.refusal}
    if calls:
        parameters = {
            t["function"]["name"]: t["function"].get("parameters")
            for t in request.get("tools") or []
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
        }
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": json.dumps(_strict(args, parameters.get(name)) if strict else args),
                },
            }
            for name, args in calls
        ]
    prompt_tokens = len(json.dumps(request.get("messages", []))) // 4
    completion_tokens = len(content or "") // 4 + 1
    if as_blocks:
        message["content"] = content_blocks(content, answer.reasoning)
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
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _strict(value: Any, schema: Any) -> Any:
    return strict_style(value, schema) if isinstance(schema, dict) else value
