"""`jobagent docs scrape`: polite crawler that turns Databricks documentation pages into Markdown files.

Output: one `.md` per page under OUT/<host>/<path>.md with `url:` and `title:` front matter, which is
exactly what retrieval/pages.py reads: it splits the page at headings and cites each chunk with the
page URL and heading path. A JSON cache beside the pages (hidden, so never indexed) keeps ETag and
Last-Modified per URL, so re-runs send conditional requests and a 304 keeps the stored page.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

from .fetch import Fetcher, Response, Robots, host_of
from .html2md import convert

CACHE_FILE = ".scrape-cache.json"
MAX_SITEMAPS = 50  # sitemap index files can nest; stay bounded
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class ScrapeOptions:
    start_urls: list[str]
    out_dir: Path
    sitemaps: list[str] = field(default_factory=list)
    max_pages: int = 100
    delay: float = 1.0
    same_prefix: bool = True
    timeout: float = 20.0


@dataclass
class ScrapeStats:
    fetched: int = 0
    not_modified: int = 0
    robots: int = 0
    errors: int = 0
    skipped: int = 0  # answered but not a page we keep (not HTML, redirected away)
    visited: int = 0  # page URLs requested (what --max-pages bounds)
    requests: int = 0  # every HTTP request, robots.txt and sitemaps included
    files: list[Path] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.fetched + self.not_modified


def page_file(url: str) -> Path:
    """Where a URL's Markdown lives, relative to the docs dir: <host>/<path>.md (index.md for dirs)."""
    parts = urlsplit(url)
    host = re.sub(r"[^\w.-]", "_", parts.netloc.lower())
    segs = [re.sub(r"[^\w.-]", "_", s).lstrip(".") or "_" for s in parts.path.split("/") if s]
    if not segs or parts.path.endswith("/"):
        segs.append("index")
    segs[-1] = re.sub(r"\.(?:html?|md)$", "", segs[-1]) or "index"
    if parts.query:
        segs[-1] += "__" + hashlib.sha1(parts.query.encode()).hexdigest()[:8]
    return Path(host, *segs[:-1], segs[-1] + ".md")


def _scope_prefix(url: str, same_prefix: bool) -> tuple[str, str]:
    """(host, path prefix) a start URL allows: its directory, like wget --no-parent."""
    path = urlsplit(url).path or "/"
    return host_of(url), (path[: path.rfind("/") + 1] if same_prefix else "/")


def _decode(resp: Response) -> str:
    ctype = resp.headers.get("content-type", "")
    m = re.search(r"charset=[\"']?([\w-]+)", ctype, re.I) or re.search(
        rb"<meta[^>]+charset=[\"']?([\w-]+)", resp.body[:4096], re.I)
    charset = m.group(1) if m else "utf-8"
    charset = charset.decode("ascii", "replace") if isinstance(charset, bytes) else charset
    try:
        return resp.body.decode(charset, errors="replace")
    except LookupError:
        return resp.body.decode("utf-8", errors="replace")


def render_page(url: str, title: str, markdown: str) -> str:
    """The file pages.py reads: front matter first, then the article (with an h1 so paths start there)."""
    title = " ".join(title.split()) or url
    if not re.match(r"#\s", markdown):
        markdown = f"# {title}\n\n{markdown}"
    return f"---\nurl: {url}\ntitle: {title}\n---\n\n{markdown.rstrip()}\n"


