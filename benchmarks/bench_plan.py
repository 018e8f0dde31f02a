"""Tech Lead figures: plan latency (parser + retrieval) p50/p95 against the parser alone in the same
process, BM25 query p50, and docs index build cold vs loaded from the disk cache."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.notes import NoteBook  # noqa: E402
from agent.state import StateStore  # noqa: E402
from agent.tech_lead import TechLead  # noqa: E402
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


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    cache = Path(tempfile.mkdtemp(prefix="jobagent-bench-index-"))
    t0 = time.perf_counter()
    index = DocsIndex.load_or_build(cache_dir=cache)
    cold = time.perf_counter() - t0
    clear_memo()
    t0 = time.perf_counter()
    index = DocsIndex.load_or_build(cache_dir=cache)
    cached = time.perf_counter() - t0
    print(f"index_chunks: {index.size}")
    print(f"index_build_cold_s: {cold:.2f}")
    print(f"index_load_cached_s: {cached:.3f}")

    queries = []
    for request in REQUESTS * 5:
        t0 = time.perf_counter()
        index.search(request, k=5)
        queries.append(time.perf_counter() - t0)
    print(f"bm25_query_p50_ms: {statistics.median(queries) * 1000:.2f}")

    tmp = Path(tempfile.mkdtemp(prefix="jobagent-bench-"))
    lead = TechLead(store=StateStore(tmp / "s.json"), notes=NoteBook(tmp / "n"), index=lambda: index)
    parser_only, plans = [], []
    for request in REQUESTS * 5:
        t0 = time.perf_counter()
        parse_request(request)
        parser_only.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        lead.assign(request)
        plans.append(time.perf_counter() - t0)
    print(f"parser_only_p50_ms: {statistics.median(parser_only) * 1000:.2f}")
    print(f"plan_latency_p50_ms: {statistics.median(plans) * 1000:.2f}")
    print(f"plan_latency_p95_ms: {pct(plans, 0.95) * 1000:.2f}")
    print(f"plan_vs_parser_ratio: {statistics.median(plans) / statistics.median(parser_only):.1f}")


if __name__ == "__main__":
    main()
