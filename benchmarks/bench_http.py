"""HTTP endpoint under stalled connections: signed-mention acknowledgement and /healthz latency with N
connections open that never finish a request, against no stalled connections in the same run.

Everything is local and real: the bot app (Slack stand-in, Databricks emulator, Tech Lead without the docs
index), its HTTP server with `HttpLimits`, and two client processes (Slack and the stalling clients are
other machines): one holds the stalled connections (a third silent, a third half a header, a third a body
short of its Content-Length), the other sends signed mentions one at a time with a 3-second timeout.
Prints plain ``name: value`` lines. Run: ``.venv/bin/python benchmarks/bench_http.py [--stalled 200,3000]``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient  # noqa: E402

from agent.config import Settings, WorkspaceHandle  # noqa: E402
from agent.runtime import Runtime  # noqa: E402
from agent.tech_lead import TechLead  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.config import BotConfig, HttpLimits  # noqa: E402
from bot.server import HttpBotServer, open_file_limit  # noqa: E402
from standins.databricks import WorkspaceEmulator  # noqa: E402
from standins.slack import SlackStandIn, new_ts  # noqa: E402

SECRET = "bench-signing-secret"
TIMEOUT = 3.0  # Slack's acknowledgement deadline
PARTIAL = [
    b"",
    b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Le",
    b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 1000\r\n\r\n{",
]


def hold(port: int, count: int, pipe: Connection) -> None:
    """In its own process: opens `count` stalled connections, says how many, holds them until told."""
    open_file_limit(count + 64)
    held = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if PARTIAL[i % 3]:
            sock.sendall(PARTIAL[i % 3])
        held.append(sock)
    pipe.send(len(held))
    pipe.recv()
    for sock in held:
        sock.close()


def probe(port: int, count: int, team: str, bot_user: str) -> dict[str, list[float]]:
    """In its own process: `count` signed mentions and /healthz calls, one at a time; seconds each, or
    TIMEOUT + 1 for one that failed or timed out."""
    got: dict[str, list[float]] = {"ack": [], "healthz": []}
    for _ in range(count):
        ts = new_ts()
        event = {"type": "app_mention", "user": "UALICE", "text": f"<@{bot_user}> help", "ts": ts}
        event.update(channel="C0JOBS", event_ts=ts)
        body = json.dumps(
            {"type": "event_callback", "team_id": team, "api_app_id": "A0", "event": event,
             "event_id": f"Ev{ts.replace('.', '')}", "event_time": int(time.time()),
             "authorizations": [{"team_id": team, "user_id": bot_user, "is_bot": True}]}
        ).encode()  # fmt: skip
        stamp = str(int(time.time()))
        digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": f"v0={digest}",
        }
        got["ack"].append(timed(port, "POST", "/slack/events", body, headers))
        got["healthz"].append(timed(port, "GET", "/healthz", None, {}))
    return got


def timed(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        ok = resp.status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - started if ok else TIMEOUT + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stalled", default="200,1000,3000", help="stalled connections, comma-separated")
    parser.add_argument("--probes", type=int, default=30, help="mentions (and /healthz calls) per count")
    parser.add_argument("--max-connections", type=int, default=HttpLimits.max_connections)
    args = parser.parse_args()
    counts = [0] + [int(n) for n in args.stalled.split(",") if n.strip()]

    home = Path(tempfile.mkdtemp(prefix="bench-http-"))
    os.environ.update(
        JOBAGENT_HOME=str(home), JOBAGENT_NOTES_DIR=str(home / "notes"), JOBAGENT_WORKSPACE="emulator"
    )
    emulator = WorkspaceEmulator()
    emulator.start()
    slack = SlackStandIn()
    slack.start()
    slack.add_user("UALICE", name="alice", email="alice@example.com")
    limits = HttpLimits(read_timeout=60, max_connections=args.max_connections)  # held while measuring
    spawn = multiprocessing.get_context("spawn")
    with Runtime(Settings.from_env(), WorkspaceHandle(emulator.client(), "emulator")) as runtime:
        lead = TechLead(store=runtime.store, notes=runtime.notes, workspace=lambda: runtime.workspace)
        config = BotConfig(bot_token=slack.token, signing_secret=SECRET, api_url=slack.url, http=limits)
        app = build_app(config, runtime, lead, client=WebClient(token=slack.token, base_url=slack.url))
        activity = app.jobagent.activity  # type: ignore[attr-defined]
        server = HttpBotServer(app, "127.0.0.1", 0, limits)
        server.start()
        print(f"cpus: {os.cpu_count()}")
        print(f"max_connections: {limits.max_connections}")
        print(f"worker_threads: {limits.threads}")
        with spawn.Pool(1) as prober:
            prober.apply(probe, (server.port, 1, slack.team_id, slack.bot_user_id))  # warm-up
            for count in counts:
                ours, theirs = spawn.Pipe()
                holder = spawn.Process(target=hold, args=(server.port, count, theirs))
                holder.start()
                opened = ours.recv()
                before = activity.count("request")
                got = prober.apply(probe, (server.port, args.probes, slack.team_id, slack.bot_user_id))
                threads = threading.active_count()
                ours.send("stop")
                holder.join()
                activity.wait("request", before + sum(a <= TIMEOUT for a in got["ack"]), timeout=120)
                acks, health = got["ack"], got["healthz"]
                print(f"stalled_{count}_opened: {opened}")
                print(f"stalled_{count}_server_threads: {threads}")
                print(f"stalled_{count}_ack_p50_ms: {statistics.median(acks) * 1000:.1f}")
                print(f"stalled_{count}_ack_max_ms: {max(acks) * 1000:.1f}")
                print(f"stalled_{count}_acks_over_3s: {sum(a > TIMEOUT for a in acks)} of {len(acks)}")
                print(f"stalled_{count}_healthz_p50_ms: {statistics.median(health) * 1000:.1f}")
                print(f"stalled_{count}_healthz_failed: {sum(h > TIMEOUT for h in health)} of {len(health)}")
        server.stop()
    emulator.stop()
    slack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
