"""Tech Lead figures, in one process after warm-up: docs index build cold vs loaded from the disk cache;
BM25 query p50 searched vs remembered; per-request `TechLead.assign` medians (first pass, warm, warm with
the index's search memory off as the in-process baseline, follow-ups in a thread, the bot benchmark's
mention); where a warm assign spends its time (cProfile, by phase); the parser alone; plan latency p50/p95.

`*_cpu_ms` figures are this thread's CPU time (what 50 concurrent plans compete for on a small machine, and
steady while other processes load it); `*_ms` without `cpu` are wall-clock time. `profile_*_ms` are per
request under cProfile (inflated by it): `profile_assign_ms`, then the parts of it.

Requests: the typical ones below, the bot benchmark's mention and every request of
benchmarks/data/request_families.yaml; follow-ups go to threads whose earlier plan is not applied yet, so
the Tech Lead reads the thread's tasks and revises that plan.

    .venv/bin/python benchmarks/bench_plan.py [--rounds N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from databricks.sdk.service.jobs import JobSettings  # noqa: E402

from agent.models import TaskState  # noqa: E402
from agent.notes import NoteBook  # noqa: E402
from agent.quartz import next_fire_times  # noqa: E402
from agent.state import TaskRecord, new_task_id, open_store  # noqa: E402
from agent.tech_lead import TechLead, representative_leaves  # noqa: E402
from agent.techlead import parse_request  # noqa: E402
from retrieval import DocsIndex, clear_memo  # noqa: E402

REQUESTS = [
    "run /Repos/etl/ingest every weekday at 2:30am Berlin time on a small cluster, retry twice",
    "nightly at midnight run /Workspace/scripts/etl.py with args --full, email ops@example.com on failure",
    "run /Repos/a/x then /Repos/a/y then /Repos/a/z hourly on a large cluster, call it abc",
    "refresh pipeline 1234-abcd every 15 minutes",
    "dbt run and dbt test in project /Repos/analytics/dbt on warehouse 42f0 daily at 6am Pacific",
    "run /Repos/etl/ingest whenever a file lands in /Volumes/main/raw/incoming/, serverless",
    "twice a day at 8 and 20 run /Shared/reports/daily with param env=prod, tag it team=data",
    "on the 1st of each month at noon run /Repos/fin/close, timeout after 2 hours, allow 3 concurrent runs",
    "run the wheel package my_pkg entry point main with --env prod on 4 workers every Sunday at 6pm",
    "between 8am and 6pm every 2 hours run /Repos/etl/ingest and /Repos/etl/transform in parallel, "
    "then /Repos/etl/publish",
]
# As benchmarks/bench_bot.py mentions the bot (one request shape, a new name each time).
BOT_REQUEST = (
    "run /Repos/etl/ingest every weekday at 2am UTC on a small cluster, email ops@example.com on failure, "
    "call it nightly-ingest-{i}"
)
FOLLOW_UPS = [
    "make it 3am instead, and also email bob@example.com",
    "retry 3 times and time out after 90 minutes",
    "run it on 4 workers",
    "add /Repos/etl/report after it",
]
FAMILIES = ROOT / "benchmarks" / "data" / "request_families.yaml"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cpu(fn: Callable[[], Any]) -> float:
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def lead_for(index: DocsIndex, tmp: Path) -> TechLead:
    return TechLead(store=open_store(tmp / "state"), notes=NoteBook(tmp / "notes"), index=lambda: index)


def follow_up_threads(lead: TechLead, count: int) -> list[tuple[str, str]]:
    """(thread, follow-up) pairs: each thread holds an unapplied plan (plus filler tasks elsewhere)."""
    pairs = []
    for i in range(count):
        first = REQUESTS[i % len(REQUESTS)]
        settings = parse_request(first).settings
        thread = f"C1:{1000 + i}.0001"
        for where in (thread, f"C2:{1000 + i}.0002"):  # the thread, and another one
            record = TaskRecord(new_task_id(), first, "alice", where, TaskState.PLANNED, settings=settings)
            lead.store.add(record)
        pairs.append((thread, FOLLOW_UPS[i % len(FOLLOW_UPS)]))
    return pairs


def phases() -> list[tuple[str, Any, bool]]:
    """(name, code object, a step of assign itself rather than part of one) of an offline assign, for
    reading cProfile's cumulative times."""
    return [
        ("thread_context", TechLead.context.__code__, True),
        ("parse", parse_request.__code__, True),
        ("settings_from_dict", JobSettings.from_dict.__func__.__code__, True),  # type: ignore[attr-defined]
        ("cite", TechLead._cite.__code__, True),
        ("cite_retrieval", DocsIndex.search.__code__, False),
        ("cite_leaves", representative_leaves.__code__, False),
        ("schedule_preview", TechLead._schedule_preview.__code__, True),
        ("schedule_preview_quartz", next_fire_times.__code__, False),
    ]


