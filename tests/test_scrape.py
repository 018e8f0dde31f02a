"""Docs scraper against a local HTTP server serving Databricks-like pages (tests/fixtures/site), the
`jobagent docs` commands, and the retrieval-quality regression gate (tests/data/retrieval_eval.yaml).

The server binds 127.0.0.1 port 0 and is listening before the fixture returns (the socket listens in
the constructor), so no test waits or sleeps; rate limiting is checked with a fake clock.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path

import pytest

from retrieval import DocsIndex, clear_memo
from retrieval.fetch import Response, Robots
from retrieval.html2md import convert
from retrieval.quality import evaluate, load_cases, summary
from retrieval.scrape import CACHE_FILE, ScrapeOptions, Scraper, page_file

SITE = Path(__file__).parent / "fixtures" / "site"
EVAL = Path(__file__).parent / "data" / "retrieval_eval.yaml"
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


class Site:
    """The fixture site: static files with {base} filled in, ETag/304 support and a request log."""

    def __init__(self) -> None:
        self.log: list[dict] = []
        self.gzipped = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, body, ctype = site.resolve(self.path)
                etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"'
                if status == 200 and ctype.startswith("text/html") and (
                        self.headers.get("If-None-Match") == etag):
                    status, body = 304, b""
                site.log.append({"path": self.path, "status": status, "headers": dict(self.headers)})
                if status == 200 and "gzip" in self.headers.get("Accept-Encoding", ""):
                    body = gzip.compress(body)
                    site.gzipped += 1
                self.send_response(status)
                if body and body[:2] == b"\x1f\x8b":
                    self.send_header("Content-Encoding", "gzip")
                if status in (200, 304):
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", LAST_MODIFIED)
                if status == 301:
                    self.send_header("Location", body.decode())
                    body = b""
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def resolve(self, path: str) -> tuple[int, bytes, str]:
        path = path.split("?")[0]
        specials = {"/aws/en/jobs/old-schedules": (301, b"/aws/en/jobs/schedule-jobs", "text/html"),
                    "/aws/en/jobs/broken": (500, b"<h1>oops</h1>", "text/html"),
                    "/aws/en/jobs/api.json": (200, b'{"jobs": []}', "application/json")}
        if path in specials:
            return specials[path]
        rel = path.lstrip("/")
        candidates = [rel + "index.html"] if path.endswith("/") else [rel, rel + ".html"]
        for name in candidates:
            file = SITE / name
            if name and file.is_file() and SITE in file.resolve().parents:
                text = file.read_text(encoding="utf-8").replace("{base}", self.base)
                ctype = {".xml": "application/xml", ".txt": "text/plain"}.get(file.suffix, "text/html")
                return 200, text.encode(), f"{ctype}; charset=utf-8"
        return 404, b"<h1>Not found</h1>", "text/html"

    def paths(self, since: int = 0) -> list[str]:
        return [e["path"] for e in self.log[since:]]


@pytest.fixture(scope="module")
def site():
    s = Site()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def scrape(site: Site, out: Path, *urls: str, **kw) -> tuple[Scraper, list[str]]:
    lines: list[str] = []
    opts = ScrapeOptions(start_urls=[site.base + u for u in urls], out_dir=out, delay=0, **kw)
    scraper = Scraper(opts, emit=lines.append)
    scraper.run()
    return scraper, lines


def test_scrape_follows_links_and_writes_clean_markdown(site: Site, tmp_path: Path):
    since = len(site.log)
    scraper, lines = scrape(site, tmp_path, "/aws/en/jobs/")
    stats = scraper.stats
    assert (stats.fetched, stats.robots, stats.errors) == (3, 1, 0), lines
    requested = site.paths(since)
    assert requested[0] == "/robots.txt" and requested.count("/robots.txt") == 1
    assert not any("/private/" in p for p in requested)  # disallowed by robots.txt: never requested
    assert not any(p.startswith(("/aws/en/compute", "/aws/en/privacy")) for p in requested)  # out of scope
    assert any(line.split()[0] == "robots.txt" and "internal-runbook" in line for line in lines)
    assert lines[-1].startswith("done: 3 fetched, 0 not modified, 1 skipped by robots.txt")
    assert site.gzipped >= 3  # pages arrived gzip-encoded and were decoded

    page = (tmp_path / page_file(site.base + "/aws/en/jobs/schedule-jobs")).read_text(encoding="utf-8")
    url = f"{site.base}/aws/en/jobs/schedule-jobs"
    assert page.startswith(f"---\nurl: {url}\ntitle: Schedules and triggers\n---")
    for chrome in ("Databricks on AWS", "Docs sidebar", "Compute sidebar entry", "Breadcrumb Jobs",
                   "On this page", "Privacy Notice", "All rights reserved", "cookies", "Was this article",
                   "Copy", "Tracking pixel", "Search the docs", "Next"):
        assert chrome not in page, chrome
    assert "# Schedules and triggers\n" in page and "\n## Add a job schedule\n" in page  # permalink dropped
    assert "\n### Cron syntax\n" in page
    assert '```json\n{\n  "quartz_cron_expression": "0 30 2 * * ?",\n' in page  # Prism lines kept apart
    assert "```python\nfrom databricks.sdk.service.jobs import CronSchedule\n" in page
    assert "| Trigger type | Setting | Starts a run when |\n| --- | --- | --- |\n" in page
    assert "| File arrival | `trigger.file_arrival.url` | new files land" in page
    assert "a source table changes \\| is refreshed" in page  # pipe inside a cell escaped
    assert f"[notifications]({site.base}/aws/en/jobs/notifications)" in page  # ../jobs/notifications
    assert "Set `schedule` in the job settings" in page

    overview = (tmp_path / page_file(site.base + "/aws/en/jobs/")).read_text(encoding="utf-8")
    assert f"[job notifications]({site.base}/aws/en/jobs/notifications#email)" in overview
    assert "1. Create the job" in overview and "   - A task can depend on several tasks." in overview
    assert not (tmp_path / site.base.split("//")[1].replace(":", "_") / "aws/en/jobs/private").exists()


def test_second_run_is_conditional_and_keeps_pages(site: Site, tmp_path: Path):
    scrape(site, tmp_path, "/aws/en/jobs/")
    files = sorted(p for p in tmp_path.rglob("*.md"))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
    since = len(site.log)
    scraper, lines = scrape(site, tmp_path, "/aws/en/jobs/")
    assert (scraper.stats.fetched, scraper.stats.not_modified) == (0, 3), lines
    pages = [e for e in site.log[since:] if e["path"].startswith("/aws/")]
    assert len(pages) == 3 and all(e["status"] == 304 for e in pages)
    assert all(e["headers"].get("If-None-Match", "").startswith('"') for e in pages)
    assert all(e["headers"].get("If-Modified-Since") == LAST_MODIFIED for e in pages)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == before
    assert sum(line.split()[1:3] == ["not", "modified"] for line in lines) == 3

    next(iter(files)).unlink()  # a page deleted locally is fetched in full again
    since = len(site.log)
    scraper, _ = scrape(site, tmp_path, "/aws/en/jobs/")
    assert (scraper.stats.fetched, scraper.stats.not_modified) == (1, 2)


def test_max_pages_is_respected(site: Site, tmp_path: Path):
    since = len(site.log)
    scraper, lines = scrape(site, tmp_path, "/aws/en/jobs/", max_pages=2)
    assert scraper.stats.visited == 2 and scraper.stats.fetched == 2
    assert len([p for p in site.paths(since) if p != "/robots.txt"]) == 2
    assert "more in scope not visited (--max-pages)" in lines[-1]


def test_rate_limit_between_requests_to_one_host(site: Site, tmp_path: Path):
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    opts = ScrapeOptions(start_urls=[site.base + "/aws/en/jobs/"], out_dir=tmp_path, delay=2.5)
    scraper = Scraper(opts, emit=lambda _: None, clock=lambda: now[0], sleep=sleep)
    started: list[float] = []
    real_open = scraper.fetcher._opener.open
    scraper.fetcher._opener.open = lambda *a, **kw: (started.append(now[0]), real_open(*a, **kw))[1]
    scraper.run()
    assert len(started) == scraper.fetcher.requests == 4  # robots.txt + 3 pages
    assert all(b - a >= 2.5 for a, b in pairwise(started))
    assert sleeps == [2.5] * 3


def test_sitemap_index_seeds_the_crawl(site: Site, tmp_path: Path):
    since = len(site.log)
    lines: list[str] = []
    opts = ScrapeOptions(start_urls=[], sitemaps=[site.base + "/sitemap.xml"], out_dir=tmp_path, delay=0)
    stats = Scraper(opts, emit=lines.append).run()
    assert (stats.fetched, stats.robots, stats.errors) == (3, 1, 0), lines
    assert site.paths(since)[:3] == ["/robots.txt", "/sitemap.xml", "/aws/en/sitemap-jobs.xml"]
    assert not any("/private/" in p for p in site.paths(since))
    assert any("4 URLs, 4 in scope" in line for line in lines)


def test_errors_are_reported_and_the_run_goes_on(site: Site, tmp_path: Path):
    hang = socket.socket()  # accepts connections (backlog) but never answers: a timeout
    hang.bind(("127.0.0.1", 0))
    hang.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    try:
        paths = ("missing", "broken", "api.json", "old-schedules")
        urls = [f"{site.base}/aws/en/jobs/{p}" for p in paths]
        urls += [f"http://127.0.0.1:{hang.getsockname()[1]}/docs/", f"http://127.0.0.1:{dead_port}/docs/"]
        lines: list[str] = []
        opts = ScrapeOptions(start_urls=urls, out_dir=tmp_path, delay=0, timeout=0.3, same_prefix=False,
                             max_pages=6)
        stats = Scraper(opts, emit=lines.append).run()
    finally:
        hang.close()
    text = "\n".join(lines)
    assert "HTTP 404" in text and "HTTP 500" in text and "not HTML (application/json)" in text
    assert "timed out" in text and "network error" in text
    assert stats.fetched == 1  # old-schedules redirected to schedule-jobs and was kept under that URL
    assert (tmp_path / page_file(site.base + "/aws/en/jobs/schedule-jobs")).is_file()
    assert stats.skipped == 1 and stats.errors >= 4
    assert lines[-1].startswith("done: 1 fetched")


def test_html_conversion_details():
    html = """<html><head><title>Tabs | Databricks on AWS</title></head><body>
    <div class="content"><h2>Intro <a class="headerlink" href="#intro">¶</a></h2>
    <p>Text with <code>a|b</code>, <a href="../x/y.html#frag">a link</a> and
    <a href="mailto:someone@example.com">mail</a>.</p>
    <div class="highlight-python notranslate"><div class="highlight"><pre>print("```")</pre></div></div>
    <table><tr><td>k</td><td>v</td></tr></table>
    <ul class="sidebar-menu"><li>hidden menu</li></ul><div hidden>invisible</div>
    <p># not a heading</p></div></body></html>"""
    page = convert(html, "https://docs.databricks.com/aws/en/a/b.html")
    assert page.title == "Tabs"
    assert "## Intro\n" in page.markdown and "¶" not in page.markdown
    assert "[a link](https://docs.databricks.com/aws/en/x/y.html#frag)" in page.markdown
    assert '~~~python\nprint("```")\n~~~' in page.markdown
    assert "| k | v |" in page.markdown
    assert "hidden menu" not in page.markdown and "invisible" not in page.markdown
    assert "\\# not a heading" in page.markdown
    assert page.links == ["https://docs.databricks.com/aws/en/x/y.html"]  # http(s) only, no fragment
    soup = "<article><h1>Soup</h1>" + "<span>" * 5000 + "deep text</article>"  # unclosed tags
    assert convert(soup, "https://docs.databricks.com/x").markdown == "# Soup\n\ndeep text\n"


