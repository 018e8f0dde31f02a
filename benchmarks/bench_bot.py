"""Slack bot latency: HTTP acknowledgement under bursts of concurrent mentions, and mention → plan posted,
with planning in threads of the server process (the old way, the baseline) and in planner processes
(`jobagent serve`'s default), in the same run, each configuration in a bot process of its own.

Everything is local and real: signed deliveries over a socket to the bot's HTTP server, the Slack Web API
stand-in, the Databricks emulator, the Tech Lead with the BM25 docs index (built once, before measuring),
the Worker, the state store (every request recorded, fsynced, before its ack). Slack and Databricks are
other machines, so the sender and the two stand-ins run in their own processes, not in the bot's (their
work would otherwise compete with the acknowledgements for the bot's interpreter). Each configuration
gets its own state directory, emulator and Slack stand-in.
A burst is sent from SENDERS processes at once. `ack_*` is what a sender measured (connect, send, read
the response); on a small machine the senders and the stand-ins share its CPUs with the bot, so
`ack_in_app_*` also prints the time each delivery spent in the bot's app (signature check, gate, the
fsynced record). Prints plain ``name: value`` lines, then the ratios processes / threads.
Run: ``.venv/bin/python benchmarks/bench_bot.py [--mentions 50,200] [--processes N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databricks.sdk import WorkspaceClient  # noqa: E402
from databricks.sdk.config import Config  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from agent.config import Settings, WorkspaceHandle  # noqa: E402
from agent.runtime import Runtime  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.config import BotConfig, HttpLimits, default_planner_processes, default_workers  # noqa: E402
from bot.planner import default_lead  # noqa: E402
from bot.server import HttpBotServer  # noqa: E402
from retrieval import DocsIndex  # noqa: E402
from standins.databricks import WorkspaceEmulator  # noqa: E402
from standins.slack import SlackEventSender, SlackStandIn  # noqa: E402

SECRET = "bench-signing-secret"
SENDERS = 4  # processes a burst is sent from
REQUEST = (
    "run /Repos/etl/ingest every weekday at 2am UTC on a small cluster, email ops@example.com on failure, "
    "call it nightly-ingest-{i}"
)


def send_mentions(url: str, numbers: list[int], concurrent: bool) -> list[tuple[float, str, list[float]]]:
    """In a sender process (Slack is other machines): mention number n of the run for each n, as
    (start, mention ts, ack seconds per delivery); the numbers make names and message ts unique.
    Requests are signed before the clock starts and sent on raw sockets, so what is timed is the bot."""
    sender = SlackEventSender(url, SECRET)
    second = int(time.time())
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    work = []
    for n in numbers:
        ts = f"{second}.{n:06d}"
        bodies = sender.mention_bodies("UALICE", REQUEST.format(i=n), ts=ts)
        work.append((ts, [sender.prepared(body) for body in bodies]))

    def deliver(request: bytes) -> float:
        started = time.perf_counter()
        with socket.create_connection((host, port), timeout=30) as conn:
            conn.sendall(request)
            reply = b""
            while b"\r\n\r\n" not in reply and (chunk := conn.recv(4096)):
                reply += chunk
        if not reply.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"the bot answered {reply[:80]!r}")
        return time.perf_counter() - started

    def one(item: tuple[str, list[bytes]]) -> tuple[float, str, list[float]]:
        ts, requests = item
        t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the stand-in's arrival times
        return t0, ts, [deliver(r) for r in requests]

    with ThreadPoolExecutor(max(len(work), 1) if concurrent else 1) as pool:
        return list(pool.map(one, work))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    """Resident memory of a process (its server includes this benchmark's own bookkeeping)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class StandIns:
    """The Databricks emulator and the Slack stand-in in a process of their own, driven over a pipe."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_stand_ins, args=(child,), daemon=True)
        self._process.start()
        self.emulator_url, self.emulator_token, self.slack_url, self.slack_token = self._conn.recv()

    def posted(self) -> dict[str, float]:
        """thread_ts → arrival time (perf_counter, system-wide monotonic) of each message with blocks."""
        self._conn.send("posted")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(10)


def _serve_stand_ins(conn: Any) -> None:
    emulator = WorkspaceEmulator()
    emulator.start()
    slack = SlackStandIn()
    slack.start()
    slack.add_user("UALICE", name="alice", email="alice@example.com")
    conn.send((emulator.url, emulator.token, slack.url, slack.token))
    while (command := conn.recv()) != "stop":
        if command == "posted":
            timeline = slack.timeline("chat.postMessage")
            conn.send({p.get("thread_ts"): t for t, p in timeline if p.get("blocks")})
    emulator.stop()
    slack.stop()


def measure(
    name: str,
    settings: Settings,
    processes: int,
    bursts: list[int],
    sequential: int,
    sending: ProcessPoolExecutor,
    http: HttpLimits,
) -> dict[str, float]:
    """One configuration: its own state, emulator and Slack stand-in; returns the numbers it printed."""
    results: dict[str, float] = {}

    def report(key: str, value: float, unit: str = "") -> None:
        results[key] = value
        print(f"{name}_{key}: {value:.1f}{unit}" if isinstance(value, float) else f"{name}_{key}: {value}")

    remote = StandIns()
    client = WorkspaceClient(
        config=Config(host=remote.emulator_url, token=remote.emulator_token, auth_type="pat")
    )
    with Runtime(settings, WorkspaceHandle(client, "emulator")) as runtime:
        config = BotConfig(
            bot_token=remote.slack_token,
            signing_secret=SECRET,
            api_url=remote.slack_url,
            workers=default_workers(),
            planner_processes=processes,
            http=http,
        )
        lead = default_lead(settings, runtime)
        app = build_app(
            config, runtime, lead, client=WebClient(token=remote.slack_token, base_url=remote.slack_url)
        )
        services = app.jobagent  # type: ignore[attr-defined]
        inside: list[float] = []  # seconds each delivery spent in the app (signature check, gate, record)
        dispatch = app.dispatch

        def timed_dispatch(request: Any) -> Any:
            started = time.perf_counter()
            try:
                return dispatch(request)
            finally:
                inside.append(time.perf_counter() - started)

        app.dispatch = timed_dispatch  # type: ignore[method-assign]
        services.planner.wait_ready(timeout=120)
        server = HttpBotServer(app, "127.0.0.1", 0, http)
        url = server.start()

        def run(count: int, offset: int, concurrent: bool) -> tuple[list[float], list[float]]:
            """Ack latencies (every delivery) and mention → plan-posted latencies."""
            before = services.activity.count("request")
            # Slack sends from many machines: a burst is split over the sender processes, so the timings
            # are not those of one Python process holding 50+ connections.
            shares = SENDERS if concurrent else 1
            numbers = [offset + i for i in range(count)]
            parts = [
                sending.submit(send_mentions, url, numbers[k::shares], concurrent) for k in range(shares)
            ]
            sent = [one for part in parts for one in part.result()]
            services.activity.wait("request", before + count, timeout=600)
            posted = remote.posted()
            acks = [a for _, _, got in sent for a in got]
            plans = [posted[ts] - t0 for t0, ts, _ in sent if ts in posted]
            return acks, plans

        try:
            run(2, 0, concurrent=False)  # warm-up: authorization cached, first plan's imports done
            seq_acks, seq_plans = run(sequential, 100, concurrent=False)
            report("ack_p50_ms_one_at_a_time", statistics.median(seq_acks) * 1000)
            report("plan_posted_p50_ms_sequential", statistics.median(seq_plans) * 1000)
            offset = 1000
            for burst in bursts:
                del inside[:]
                acks, plans = run(burst, offset, concurrent=True)
                offset += burst
                report(f"ack_in_app_p99_ms_{burst}_concurrent", pct(inside, 0.99) * 1000)
                report(f"ack_p50_ms_{burst}_concurrent", statistics.median(acks) * 1000)
                report(f"ack_p99_ms_{burst}_concurrent", pct(acks, 0.99) * 1000)
                report(f"ack_max_ms_{burst}_concurrent", max(acks) * 1000)
                report(f"acks_over_3s_{burst}_concurrent", float(sum(a > 3 for a in acks)))
                report(f"plan_posted_p50_ms_{burst}_concurrent", statistics.median(plans) * 1000)
                report(f"plan_posted_max_ms_{burst}_concurrent", max(plans) * 1000)
                report(f"plans_posted_{burst}_concurrent", float(len(plans)))
            report("rss_mb_server", rss_mb(os.getpid()))
            report("rss_mb_planner_processes", sum(rss_mb(pid) for pid in services.planner.pids()))
        finally:
            server.stop()
            services.planner.stop()
    remote.stop()
    return results


def _measure_in_process(
    conn: Any,
    name: str,
    settings: Settings,
    processes: int,
    bursts: list[int],
    sequential: int,
    http: HttpLimits,
) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    with ProcessPoolExecutor(SENDERS, mp_context=multiprocessing.get_context("spawn")) as sending:
        warm = [sending.submit(send_mentions, "http://127.0.0.1:9/", [], False) for _ in range(SENDERS)]
        [w.result() for w in warm]  # the senders start first
        conn.send(measure(name, settings, processes, bursts, sequential, sending, http))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", default="50,200", help="concurrent mentions per burst, comma-separated")
    parser.add_argument("--sequential", type=int, default=10, help="mentions one at a time, for plan latency")
    parser.add_argument(
        "--processes", type=int, default=max(1, default_planner_processes()), help="planner processes"
    )
    parser.add_argument("--http-threads", type=int, default=HttpLimits.threads, help="HTTP worker threads")
    parser.add_argument("--only", choices=("threads", "processes"), help="measure one configuration")
    args = parser.parse_args()
    bursts = [int(n) for n in args.mentions.split(",") if n.strip()]
    logging.basicConfig(level=logging.WARNING)  # planner processes log at the root's level too
    # waitress warns "Task queue depth is N" whenever a request waits for a free worker thread: a burst of
    # 400 deliveries always queues behind any fixed pool, and acknowledging is bound by the disk (one
    # fsynced record per delivery), not by threads (8, 32 and 64 measured alike). Not news here.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    home = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    os.environ.update(
        JOBAGENT_HOME=str(home), JOBAGENT_NOTES_DIR=str(home / "notes"), JOBAGENT_WORKSPACE="emulator"
    )
    settings = Settings.from_env()
    started = time.perf_counter()
    DocsIndex.load_or_build(cache_dir=settings.index_dir)  # built before measuring; planner processes load it
    print(f"docs_index_build_s: {time.perf_counter() - started:.2f}")
    http = HttpLimits(threads=args.http_threads)
    print(f"cpus: {os.cpu_count()}")
    print(f"listener_workers: {default_workers()}")
    print(f"http_threads: {http.threads}")
    print(f"planner_processes: {args.processes}")
    configs = [("threads", 0), ("processes", args.processes)]
    got = {}
    spawn = multiprocessing.get_context("spawn")
    for name, processes in configs:
        if args.only and name != args.only:
            continue
        own = dataclasses.replace(
            settings, state_path=home / f"state-{name}", notes_dir=home / f"notes-{name}"
        )
        # Each configuration is a bot server process of its own, as `jobagent serve` is: what the baseline
        # left in memory (its in-process Tech Lead, threads, heap) must not weigh on the next one's acks.
        parent, child = spawn.Pipe()
        one = spawn.Process(
            target=_measure_in_process, args=(child, name, own, processes, bursts, args.sequential, http)
        )
        one.start()
        got[name] = parent.recv()
        one.join()
    if len(got) == 2:
        for key, base in got["threads"].items():
            if key.startswith(("ack_p", "ack_in_app", "plan_posted_p50")) and base > 0:
                print(f"ratio_processes_over_threads_{key}: {got['processes'][key] / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