def _write(path: Path, text: str) -> None:
    """Atomic, and skipped when unchanged (mtime stays, so the corpus fingerprint stays cheap)."""
    if path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class Scraper:
    def __init__(self, options: ScrapeOptions, *, emit: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
                 ) -> None:
        self.opt = options
        self.emit = emit
        self.fetcher = Fetcher(delay=options.delay, timeout=options.timeout, clock=clock, sleep=sleep)
        self.robots = Robots(self.fetcher)
        self.scopes = {_scope_prefix(u, options.same_prefix) for u in options.start_urls or options.sitemaps}
        self.cache_path = Path(options.out_dir) / CACHE_FILE
        self.cache: dict[str, dict] = self._load_cache()
        self.stats = ScrapeStats()
        self._notes_seen = 0
        self._seen: set[str] = set()

    # -- cache ---------------------------------------------------------------------------------------
    def _load_cache(self) -> dict[str, dict]:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
            return data["pages"] if data.get("version") == 1 else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def _save_cache(self) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(CACHE_FILE + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "pages": self.cache}, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, self.cache_path)

    # -- scope ---------------------------------------------------------------------------------------
    def in_scope(self, url: str) -> bool:
        host, path = host_of(url), urlsplit(url).path or "/"
        return url.startswith(("http://", "https://")) and any(
            host == h and path.startswith(p) for h, p in self.scopes)

    def _refuse(self, url: str) -> str | None:
        if not self.in_scope(url):
            return "out of scope"
        return None if self.robots.allowed(url) else "disallowed by robots.txt"

    def _say(self, status: str, url: str, detail: str = "") -> None:
        for note in self.robots.notes[self._notes_seen:]:
            self.emit(f"  note: {note}")
        self._notes_seen = len(self.robots.notes)
        page_line = status not in ("sitemap", "robots.txt")
        count = f"[{self.stats.visited}/{self.opt.max_pages}]" if page_line else ""
        self.emit(f"{count:>9} {status:<13} {url}" + (f"  {detail}" if detail else ""))

    # -- sitemaps ------------------------------------------------------------------------------------
    def sitemap_urls(self, sitemap: str) -> list[str]:
        """Page URLs listed by a sitemap (following sitemap index files), in scope and de-duplicated."""
        todo, seen, pages = deque([sitemap]), set(), []
        while todo and len(seen) < MAX_SITEMAPS:
            url = todo.popleft()
            if url in seen:
                continue
            seen.add(url)
            if not self.robots.allowed(url):
                self._say("robots.txt", url, "skipped: sitemap disallowed")
                continue
            resp = self.fetcher.get(url, allow=lambda u: None if self.robots.allowed(u) else "robots.txt")
            if not resp.ok:
                self.stats.errors += 1
                self._say("error", url, resp.error or f"sitemap: HTTP {resp.status}")
                continue
            try:
                root = ET.fromstring(resp.body)
            except ET.ParseError as exc:
                self.stats.errors += 1
                self._say("error", url, f"sitemap is not valid XML ({exc})")
                continue
            locs = [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "loc" and el.text]
            if root.tag.rsplit("}", 1)[-1] == "sitemapindex":
                todo.extend(u for u in locs if host_of(u) == host_of(url))  # never wander off-site
                self._say("sitemap", url, f"index of {len(locs)} sitemaps")
            else:
                mine = [u for u in locs if self.in_scope(u)]
                pages.extend(mine)
                self._say("sitemap", url, f"{len(locs)} URLs, {len(mine)} in scope")
        return list(dict.fromkeys(pages))

    # -- the crawl -----------------------------------------------------------------------------------
    def run(self) -> ScrapeStats:
        started = time.perf_counter()
        queue: deque[str] = deque()

        def enqueue(url: str) -> None:
            url = urldefrag(url).url
            if url not in self._seen and self.in_scope(url):
                self._seen.add(url)
                queue.append(url)

        follow = bool(self.opt.start_urls)  # a sitemap alone is the list of pages: no link following
        for url in self.opt.start_urls:
            enqueue(url)
        for sitemap in self.opt.sitemaps:
            for url in self.sitemap_urls(sitemap):
                enqueue(url)
        try:
            while queue and self.stats.visited < self.opt.max_pages:
                url = queue.popleft()
                if not self.robots.allowed(url):
                    self.stats.robots += 1
                    self._say("robots.txt", url, "skipped: disallowed")
                    continue
                self.stats.visited += 1
                for link in self._visit(url):
                    if follow:
                        enqueue(link)
        finally:
            self._save_cache()
        self.stats.requests = self.fetcher.requests
        other = f", {self.stats.skipped} skipped (not HTML)" if self.stats.skipped else ""
        left = f", {len(queue)} more in scope not visited (--max-pages)" if queue else ""
        self.emit(f"done: {self.stats.fetched} fetched, {self.stats.not_modified} not modified, "
                  f"{self.stats.robots} skipped by robots.txt{other}, {self.stats.errors} errors{left}; "
                  f"{self.fetcher.requests} requests in "
                  f"{time.perf_counter() - started:.1f}s; pages in {self.opt.out_dir}")
        return self.stats

    def _visit(self, url: str) -> list[str]:
        """Fetch one page, store it, and return its links (from the cache when unchanged)."""
        entry = self.cache.get(url, {})
        stored = Path(self.opt.out_dir) / entry["file"] if entry.get("file") else None
        headers = {}
        if stored is not None and stored.is_file():
            if entry.get("etag"):
                headers["If-None-Match"] = entry["etag"]
            if entry.get("last_modified"):
                headers["If-Modified-Since"] = entry["last_modified"]
        resp = self.fetcher.get(url, headers, allow=self._refuse)
        if resp.error:
            self.stats.errors += 1
            self._say("error", url, resp.error)
            return []
        if resp.status == 304 and headers:
            self.stats.not_modified += 1
            self.stats.files.append(stored)
            self._say("not modified", url, f"kept {entry['file']}")
            return entry.get("links", [])
        if resp.status != 200:
            self.stats.errors += 1
            self._say("error", url, f"HTTP {resp.status}")
            return []
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in HTML_TYPES and not (not ctype and b"<html" in resp.body[:2048].lower()):
            self.stats.skipped += 1
            self._say("skipped", url, f"not HTML ({ctype or 'no content type'})")
            return []
        final = urldefrag(resp.url).url
        self._seen.add(final)  # a redirect target is not fetched again under its own name
        rel = page_file(final)
        try:
            page = convert(_decode(resp), final)
            _write(Path(self.opt.out_dir) / rel, render_page(final, page.title, page.markdown))
        except (RecursionError, OSError, ValueError) as exc:  # one odd page must not end the crawl
            self.stats.errors += 1
            self._say("error", url, f"could not convert or save: {type(exc).__name__}: {exc}")
            return []
        self.cache[url] = {
            "file": rel.as_posix(), "url": final, "title": page.title, "links": page.links,
            "etag": resp.headers.get("etag"), "last_modified": resp.headers.get("last-modified"),
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.stats.fetched += 1
        self.stats.files.append(Path(self.opt.out_dir) / rel)
        sections = sum(1 for line in page.markdown.splitlines() if re.match(r"#{1,6}\s", line))
        size = f"{len(page.markdown) / 1000:.1f} kB"
        self._say("fetched", url, f"-> {rel.as_posix()} ({sections} sections, {size})")
        return page.links