def test_tabs_menuselection_and_sphinx_sidebar():
    html = """<div class="sphinxsidebar"><p>sidebar words</p></div>
    <div role="main"><h1>Tabs</h1><ul role="tablist"><li>Python</li><li>SQL</li></ul>
    <div role="tabpanel"><pre><code class="language-python">print(1)</code></pre></div>
    <div role="tabpanel" hidden><pre><code class="language-sql">SELECT 1</code></pre></div>
    <p>Open <span class="menuselection">Workspace &gt; Users</span>.</p></div>"""
    md = convert(html, "https://docs.databricks.com/aws/en/t").markdown
    assert "```python\nprint(1)\n```" in md and "```sql\nSELECT 1\n```" in md
    assert "Open Workspace > Users." in md and "sidebar words" not in md and "- Python" not in md


class _StubFetcher:
    user_agent = "jobagent-docs-scraper/0.1"

    def __init__(self, resp: Response) -> None:
        self.resp, self.host_delay = resp, {}

    def get(self, url: str, headers=None, allow=None) -> Response:
        return self.resp


def test_robots_crawl_delay_and_unavailable_robots():
    rules = b"User-agent: *\nCrawl-delay: 5\nDisallow: /private/\n"
    fetcher = _StubFetcher(Response("https://h.test/robots.txt", 200, body=rules))
    robots = Robots(fetcher)
    assert robots.allowed("https://h.test/docs/a") and not robots.allowed("https://h.test/private/b")
    assert fetcher.host_delay == {"https://h.test": 5.0}
    down = Robots(_StubFetcher(Response("https://h.test/robots.txt", 503)))
    assert not down.allowed("https://h.test/docs/a") and "treating the whole host" in down.notes[0]
    missing = Robots(_StubFetcher(Response("https://h.test/robots.txt", 404)))
    assert missing.allowed("https://h.test/docs/a")


