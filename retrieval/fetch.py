"""Polite HTTP for the docs scraper: one User-Agent, per-host rate limit, robots.txt, timeouts.

Redirects are followed here, hop by hop, so every hop is rate-limited and checked against robots.txt
and the crawl scope (urllib's automatic redirects would bypass all three). Nothing here raises on
network trouble: a Response with `error` set is returned instead, so one bad URL never ends a crawl.
The clock and sleep are injectable so tests can check the rate limit without waiting.
"""

from __future__ import annotations

import gzip
import http.client
import os
import time
import urllib.error
import urllib.request
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

# Site owners see who is crawling; JOBAGENT_SCRAPER_CONTACT adds a URL or address to reach the operator.
USER_AGENT = "jobagent-docs-scraper/0.1" + (
    f" (+{os.environ['JOBAGENT_SCRAPER_CONTACT']})" if os.environ.get("JOBAGENT_SCRAPER_CONTACT") else ""
)
MAX_BYTES = 8_000_000  # larger responses are not documentation pages
MAX_REDIRECTS = 5


@dataclass
class Response:
    url: str  # final URL after redirects
    status: int = 0  # 0 = no HTTP answer (see error)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None  # the 3xx surfaces as an HTTPError and Fetcher.get follows it itself


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Fetcher:
    """GETs with a minimum delay between requests to the same host (measured end to start)."""

    def __init__(self, *, delay: float = 1.0, timeout: float = 20.0, user_agent: str = USER_AGENT,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
                 ) -> None:
        self.delay, self.timeout, self.user_agent = delay, timeout, user_agent
        self.clock, self.sleep = clock, sleep
        self.host_delay: dict[str, float] = {}  # raised per host by robots.txt Crawl-delay
        self._last: dict[str, float] = {}
        self._opener = urllib.request.build_opener(_NoRedirect)
        self.requests = 0

    def _wait_turn(self, host: str) -> None:
        last = self._last.get(host)
        if last is not None:
            gap = last + max(self.delay, self.host_delay.get(host, 0.0)) - self.clock()
            if gap > 0:
                self.sleep(gap)

    def _once(self, url: str, headers: dict[str, str]) -> Response:
        host = host_of(url)
        self._wait_turn(host)
        req = urllib.request.Request(url, headers={"User-Agent": self.user_agent,
                                                   "Accept-Encoding": "gzip", **headers})
        self.requests += 1
        try:
            try:
                resp = self._opener.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as exc:  # 3xx/4xx/5xx still carry headers and a body
                resp = exc
            with resp:
                raw = resp.read(MAX_BYTES + 1)
                out = Response(url, resp.status if hasattr(resp, "status") else resp.code,
                               {k.lower(): v for k, v in resp.headers.items()})
            if len(raw) > MAX_BYTES:
                return Response(url, out.status, out.headers, error=f"larger than {MAX_BYTES} bytes")
            if out.headers.get("content-encoding", "").lower() == "gzip" or raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            out.body = raw
            return out
        except urllib.error.URLError as exc:
            return Response(url, error=f"network error: {exc.reason}")
        except (TimeoutError, OSError, http.client.HTTPException, ValueError, EOFError) as exc:
            kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            return Response(url, error=f"{kind}: {exc}" if str(exc) else kind)
        finally:
            self._last[host] = self.clock()

    def get(self, url: str, headers: dict[str, str] | None = None,
            allow: Callable[[str], str | None] | None = None) -> Response:
        """GET url, following redirects; `allow(next_url)` returns a reason to refuse a hop, or None."""
        headers = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._once(url, headers)
            location = resp.headers.get("location")
            if resp.error or resp.status not in (301, 302, 303, 307, 308) or not location:
                return resp
            nxt = urljoin(url, location)
            if allow and (why := allow(nxt)):
                return Response(url, resp.status, resp.headers, error=f"redirect to {nxt} refused: {why}")
            url, headers = nxt, {}  # validators belong to the original URL
        return Response(url, error=f"more than {MAX_REDIRECTS} redirects")


class Robots:
    """robots.txt per host, fetched once through the same Fetcher (so it is rate-limited too).

    RFC 9309: 4xx means no rules (allowed); 5xx or no answer means assume everything is disallowed.
    """

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._rules: dict[str, urllib.robotparser.RobotFileParser] = {}
        self.notes: list[str] = []  # human-readable problems, for the progress output

    def _load(self, host: str) -> urllib.robotparser.RobotFileParser:
        rp = urllib.robotparser.RobotFileParser(f"{host}/robots.txt")
        resp = self.fetcher.get(f"{host}/robots.txt")
        if resp.ok:
            rp.parse(resp.body.decode("utf-8", errors="replace").splitlines())
        elif resp.status in (401, 403) or resp.status >= 500 or resp.error:
            rp.disallow_all = True
            self.notes.append(f"{host}/robots.txt unavailable ({resp.error or f'HTTP {resp.status}'}); "
                              "treating the whole host as disallowed")
        else:
            rp.allow_all = True
        if (crawl_delay := rp.crawl_delay(self.fetcher.user_agent)) is not None:
            self.fetcher.host_delay[host] = float(crawl_delay)
        return rp

    def allowed(self, url: str) -> bool:
        host = host_of(url)
        if host not in self._rules:
            self._rules[host] = self._load(host)
        return self._rules[host].can_fetch(self.fetcher.user_agent, url)