def profile(work: list[Callable[[], Any]], top: bool) -> None:
    prof = cProfile.Profile()
    prof.enable()
    for fn in work:
        fn()
    prof.disable()
    stats = pstats.Stats(prof)
    cumulative = {key: row[3] for key, row in stats.stats.items()}  # type: ignore[attr-defined]

    def cum(code: Any) -> float:
        return cumulative.get((code.co_filename, code.co_firstlineno, code.co_name), 0.0) / len(work)

    total = cum(TechLead.assign.__code__)
    print(f"profile_assign_ms: {ms(total)}")
    steps = 0.0
    for name, code, step in phases():
        print(f"profile_{name}_ms: {ms(cum(code))}")
        steps += cum(code) if step else 0.0
    print(f"profile_other_ms: {ms(total - steps)}")
    if top:
        stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="warm passes over the requests (default 3)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions")
    args = parser.parse_args()

    cache = Path(tempfile.mkdtemp(prefix="jobagent-bench-index-"))
    t0 = time.perf_counter()
    index = DocsIndex.load_or_build(cache_dir=cache)
    cold = time.perf_counter() - t0
    clear_memo()
    t0 = time.perf_counter()
    index = DocsIndex.load_or_build(cache_dir=cache)
    cached = time.perf_counter() - t0
    clear_memo()
    baseline_index = DocsIndex.load_or_build(cache_dir=cache)  # the same index, its search memory off
    baseline_index.results_kept = 0
    print(f"index_chunks: {index.size}")
    print(f"index_build_cold_s: {cold:.2f}")
    print(f"index_load_cached_s: {cached:.3f}")
    # Finding the loaded index again (corpus fingerprint, then the process memo): what every plan paid when
    # TechLead.from_settings looked its index up per plan; it now keeps the index it loaded.
    again = [cpu(lambda: DocsIndex.load_or_build(cache_dir=cache)) for _ in range(20)]
    print(f"index_lookup_cpu_ms: {ms(statistics.median(again))}")

    families = [item["request"] for item in yaml.safe_load(FAMILIES.read_text(encoding="utf-8")) or []]
    texts = REQUESTS + [BOT_REQUEST.format(i=i) for i in range(5)] + families
    searched = [cpu(lambda q=q: baseline_index.search(q, k=5)) for q in REQUESTS * 5]
    for q in REQUESTS:
        index.search(q, k=5)
    remembered = [cpu(lambda q=q: index.search(q, k=5)) for q in REQUESTS * 5]
    print(f"bm25_query_p50_cpu_ms: {ms(statistics.median(searched))}")
    print(f"bm25_query_p50_cpu_ms_remembered: {ms(statistics.median(remembered))}")

    tmp = Path(tempfile.mkdtemp(prefix="jobagent-bench-"))
    lead, baseline = lead_for(index, tmp / "a"), lead_for(baseline_index, tmp / "b")
    threads = follow_up_threads(lead, 40)
    baseline_threads = follow_up_threads(baseline, 40)

    index.forget_results()
    first = [cpu(lambda t=t: lead.assign(t)) for t in texts]  # imports and regexes warm, no searches yet
    for text in texts:  # warm-up of the baseline too
        baseline.assign(text)
    warm, walls, without, follow, follow_without, bot = [], [], [], [], [], []
    for _ in range(args.rounds):  # interleaved, so a busy machine slows both alike
        for text in texts:
            warm.append(cpu(lambda t=text: lead.assign(t)))
            walls.append(timed(lambda t=text: lead.assign(t)))
            without.append(cpu(lambda t=text: baseline.assign(t)))
        for (thread, text), (other, _) in zip(threads, baseline_threads, strict=True):
            follow.append(cpu(lambda t=text, th=thread: lead.assign(t, thread=th)))
            follow_without.append(cpu(lambda t=text, th=other: baseline.assign(t, thread=th)))
        for i in range(20):  # a new thread each, as the bot benchmark's mentions
            bot.append(cpu(lambda i=i: lead.assign(BOT_REQUEST.format(i=i), thread=f"C9:{i}.1")))
    print(f"requests: {len(texts)}")
    print(f"follow_ups: {len(threads)}")
    print(f"assign_median_cpu_ms_first_pass: {ms(statistics.median(first))}")
    print(f"assign_median_cpu_ms: {ms(statistics.median(warm))}")
    print(f"assign_p95_cpu_ms: {ms(pct(warm, 0.95))}")
    print(f"assign_median_ms: {ms(statistics.median(walls))}")
    print(f"assign_median_cpu_ms_without_search_memory: {ms(statistics.median(without))}")
    print(f"assign_median_cpu_ms_follow_up: {ms(statistics.median(follow))}")
    print(f"assign_median_cpu_ms_follow_up_without_search_memory: {ms(statistics.median(follow_without))}")
    print(f"assign_median_cpu_ms_bot_request: {ms(statistics.median(bot))}")

    work: list[Callable[[], Any]] = [lambda t=t: lead.assign(t) for t in texts]
    work += [lambda t=t, th=th: lead.assign(t, thread=th) for th, t in threads]
    profile(work, args.profile)

    parser_only, plans, plans_cpu = [], [], []
    for request in REQUESTS * 5:
        parser_only.append(cpu(lambda r=request: parse_request(r)))
        plans.append(timed(lambda r=request: lead.assign(r)))
        plans_cpu.append(cpu(lambda r=request: lead.assign(r)))
    print(f"parser_only_p50_cpu_ms: {ms(statistics.median(parser_only))}")
    print(f"plan_latency_p50_ms: {ms(statistics.median(plans))}")
    print(f"plan_latency_p95_ms: {ms(pct(plans, 0.95))}")
    print(f"plan_vs_parser_ratio: {statistics.median(plans_cpu) / statistics.median(parser_only):.1f}")

if __name__ == "__main__":
    main()