def test_page_file_layout():
    root = "https://docs.databricks.com/aws/en/jobs"
    assert page_file(f"{root}/") == Path("docs.databricks.com/aws/en/jobs/index.md")
    assert page_file(f"{root}/a.html") == Path("docs.databricks.com/aws/en/jobs/a.md")
    assert page_file(root) == Path("docs.databricks.com/aws/en/jobs.md")
    assert page_file("http://127.0.0.1:8080/x/.hidden?q=1").parts[0] == "127.0.0.1_8080"
    assert not page_file("http://127.0.0.1:8080/x/.hidden?q=1").name.startswith(".")


def test_scraped_pages_are_indexed_with_url_and_heading_path(site: Site, tmp_path: Path):
    docs, cache = tmp_path / "docs", tmp_path / "cache"
    scrape(site, docs, "/aws/en/jobs/notifications", max_pages=1)
    assert (docs / CACHE_FILE).is_file()
    first = DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False)
    hit = first.search("walrus rotation failure email", k=3)[0]
    assert hit.url == f"{site.base}/aws/en/jobs/notifications" and hit.source == "docs"
    assert hit.metadata["heading_path"] == "Add notifications on a job > Email notifications"
    assert hit.title == "Add notifications on a job > Email notifications"
    assert "```yaml" in hit.text
    assert all("schedule-jobs" not in p.url for p in first.search("quartz cron syntax"))  # not scraped yet

    scrape(site, docs, "/aws/en/jobs/")  # new pages => new corpus fingerprint
    clear_memo()  # what a fresh process (the Tech Lead after a restart, `jobagent docs index`) sees
    again = DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False)
    assert again.fingerprint != first.fingerprint and not again.built_from_cache and again.size > first.size
    cron = again.search("quartz cron syntax seconds field", k=3)[0]
    assert cron.url == f"{site.base}/aws/en/jobs/schedule-jobs"
    assert cron.metadata["heading_path"] == "Schedules and triggers > Add a job schedule > Cron syntax"
    assert cron.title == "Schedules and triggers > Add a job schedule > Cron syntax"
    clear_memo()
    assert DocsIndex.load_or_build(docs_dir=docs, cache_dir=cache, include_sdk=False).built_from_cache


