"""The bot's HTTP endpoint under abuse, driven over real sockets with real signed Slack requests: stalled
clients hold no worker, bad framing and unreadable payloads get 4xx rather than 500, request bodies never
reach a log. A client timeout of a few seconds (Slack's 3-second rule) is the only timing condition."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from agent.errors import ConfigError
from agent.tech_lead import TechLead
from bot.config import BotConfig, HttpLimits
from bot.server import HttpBotServer, make_runner
from standins.slack import SlackStandIn, new_ts
from tests.bot_fixtures import ALICE, CHANNEL, SECRET, BotHarness

ACK_TIMEOUT = 3.0  # Slack's acknowledgement deadline, used as the client timeout
STALLED = 200


@pytest.fixture
def slack():
    with SlackStandIn() as stand_in:
        stand_in.add_user(ALICE, name="alice", email="alice@example.com")
        yield stand_in


@pytest.fixture
def bot(runtime, slack) -> Iterator[BotHarness]:
    lead = TechLead(store=runtime.store, notes=runtime.notes, workspace=lambda: runtime.workspace)
    harness = BotHarness(runtime, lead, slack)
    yield harness
    harness.close()


# -- a raw HTTP client: exact bytes out, status line back ----------------------------------------
def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=ACK_TIMEOUT)


def exchange(port: int, data: bytes) -> tuple[int, bytes]:
    """Sends `data`, reads one answer: (status, body), or (0, b"") when the server just closed."""
    with connect(port) as sock:
        sock.sendall(data)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
            head, sep, body = got.partition(b"\r\n\r\n")
            lengths = [
                int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            ]
            length = lengths[0] if lengths else None
            if sep and length is not None and len(body) >= length:
                break
    if not got:
        return 0, b""
    return int(got.split(b" ", 2)[1]), got.partition(b"\r\n\r\n")[2]


def signed(body: bytes, content_type: str, stamp: str | None = None) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest,
    }


def deliver(port: int, body: bytes, headers: dict[str, str], path: str = "/slack/events") -> tuple[int, str]:
    """One POST with a client timeout of ACK_TIMEOUT: a late answer fails the test with TimeoutError."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ACK_TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def healthz(port: int) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ACK_TIMEOUT)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def mention_body(bot: BotHarness, text: str) -> bytes:
    ts = new_ts()
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{bot.slack.bot_user_id}> {text}",
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
    }
    return json.dumps(bot.send.envelope(event)).encode()


def mention(bot: BotHarness, text: str = "help") -> int:
    body = mention_body(bot, text)
    return deliver(bot.server.port, body, signed(body, "application/json"))[0]


def stall(port: int, count: int) -> list[socket.socket]:
    """`count` connections that never finish a request: silent, half a header, a body short of its length."""
    partial = [
        b"",
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Le",
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"type": ',
    ]
    held = []
    for i in range(count):
        sock = connect(port)
        if partial[i % 3]:
            sock.sendall(partial[i % 3])
        held.append(sock)
    return held


# -- stalled and slow clients --------------------------------------------------------------------
def test_signed_mention_is_acked_and_healthz_answers_while_hundreds_stall(bot):
    assert mention(bot) == 200  # warm-up: authorization cached, the listener pool started
    bot.services.activity.wait("request", 1)
    threads = threading.active_count()

    held = stall(bot.server.port, STALLED)
    try:
        assert mention(bot) == 200
        assert healthz(bot.server.port) == (200, "ok\n")
        assert threading.active_count() < threads + 20  # not one thread per stalled connection
        # the stalled connections were held, not dropped: finishing one now gets its answer
        short_body = held[2]
        short_body.sendall(b'"url_verification"}'.ljust(1000 - len(b'{"type": ')))
        assert short_body.recv(4096).startswith(b"HTTP/1.1 401 ")  # complete but unsigned
    finally:
        for sock in held:
            sock.close()
    bot.services.activity.wait("request", 2)


def test_silent_connections_are_closed_after_the_read_timeout(bot):
    server = HttpBotServer(bot.app, "127.0.0.1", 0, HttpLimits(read_timeout=1))
    server.start()
    held = stall(server.port, 3)
    try:
        for sock in held:
            sock.settimeout(ACK_TIMEOUT + 2)  # the timeout plus the once-a-second sweep
            assert sock.recv(4096) == b""  # closed without an answer, and without holding a worker
        assert healthz(server.port) == (200, "ok\n")
    finally:
        for sock in held:
            sock.close()
        server.stop()


# -- framing and payloads ------------------------------------------------------------------------
def test_bad_framing_and_bad_headers_get_4xx(bot):
    port = bot.server.port
    head = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
    assert exchange(port, head + b"Content-Length: -1\r\n\r\n")[0] == 400
    assert exchange(port, head + b"Content-Length: twelve\r\n\r\n")[0] == 400
    assert exchange(port, head + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}")[0] == 400
    assert exchange(port, head + b"Content-Length: %d\r\n\r\n" % (HttpLimits.max_body + 1))[0] == 413
    assert exchange(port, head + b"X-Slack-Signature: v0=\xe9\r\nContent-Length: 2\r\n\r\n{}")[0] == 400
    assert exchange(port, b"GET /slack/events HTTP/1.1\r\nHost: bot\r\n\r\n")[0] == 405
    assert exchange(port, b"GET /nowhere HTTP/1.1\r\nHost: bot\r\n\r\n")[0] == 404
    assert healthz(port) == (200, "ok\n")


