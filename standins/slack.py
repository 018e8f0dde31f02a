"""A local stand-in for Slack: its Web API (for the bot's WebClient) and its event deliveries (to the bot).

`SlackStandIn` answers the Web API methods jobagent uses with Slack's real response shapes, records
every call for assertions (`received`, `wait_for` — waits on a condition, never sleeps), and can answer
a method with 429 + Retry-After, with an error (HTTP 200 `ok: false`, or a 5xx), or hold its calls until
released (to stop a bot at a known point). `SlackEventSender` POSTs signed requests to a bot's endpoint
exactly as Slack does: event envelopes, the extra `message` event that accompanies an `app_mention`,
retries with X-Slack-Retry-Num, interactivity payloads and slash commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_counter = itertools.count(1)


def new_ts() -> str:
    """A unique Slack-style message timestamp ("seconds.micro-ish")."""
    return f"{int(time.time())}.{next(_counter):06d}"


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int
    times: int


class SlackStandIn:
    """Slack's Web API on 127.0.0.1 (port 0): `start()` returns the base URL for `WebClient(base_url=…)`."""

    def __init__(
        self,
        *,
        token: str = "xoxb-jobagent-test",
        team_id: str = "T0JOBAGNT",
        bot_user_id: str = "UJOBAGENT",
        bot_id: str = "BJOBAGENT",
    ):
        self.token, self.team_id, self.bot_user_id, self.bot_id = token, team_id, bot_user_id, bot_id
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._times: list[float] = []  # time.perf_counter() at which each recorded call arrived
        self._attempts: dict[str, int] = {}
        self._failures: dict[str, _Failure] = {}
        self._holds: dict[str, threading.Event] = {}
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.root = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> str:
        stand_in = self

        class Handler(_Handler):
            owner = stand_in

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.root = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-standin",
            daemon=True,
        )
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        return self.root + "/api/"

    def stop(self) -> None:
        for method in list(self._holds):
            self.release(method)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SlackStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- set-up --------------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        *,
        name: str = "",
        is_admin: bool = False,
        is_owner: bool = False,
        email: str = "",
        is_bot: bool = False,
    ) -> None:
        name = name or user_id.lower()
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "tz": "Europe/London",
            "profile": {
                "real_name": name.title(),
                "display_name": name,
                **({"email": email} if email else {}),
            },
        }

    def add_usergroup(self, group_id: str, users: list[str]) -> None:
        self.usergroups[group_id] = list(users)

    def add_message(self, channel: str, message: dict[str, Any]) -> None:
        """Record a message a person posted (so conversations.replies can return it)."""
        with self._cond:
            self.messages.setdefault(channel, []).append(dict(message))

    def rate_limit(self, method: str, *, retry_after: int = 0, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and Retry-After."""
        self._failures[method] = _Failure(429, "ratelimited", retry_after, times)

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        """Answer the next `times` calls with ``{"ok": false, "error": error}`` (HTTP `status`: 200 as Slack
        answers most errors, or e.g. 500/503 for an outage)."""
        self._failures[method] = _Failure(status, error, 0, times)

    def hold(self, method: str) -> threading.Event:
        """Calls of `method` wait (counted in `attempts`, not answered) until the returned event is set."""
        gate = self._holds[method] = threading.Event()
        return gate

    def release(self, method: str) -> None:
        gate = self._holds.pop(method, None)
        if gate is not None:
            gate.set()

    # -- assertions ----------------------------------------------------------------------------
    def received(self, method: str) -> list[dict[str, Any]]:
        with self._cond:
            return [params for name, params in self._calls if name == method]

    def attempts(self, method: str) -> int:
        with self._cond:
            return self._attempts.get(method, 0)

    def wait_attempts(self, method: str, count: int = 1, timeout: float = 30.0) -> int:
        """Block until `method` was called `count` times, answered or not (failed, held)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._attempts.get(method, 0) >= count, timeout=timeout):
                raise TimeoutError(f"{method}: {self._attempts.get(method, 0)} of {count} attempt(s)")
            return self._attempts[method]

    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        with self._cond:
            return list(self._calls)

    def timeline(self, method: str) -> list[tuple[float, dict[str, Any]]]:
        """(time.perf_counter() at arrival, params) of each recorded call of `method` (for benchmarks)."""
        with self._cond:
            return [(t, p) for t, (name, p) in zip(self._times, self._calls, strict=True) if name == method]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 30.0, where: Any = None
    ) -> list[dict[str, Any]]:
        """Block until `count` calls of `method` (matching `where(params)`, if given) arrived."""

        def matching() -> list[dict[str, Any]]:
            return [p for name, p in self._calls if name == method and (where is None or where(p))]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                seen = [name for name, _ in self._calls]
                raise TimeoutError(
                    f"{method}: {len(matching())} of {count} call(s) after {timeout}s; got {seen}"
                )
            return matching()

    def thread_replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages.get(channel, []) if m.get("thread_ts") == thread_ts]

    # -- the API -------------------------------------------------------------------------------
    def handle(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict]:
        with self._cond:
            self._attempts[method] = self._attempts.get(method, 0) + 1
            self._cond.notify_all()
            gate = self._holds.get(method)
        if gate is not None:
            gate.wait(timeout=60)
        with self._cond:
            failure = self._failures.get(method)
            if failure and failure.times > 0:
                failure.times -= 1
                headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else {}
                return failure.status, {"ok": False, "error": failure.error}, headers
        if token is None:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        answer = getattr(self, "_m_" + method.replace(".", "_"), None)
        if answer is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        with self._cond:
            body = answer(params)
            if body.get("ok"):
                self._calls.append((method, params))
                self._times.append(time.perf_counter())
                self._cond.notify_all()
        return 200, body, {}

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://jobagent-test.slack.com/",
            "team": "jobagent test",
            "user": "jobagent",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _bot_message(self, p: dict[str, Any], ts: str) -> dict[str, Any]:
        msg = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "ts": ts,
            "text": p.get("text", ""),
            "team": self.team_id,
        }
        for key in ("blocks", "thread_ts"):
            if p.get(key):
                msg[key] = json.loads(p[key]) if isinstance(p[key], str) and key == "blocks" else p[key]
        return msg

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = new_ts()
        msg = self._bot_message(p, ts)
        self.messages.setdefault(p["channel"], []).append(msg)
        return {"ok": True, "channel": p["channel"], "ts": ts, "message": msg}

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m.get("ts") == ts), None)

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        msg = self._find(p.get("channel", ""), p.get("ts", ""))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.get("user") != self.bot_user_id:
            return {"ok": False, "error": "cant_update_message"}
        msg.update({k: v for k, v in self._bot_message(p, msg["ts"]).items() if k in ("text", "blocks")})
        if "blocks" not in p:
            msg.pop("blocks", None)
        return {"ok": True, "channel": p["channel"], "ts": msg["ts"], "text": msg["text"], "message": msg}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel") or not p.get("user"):
            return {
                "ok": False,
                "error": "channel_not_found" if not p.get("channel") else "user_not_in_channel",
            }
        return {"ok": True, "message_ts": new_ts()}

    def _m_reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        msg = self._find(p.get("channel", ""), p.get("timestamp", ""))
        if msg is not None:
            names = {r["name"] for r in msg.setdefault("reactions", [])}
            if p.get("name") in names:
                return {"ok": False, "error": "already_reacted"}
            msg["reactions"].append({"name": p.get("name"), "users": [self.bot_user_id], "count": 1})
        return {"ok": True}

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(p.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        users = self.usergroups.get(p.get("usergroup", ""))
        return (
            {"ok": True, "users": users} if users is not None else {"ok": False, "error": "no_such_subteam"}
        )

    def _m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = p.get("channel", ""), p.get("ts", "")
        msg = self._find(channel, ts)
        if msg is None:
            return {"ok": False, "error": "thread_not_found"}
        root = msg.get("thread_ts") or msg["ts"]
        thread = [
            dict(m) for m in self.messages.get(channel, []) if m["ts"] == root or m.get("thread_ts") == root
        ]
        if len(thread) > 1:  # a parent with replies carries thread_ts and reply_count, as on Slack
            thread[0].update(thread_ts=root, reply_count=len(thread) - 1)
        limit = int(p.get("limit") or 1000)
        return {"ok": True, "messages": thread[:limit], "has_more": len(thread) > limit}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(_counter):08d}"
        self.files[file_id] = {"id": file_id, "name": p.get("filename"), "length": int(p.get("length") or 0)}
        return {"ok": True, "upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        done = []
        for item in json.loads(p.get("files") or "[]"):
            record = self.files.get(item.get("id"))
            if record is None or "content" not in record:
                return {"ok": False, "error": "file_not_found"}
            record.update(title=item.get("title"), channel=p.get("channel_id"), thread_ts=p.get("thread_ts"))
            done.append({"id": record["id"], "name": record["name"], "title": record["title"]})
        return {"ok": True, "files": done}

    def upload(self, file_id: str, data: bytes) -> bool:
        with self._cond:
            record = self.files.get(file_id)
            if record is None:
                return False
            record["content"] = data.decode("utf-8", "replace")
            return True

    def respond(self, hook: str, body: dict[str, Any]) -> None:
        """A POST to a response_url (what `respond()` in Bolt does)."""
        with self._cond:
            self._calls.append(("response_url", {"hook": hook, **body}))
            self._times.append(time.perf_counter())
            self._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    owner: SlackStandIn

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/json; charset=utf-8" if not isinstance(body, str) else "text/plain"
        )
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path.startswith("/upload/"):
            ok = self.owner.upload(url.path.rsplit("/", 1)[1], raw)
            return self._reply(200 if ok else 404, f"OK - {len(raw)}" if ok else "not found")
        if url.path.startswith("/response/"):
            self.owner.respond(url.path.rsplit("/", 1)[1], json.loads(raw or b"{}"))
            return self._reply(200, "ok")
        if not url.path.startswith("/api/"):
            return self._reply(404, {"ok": False, "error": "unknown_method"})
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(url.query))
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            params.update(json.loads(raw or b"{}"))
        elif raw:
            params.update(urllib.parse.parse_qsl(raw.decode()))
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else params.pop("token", None)
        params.pop("token", None)
        status, body, headers = self.owner.handle(url.path[len("/api/") :], params, token)
        self._reply(status, body, headers)