def test_cli_docs_scrape_index_and_search(site: Site, tmp_path: Path, monkeypatch, capsys, sdk_index):
    from agent.cli import main

    monkeypatch.setenv("JOBAGENT_HOME", str(sdk_index.cache_path.parent.parent.parent))
    monkeypatch.setenv("JOBAGENT_DOCS_DIR", str(tmp_path / "docs"))
    assert main(["docs", "scrape"]) == 2
    assert main(["docs", "scrape", "ftp://example.invalid/"]) == 2
    assert main(["docs", "index"]) == 0  # no docs dir yet: the SDK-only index, shared with the eval
    out = capsys.readouterr().out
    assert f"{sdk_index.size} chunks; no docs dir" in out and sdk_index.fingerprint[:16] in out
    assert main(["docs", "search", "email me when it fails", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. ") and "\n2. " in out and "\n3. " not in out
    assert "on_failure" in out.split("\n2. ")[0] and "docs.databricks.com/api/workspace/jobs/create" in out
    assert main(["docs", "scrape", site.base + "/aws/en/jobs/", "--delay", "0", "--max-pages", "1"]) == 0
    out = capsys.readouterr().out
    assert "fetched" in out and "done: 1 fetched" in out and "jobagent docs index" in out


# -- retrieval quality gate ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sdk_index(tmp_path_factory: pytest.TempPathFactory) -> DocsIndex:
    """The SDK-reference index, built once for the eval and the CLI test (cache under <home>/index)."""
    home = tmp_path_factory.mktemp("home")
    return DocsIndex.load_or_build(docs_dir=None, cache_dir=home / "index")


def test_retrieval_quality_gate(sdk_index: DocsIndex):
    cases = load_cases(EVAL)
    assert len(cases) >= 40
    results = evaluate(sdk_index, cases, k=5)
    recall, mrr = summary(results)
    misses = [(r.case.request, r.titles) for r in results if r.recall < 1]
    assert recall >= 0.85, misses
    assert mrr >= 0.6, misses