def test_oversize_body_gets_413_even_without_a_content_length(bot):
    server = HttpBotServer(bot.app, "127.0.0.1", 0, HttpLimits(max_body=4096))
    server.start()
    try:
        chunk = b"x" * 5000
        chunked = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunked += b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk)
        assert exchange(server.port, chunked)[0] == 413
    finally:
        server.stop()


def test_signed_but_unreadable_payloads_get_400_not_500(bot, caplog):
    caplog.set_level(logging.INFO)
    port = bot.server.port
    form = "application/x-www-form-urlencoded"
    bodies = [
        (b'{"type": "event_callback", "event": ', "application/json"),  # cut off
        (b"[1, 2, 3]", "application/json"),  # JSON, not an object
        (b'{"type": "event_callback", "event": "app_mention"}', "application/json"),
        (b'{"type": "block_actions", "actions": "approve"}', "application/json"),
        (b"\xff\xfe{}", "application/json"),  # not UTF-8
        (b"payload=" + urllib.parse.quote(b"{not json").encode(), form),  # interactivity
        (b"payload=" + urllib.parse.quote(b'["a", "list"]').encode(), form),
        (b"[" * 50_000 + b"]" * 50_000, "application/json"),  # deeper than the parser's recursion limit
    ]
    for body, content_type in bodies:
        status, text = deliver(port, body, signed(body, content_type))
        assert status == 400, (body[:60], status, text)
    headers = signed(b"{}", "application/json", stamp="yesterday")
    assert deliver(port, b"{}", headers)[0] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback, no 500
    assert mention(bot) == 200  # and the real thing still works
    bot.services.activity.wait("request", 1)


# -- logs ----------------------------------------------------------------------------------------
def test_no_request_body_signature_or_timestamp_in_any_log(bot, caplog):
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):  # as `-vv`: every logger, Bolt's included
        if name.startswith(("slack_bolt", "slack_sdk", "waitress", "bot", "agent", "jobagent")):
            caplog.set_level(logging.DEBUG, logger=name)
    port = bot.server.port

    unsigned = json.dumps({"type": "event_callback", "secret": "zebra-unsigned-6c1e" * 50}).encode()
    forged = signed(unsigned, "application/json", stamp="4102444800")  # the year 2100: too far off
    forged["X-Slack-Signature"] = "v0=" + "f00d" * 16
    assert deliver(port, unsigned, forged)[0] == 401
    assert mention(bot, "help quokka-signed-93b7") == 200
    bot.services.activity.wait("request", 1)

    logged = caplog.text
    assert "Invalid request signature" in logged  # Bolt did log the refusal…
    for secret in ("zebra-unsigned", "4102444800", "f00df00d", "quokka-signed", '"event_callback"'):
        assert secret not in logged  # …but none of the request


# -- configuration -------------------------------------------------------------------------------
def test_http_limits_from_the_environment():
    base = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
    assert BotConfig.from_env(base).http == HttpLimits()
    custom = {
        **base,
        "JOBAGENT_HTTP_MAX_BODY": "65536",
        "JOBAGENT_HTTP_READ_TIMEOUT": "5",
        "JOBAGENT_HTTP_MAX_CONNECTIONS": "500",
        "JOBAGENT_HTTP_THREADS": "4",
    }
    assert BotConfig.from_env(custom).http == HttpLimits(65536, 5, 500, 4)
    for name, value in [
        ("JOBAGENT_HTTP_MAX_BODY", "100"),
        ("JOBAGENT_HTTP_MAX_BODY", "10000000000"),
        ("JOBAGENT_HTTP_MAX_BODY", "1MB"),
        ("JOBAGENT_HTTP_READ_TIMEOUT", "0"),
        ("JOBAGENT_HTTP_READ_TIMEOUT", "3600"),
        ("JOBAGENT_HTTP_MAX_CONNECTIONS", "3"),
        ("JOBAGENT_HTTP_THREADS", "0"),
        ("JOBAGENT_HTTP_THREADS", "-4"),
    ]:
        with pytest.raises(ConfigError, match=name):
            BotConfig.from_env({**base, name: value})


def test_runner_serves_with_the_configured_limits(bot):
    config = BotConfig(bot_token="xoxb-1", signing_secret=SECRET, http=HttpLimits(max_body=8192))
    runner = make_runner(config, bot.app, 0)
    runner.start()
    try:
        head = b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 9000\r\n\r\n"
        assert exchange(runner.port, head)[0] == 413
        assert healthz(runner.port) == (200, "ok\n")
    finally:
        runner.stop()