# -- deliveries to the bot ---------------------------------------------------------------------
@dataclass
class Delivery:
    """What the bot answered: status, body, headers (lower-case names) and the time taken (ack latency)."""

    status: int
    body: str
    headers: dict[str, str]
    elapsed: float
    event_id: str = ""
    ts: str = ""
    extra: list[Delivery] = field(default_factory=list)


class SlackEventSender:
    """POSTs signed requests to the bot's endpoint (``http://HOST:PORT/slack/events``) as Slack does."""

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        team_id: str = "T0JOBAGNT",
        api_app_id: str = "A0JOBAGENT",
        bot_user_id: str = "UJOBAGENT",
        slack: SlackStandIn | None = None,
    ):
        self.url, self.secret = url, signing_secret
        self.team_id, self.api_app_id, self.bot_user_id, self.slack = team_id, api_app_id, bot_user_id, slack

    # -- transport -----------------------------------------------------------------------------
    def sign(self, body: str, timestamp: str) -> str:
        base = f"v0:{timestamp}:{body}".encode()
        return "v0=" + hmac.new(self.secret.encode(), base, hashlib.sha256).hexdigest()

    def post(
        self,
        body: str,
        content_type: str,
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        bad_signature: bool = False,
        timestamp: int | None = None,
    ) -> Delivery:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = self.sign(body, stamp)
        if bad_signature:
            signature = "v0=" + "0" * 64
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason})
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                status, text, got = resp.status, resp.read().decode(), resp.headers
        except urllib.error.HTTPError as err:
            status, text, got = err.code, err.read().decode(), err.headers
        got = {k.lower(): v for k, v in got.items()}
        return Delivery(status, text, got, time.perf_counter() - started)

    def prepared(self, body: str, content_type: str = "application/json") -> bytes:
        """The whole signed HTTP/1.1 request for `body`, ready for a socket: benchmarks send bursts with
        nothing but `sendall` between their clocks, as Slack's own machines would."""
        stamp = str(int(time.time()))
        target = urllib.parse.urlsplit(self.url)
        data = body.encode()
        head = (
            f"POST {target.path or '/'} HTTP/1.1\r\nHost: {target.netloc}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\nX-Slack-Request-Timestamp: {stamp}\r\n"
            f"X-Slack-Signature: {self.sign(body, stamp)}\r\nUser-Agent: Slackbot 1.0\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + data

    def mention_bodies(self, user: str, text: str, *, ts: str, channel: str = "C0JOBS") -> list[str]:
        """The two deliveries of a mention (`app_mention`, then its `message` twin) as JSON bodies."""
        msg = self._message(user, f"<@{self.bot_user_id}> {text}", channel, ts, None)
        mention = {**msg, "type": "app_mention", "channel": channel, "event_ts": ts}
        plain = {**msg, "channel": channel, "event_ts": ts, "channel_type": "channel"}
        return [json.dumps(self.envelope(e)) for e in (mention, plain)]

    def _json(self, payload: dict[str, Any], **kw: Any) -> Delivery:
        return self.post(json.dumps(payload), "application/json", **kw)

    def _form(self, fields: dict[str, Any], **kw: Any) -> Delivery:
        return self.post(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded", **kw)

    # -- Events API ----------------------------------------------------------------------------
    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": "verification-token-unused",
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_counter):010d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{next(_counter):08d}",
        }

    def event(self, event: dict[str, Any], *, event_id: str | None = None, **kw: Any) -> Delivery:
        body = self.envelope(event, event_id)
        delivery = self._json(body, **kw)
        delivery.event_id, delivery.ts = body["event_id"], event.get("ts") or event.get("event_ts", "")
        return delivery

    def url_verification(
        self, challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    ) -> Delivery:
        return self._json({"token": "unused", "challenge": challenge, "type": "url_verification"})

    def _message(self, user: str, text: str, channel: str, ts: str, thread_ts: str | None) -> dict[str, Any]:
        msg = {
            "user": user,
            "type": "message",
            "ts": ts,
            "client_msg_id": f"c-{ts}",
            "text": text,
            "team": self.team_id,
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": "b1",
                    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
                }
            ],
        }
        if thread_ts:
            msg.update(thread_ts=thread_ts, parent_user_id=user)
        if self.slack is not None:
            self.slack.add_message(channel, msg)
        return msg

    def mention(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0JOBS",
        thread_ts: str | None = None,
        with_message: bool = True,
        message_first: bool = False,
        ts: str | None = None,
    ) -> Delivery:
        """`@jobagent text`: an app_mention plus (as Slack sends it) a `message` event for the same ts."""
        ts = ts or new_ts()
        full = f"<@{self.bot_user_id}> {text}"
        msg = self._message(user, full, channel, ts, thread_ts)
        mention = {**msg, "type": "app_mention", "channel": channel, "event_ts": ts}
        plain = {**msg, "channel": channel, "event_ts": ts, "channel_type": "channel"}
        order = [plain, mention] if message_first else [mention, plain]
        if not with_message:
            order = [mention]
        deliveries = [self.event(e) for e in order]
        first = deliveries[1] if message_first else deliveries[0]
        first.extra = [d for d in deliveries if d is not first]
        first.ts = ts
        return first

    def message(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0JOBS",
        thread_ts: str | None = None,
        channel_type: str = "channel",
        subtype: str | None = None,
        ts: str | None = None,
    ) -> Delivery:
        ts = ts or new_ts()
        event = {
            **self._message(user, text, channel, ts, thread_ts),
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type,
        }
        if subtype:
            event["subtype"] = subtype
        return self.event(event)

    def reaction(
        self,
        user: str,
        reaction: str,
        *,
        channel: str,
        ts: str,
        item_user: str | None = None,
        added: bool = True,
    ) -> Delivery:
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": reaction,
            "item_user": item_user or self.bot_user_id,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": new_ts(),
        }
        return self.event(event)

    # -- interactivity and commands ------------------------------------------------------------
    def block_action(
        self,
        user: str,
        action_id: str,
        value: str | None = None,
        *,
        channel: str,
        message: dict[str, Any],
        **kw: Any,
    ) -> Delivery:
        """A button click on `message` (as stored by the stand-in: ts, thread_ts, text, blocks). Slack
        sends the clicked button's own value; `value` overrides it (a forged click)."""
        block_id = next(
            (b.get("block_id") for b in message.get("blocks", []) if b.get("type") == "actions"), "b"
        )
        if value is None:
            value = next(
                e.get("value", "")
                for b in message.get("blocks", [])
                if b.get("type") == "actions"
                for e in b.get("elements", [])
                if e.get("action_id") == action_id
            )
        container_thread = {"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team_id},
            "api_app_id": self.api_app_id,
            "token": "unused",
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
                **container_thread,
            },
            "trigger_id": f"{next(_counter)}.{self.team_id}.trigger",
            "team": {"id": self.team_id, "domain": "test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": "jobs"},
            "message": message,
            "state": {"values": {}},
            "response_url": self._hook(),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": {"type": "plain_text", "text": action_id},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self._form({"payload": json.dumps(payload)}, **kw)

    def command(
        self, user: str, text: str, *, command: str = "/jobagent", channel: str = "C0JOBS"
    ) -> Delivery:
        return self._form(
            {
                "token": "unused",
                "team_id": self.team_id,
                "team_domain": "test",
                "channel_id": channel,
                "channel_name": "jobs",
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "api_app_id": self.api_app_id,
                "is_enterprise_install": "false",
                "response_url": self._hook(),
                "trigger_id": f"{next(_counter)}.{self.team_id}.trigger",
            }
        )

    def _hook(self) -> str:
        root = self.slack.root if self.slack is not None else "http://127.0.0.1:9"
        return f"{root}/response/{next(_counter)}"


def main() -> None:  # pragma: no cover - manual use: python -m standins.slack
    with SlackStandIn() as slack:
        print(f"Slack Web API stand-in at {slack.url} (token {slack.token}); Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
