"""Retrieval figures: BM25 index build time cold and from cache, query latency p50/p95, corpus size
and top-5 hit rate on plain-English requests. Prints plain `name: value` lines.

    python benchmarks/bench_retrieval.py [--docs-dir /work/shared/corpus]

With --docs-dir the same figures are printed again (prefixed `docs_`) for SDK reference + that folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval import DocsIndex, clear_memo  # noqa: E402

# (request, API names one of the top 5 should be about)
QUERIES = [
    ("run it every weekday at 2am Berlin time", ["quartz_cron_expression", "timezone_id"]),
    ("schedule it hourly", ["quartz_cron_expression", "CronSchedule"]),
    ("on a small cluster with 4 workers", ["num_workers"]),
    ("autoscale from 2 to 8 workers", ["min_workers", "max_workers"]),
    ("email me when it fails", ["on_failure"]),
    ("post to slack when the run finishes", ["webhook_notifications", "on_success"]),
    ("retry twice with 5 minutes between attempts", ["max_retries", "min_retry_interval_millis"]),
    ("with param env=prod", ["parameters"]),
    ("run when new files land in the volume", ["file_arrival"]),
    ("trigger when the orders table changes", ["table_update"]),
    ("the publish task runs after the transform task", ["depends_on"]),
    ("give up after 20 minutes", ["timeout_seconds"]),
    ("only one run at a time", ["max_concurrent_runs"]),
    ("use serverless compute", ["environment"]),
    ("tag it owner=data-platform", ["tags"]),
    ("let the analysts group view the job", ["access_control_list", "permission", "Permission"]),
    ("run as a service principal", ["run_as", "service_principal_name"]),
    ("run the notebook /Repos/etl/ingest", ["notebook_path"]),
    ("install requests from pypi", ["pypi", "libraries"]),
    ("use a spark jar with main class com.acme.Main", ["main_class_name"]),
    ("quartz_cron_expression", ["quartz_cron_expression"]),
    ("tasks[].new_cluster.spark_version", ["spark_version"]),
]
REPEATS = 20


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def measure(prefix: str, docs_dir: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        clear_memo()
        t0 = time.perf_counter()
        cold = DocsIndex.load_or_build(docs_dir=docs_dir, cache_dir=cache)
        build = time.perf_counter() - t0
        clear_memo()
        t0 = time.perf_counter()
        cached = DocsIndex.load_or_build(docs_dir=docs_dir, cache_dir=cache)
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        DocsIndex.load_or_build(docs_dir=docs_dir, cache_dir=cache)
        memo = time.perf_counter() - t0
        assert not cold.built_from_cache and cached.built_from_cache

        latencies, hits = [], 0
        for query, expected in QUERIES:
            top = cached.search(query, k=5)
            hay = " ".join(f"{p.title} {p.metadata.get('field', '')} {p.metadata.get('path', '')}"
                           for p in top)
            if any(name in hay for name in expected):
                hits += 1
            else:
                print(f"{prefix}miss: {query!r} -> {[p.title for p in top]}", file=sys.stderr)
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                cached.search(query, k=5)
                latencies.append((time.perf_counter() - t0) * 1000)
        cache_mb = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 1e6

    print(f"{prefix}corpus_chunks: {cached.size}")
    print(f"{prefix}index_build_cold_s: {build:.2f}")
    print(f"{prefix}index_load_cached_s: {load:.3f}")
    print(f"{prefix}index_load_memo_ms: {memo * 1000:.2f}")
    print(f"{prefix}cache_size_mb: {cache_mb:.1f}")
    print(f"{prefix}query_p50_ms: {statistics.median(latencies):.2f}")
    print(f"{prefix}query_p95_ms: {pct(latencies, 0.95):.2f}")
    print(f"{prefix}top5_hit_rate: {hits}/{len(QUERIES)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs-dir", type=Path, help="also measure SDK reference + this docs folder")
    args = parser.parse_args()
    t0 = time.perf_counter()
    import llama_index.retrievers.bm25  # noqa: F401  (import cost reported apart from build cost)

    print(f"import_llama_index_s: {time.perf_counter() - t0:.2f}")
    measure("", None)
    if args.docs_dir:
        measure("docs_", args.docs_dir)


if __name__ == "__main__":
    main()
