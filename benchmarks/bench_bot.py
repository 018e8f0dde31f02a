"""Slack bot latency: HTTP acknowledgement under 50 concurrent mentions, and mention → plan posted.

Everything is local and real: signed deliveries over a socket (sent from a separate process, as Slack is
another machine) to the bot's threaded WSGI server, the Slack Web API stand-in, the Databricks emulator,
the Tech Lead with the BM25 docs index, the Worker.
Prints plain ``name: value`` lines. Run: ``.venv/bin/python benchmarks/bench_bot.py [--mentions 50]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient  # noqa: E402

from agent.config import Settings, WorkspaceHandle  # noqa: E402
from agent.runtime import Runtime  # noqa: E402
from agent.tech_lead import TechLead  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.config import BotConfig, default_workers  # noqa: E402
from bot.server import HttpBotServer  # noqa: E402
from retrieval import DocsIndex  # noqa: E402
from standins.databricks import WorkspaceEmulator  # noqa: E402
from standins.slack import SlackEventSender, SlackStandIn  # noqa: E402

SECRET = "bench-signing-secret"
REQUEST = (
    "run /Repos/etl/ingest every weekday at 2am UTC on a small cluster, email ops@example.com on failure, "
    "call it nightly-ingest-{i}"
)


def send_mentions(
    url: str, count: int, offset: int, concurrent: bool
) -> list[tuple[float, str, list[float]]]:
    """In a separate process (Slack is another machine): (start, mention ts, ack seconds per delivery)."""
    sender = SlackEventSender(url, SECRET)

    def one(i: int) -> tuple[float, str, list[float]]:
        t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the stand-in's arrival times
        first = sender.mention("UALICE", REQUEST.format(i=offset + i))
        return t0, first.ts, [first.elapsed] + [d.elapsed for d in first.extra]

    with ThreadPoolExecutor(max(count, 1) if concurrent else 1) as pool:
        return list(pool.map(one, range(count)))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mentions", type=int, default=50, help="concurrent mentions (default 50)")
    parser.add_argument("--sequential", type=int, default=10, help="mentions one at a time, for plan latency")
    parser.add_argument("--workers", type=int, default=0, help="listener threads (0: the default)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    os.environ.update(
        JOBAGENT_HOME=str(home), JOBAGENT_NOTES_DIR=str(home / "notes"), JOBAGENT_WORKSPACE="emulator"
    )
    settings = Settings.from_env()
    emulator = WorkspaceEmulator()
    emulator.start()
    slack = SlackStandIn()
    slack.start()
    slack.add_user("UALICE", name="alice", email="alice@example.com")
    with Runtime(settings, WorkspaceHandle(emulator.client(), "emulator")) as runtime:
        started = time.perf_counter()
        index = DocsIndex.load_or_build(cache_dir=settings.index_dir)  # built before measuring
        print(f"docs_index_build_s: {time.perf_counter() - started:.2f}")
        lead = TechLead(
            store=runtime.store, notes=runtime.notes, workspace=lambda: runtime.workspace, index=lambda: index
        )
        config = BotConfig(
            bot_token=slack.token,
            signing_secret=SECRET,
            api_url=slack.url,
            workers=args.workers or default_workers(),
        )
        app = build_app(config, runtime, lead, client=WebClient(token=slack.token, base_url=slack.url))
        activity = app.jobagent.activity  # type: ignore[attr-defined]
        server = HttpBotServer(app, "127.0.0.1", 0)

        url = server.start()
        sending = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))

        def plan_latency(count: int, offset: int, concurrent: bool) -> tuple[list[float], list[float]]:
            """Ack latencies (every delivery) and mention → plan-posted latencies."""
            before = activity.count("request")
            sent = sending.submit(send_mentions, url, count, offset, concurrent).result()
            activity.wait("request", before + count, timeout=300)
            posted = {p.get("thread_ts"): t for t, p in slack.timeline("chat.postMessage") if p.get("blocks")}
            acks = [a for _, _, got in sent for a in got]
            plans = [posted[ts] - t0 for t0, ts, _ in sent if ts in posted]
            return acks, plans

        sending.submit(send_mentions, url, 0, 0, False).result()  # start the sender process first
        seq_acks, seq_plans = plan_latency(args.sequential, 0, concurrent=False)
        acks, plans = plan_latency(args.mentions, 1000, concurrent=True)
        sending.shutdown()
        server.stop()

    emulator.stop()
    slack.stop()
    print(f"cpus: {os.cpu_count()}")
    print(f"concurrent_mentions: {args.mentions}")
    print(f"listener_workers: {args.workers or default_workers()}")
    print(f"ack_latency_p50_ms_one_at_a_time: {statistics.median(seq_acks) * 1000:.1f}")
    print(f"ack_deliveries: {len(acks)}")
    print(f"ack_latency_p50_ms: {statistics.median(acks) * 1000:.1f}")
    print(f"ack_latency_p99_ms: {pct(acks, 0.99) * 1000:.1f}")
    print(f"ack_latency_max_ms: {max(acks) * 1000:.1f}")
    print(f"acks_over_3s: {sum(a > 3 for a in acks)}")
    print(f"plan_posted_latency_p50_ms_sequential: {statistics.median(seq_plans) * 1000:.1f}")
    print(
        f"plan_posted_latency_p50_ms_under_{args.mentions}_concurrent: {statistics.median(plans) * 1000:.1f}"
    )
    print(f"plan_posted_latency_max_ms_under_{args.mentions}_concurrent: {max(plans) * 1000:.1f}")
    print(f"plans_posted: {len(plans) + len(seq_plans)} of {args.mentions + args.sequential}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
