"""Retrieval quality on tests/data/retrieval_eval.yaml: recall@5 and MRR, misses listed on stderr.

    python benchmarks/bench_retrieval_quality.py [--docs-dir /work/shared/corpus] [-k 5] [--verbose]

The SDK reference alone is measured first; with --docs-dir again (prefixed `docs_`) for SDK reference +
that folder, which shows whether extra pages crowd the reference passages out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval import DocsIndex, clear_memo  # noqa: E402
from retrieval.quality import evaluate, load_cases, path_lookups, summary  # noqa: E402

EVAL = ROOT / "tests" / "data" / "retrieval_eval.yaml"


def measure(prefix: str, docs_dir: Path | None, k: int, verbose: bool) -> None:
    cases = load_cases(EVAL)
    with tempfile.TemporaryDirectory() as tmp:
        clear_memo()
        index = DocsIndex.load_or_build(docs_dir=docs_dir, cache_dir=Path(tmp))
        t0 = time.perf_counter()
        results = evaluate(index, cases, k=k)
        elapsed = time.perf_counter() - t0
        hits, total, missed = path_lookups(index, k=k)
    for r in results:
        if r.recall < 1 or verbose:
            mark = "miss" if r.recall < 1 else "ok"
            print(f"{prefix}{mark}: {r.case.request!r} recall={r.recall:.2f} rank={r.first_rank} "
                  f"-> {r.titles}", file=sys.stderr)
    recall, mrr = summary(results)
    print(f"{prefix}eval_cases: {len(cases)}")
    print(f"{prefix}corpus_chunks: {index.size}")
    print(f"{prefix}recall_at_{k}: {recall:.3f}")
    print(f"{prefix}mrr: {mrr:.3f}")
    print(f"{prefix}perfect_cases: {sum(r.recall == 1 for r in results)}/{len(results)}")
    print(f"{prefix}eval_ms_per_query: {elapsed / len(cases) * 1000:.2f}")
    print(f"{prefix}field_path_lookup_at_{k}: {hits}/{total} ({hits / total:.3f})")
    if verbose:
        print(f"{prefix}field_path_misses: {missed}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs-dir", type=Path, help="also measure SDK reference + this docs folder")
    parser.add_argument("-k", type=int, default=5, help="passages considered per request (default 5)")
    parser.add_argument("--verbose", action="store_true", help="list every case, not only misses")
    args = parser.parse_args()
    measure("", None, args.k, args.verbose)
    if args.docs_dir:
        measure("docs_", args.docs_dir, args.k, args.verbose)


if __name__ == "__main__":
    main()
