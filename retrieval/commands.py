"""`jobagent docs scrape|index|search`: fill the docs dir, (re)build the index, try a query.

Heavy imports (LlamaIndex, the SDK reference) stay inside the handlers so `jobagent --help` is fast.
The Tech Lead needs no command to see new pages: its index is keyed by the corpus fingerprint, so the
next DocsIndex.load_or_build after a scrape rebuilds; `docs index` just does that work up front.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

SCRAPE_EPILOG = """examples:
  jobagent docs scrape https://docs.databricks.com/aws/en/jobs/ --max-pages 40
  jobagent docs scrape --sitemap https://docs.databricks.com/aws/en/sitemap.xml --max-pages 200
  jobagent docs index && jobagent docs search "email me when the nightly run fails"

Links are followed within the start URLs' host and directory (a URL ending in / scopes to that
section); --no-same-prefix widens that to the whole host. With only --sitemap, the pages it lists
under the sitemap's directory are fetched and links are not followed. robots.txt is obeyed.
Pages go to DIR/<host>/<path>.md; re-runs send If-None-Match / If-Modified-Since and keep pages the
server reports unchanged. Exit status: 0 when at least one page is stored (or nothing failed)."""


def add_commands(sub: Any) -> dict[str, Any]:
    docs = sub.add_parser("docs", help="Databricks documentation for the Tech Lead: scrape, index, search")
    dsub = docs.add_subparsers(dest="docs_command", metavar="DOCS_COMMAND", required=True)

    scrape = dsub.add_parser("scrape", help="download documentation pages as Markdown into the docs dir",
                             epilog=SCRAPE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    scrape.add_argument("urls", nargs="*", metavar="URL", help="start page(s)")
    scrape.add_argument("--sitemap", action="append", default=[], metavar="URL",
                        help="sitemap.xml or sitemap index to take page URLs from (repeatable)")
    scrape.add_argument("--out", type=Path, help="docs directory (default: $JOBAGENT_DOCS_DIR or "
                        ".jobagent/docs)")
    scrape.add_argument("--max-pages", type=int, default=100, help="page requests at most (default 100)")
    scrape.add_argument("--delay", type=float, default=1.0,
                        help="seconds between requests to one host (default 1; a longer robots.txt "
                        "Crawl-delay is obeyed)")
    scrape.add_argument("--same-prefix", action=argparse.BooleanOptionalAction, default=True,
                        help="follow links only under the start URLs' directory (default); "
                        "--no-same-prefix: anywhere on the same host")
    scrape.add_argument("--timeout", type=float, default=20.0, help="seconds per request (default 20)")

    index = dsub.add_parser("index", help="build (or load) the retrieval index from SDK reference + docs")
    index.add_argument("--docs-dir", type=Path, help="docs directory (default: the configured one)")

    search = dsub.add_parser("search", help="show the passages the Tech Lead would cite for a request")
    search.add_argument("query", help='e.g. "retry twice if it fails"')
    search.add_argument("-k", type=int, default=5, help="passages to show (default 5)")
    search.add_argument("--docs-dir", type=Path, help="docs directory (default: the configured one)")
    return {"docs": cmd_docs}


def cmd_docs(args: argparse.Namespace, settings: Any) -> int:
    return {"scrape": cmd_scrape, "index": cmd_index, "search": cmd_search}[args.docs_command](args, settings)


def cmd_scrape(args: argparse.Namespace, settings: Any) -> int:
    from retrieval.scrape import ScrapeOptions, Scraper

    if not args.urls and not args.sitemap:
        print("error: give at least one start URL or --sitemap URL", file=sys.stderr)
        return 2
    bad = [u for u in [*args.urls, *args.sitemap] if not u.startswith(("http://", "https://"))]
    if bad:
        print(f"error: not an http(s) URL: {', '.join(bad)}", file=sys.stderr)
        return 2
    if args.max_pages < 1 or args.delay < 0 or args.timeout <= 0:
        print("error: --max-pages must be >= 1, --delay >= 0 and --timeout > 0", file=sys.stderr)
        return 2
    out = args.out or settings.docs_dir
    options = ScrapeOptions(start_urls=args.urls, sitemaps=args.sitemap, out_dir=out,
                            max_pages=args.max_pages, delay=args.delay, same_prefix=args.same_prefix,
                            timeout=args.timeout)
    print(f"scraping into {out} (at most {args.max_pages} pages, {args.delay:g}s between requests)",
          flush=True)
    stats = Scraper(options, emit=lambda line: print(line, flush=True)).run()
    if stats.fetched:
        print("the Tech Lead will re-index on its next search; `jobagent docs index` does it now")
    return 0 if stats.kept or not stats.errors else 1


def _docs_dir(args: argparse.Namespace, settings: Any) -> Path | None:
    docs = args.docs_dir or settings.docs_dir
    return docs if docs.is_dir() else None


def cmd_index(args: argparse.Namespace, settings: Any) -> int:
    from retrieval import DocsIndex
    from retrieval.pages import page_files

    docs = _docs_dir(args, settings)
    started = time.perf_counter()
    index = DocsIndex.load_or_build(docs_dir=docs, cache_dir=settings.index_dir)
    elapsed = time.perf_counter() - started
    how = "loaded from cache" if index.built_from_cache else "rebuilt"
    pages = f"{len(page_files(docs))} pages in {docs}" if docs else "no docs dir (SDK reference only)"
    print(f"index {how} in {elapsed:.2f}s: {index.size} chunks; {pages}")
    print(f"fingerprint {index.fingerprint[:16]}; cache {index.cache_path or '(memory only)'}")
    return 0 if index.size else 1


def cmd_search(args: argparse.Namespace, settings: Any) -> int:
    from retrieval import DocsIndex

    index = DocsIndex.load_or_build(docs_dir=_docs_dir(args, settings), cache_dir=settings.index_dir)
    results = index.search(args.query, k=args.k)
    if not results:
        print("no passages found")
        return 1
    for n, p in enumerate(results, 1):
        first = next((line.strip() for line in p.text.splitlines() if line.strip()), "")
        where = p.metadata.get("heading_path") or p.metadata.get("path") or ""
        print(f"{n}. {p.title}  [{p.source}, score {p.score:.2f}]")
        print(f"   {p.url}" + (f"  ({where})" if where and where not in p.title else ""))
        print(f"   {first[:160]}{'…' if len(first) > 160 else ''}")
    return 0
