"""Documentation pages from a docs directory (Markdown, HTML, reStructuredText) split into chunks.

Pages are split at headings so a passage is about one thing and can be cited with its page URL and
heading path. Only the standard library is used: the scraper that fills the directory decides
what goes in; this module just has to read it robustly.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path

from .chunks import Chunk

log = logging.getLogger("retrieval")

SUFFIXES = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".rst": "rst"}
MAX_CHARS = 2000  # longer sections are cut at paragraph breaks; BM25 favours focused passages

Section = tuple[int, str, str]  # (level, heading, body); level 0 = text before the first heading

_COMMENT_URL = re.compile(r"^\s*(?:<!--|\.\.)\s*(?:url|canonical|source_url)\s*:\s*(\S+)", re.I)
_COMMENT_GITHUB = re.compile(
    r"source:\s*github\.com/([\w.-]+/[\w.-]+)\s+path:\s*(\S+)\s+commit:\s*([0-9a-f]+)")


def _url_from_first_line(first: str) -> str | None:
    """A page URL declared in a leading comment: `<!-- url: ... -->` or a GitHub provenance line."""
    if m := _COMMENT_URL.match(first):
        return m.group(1).removesuffix("-->").strip()
    if m := _COMMENT_GITHUB.search(first):
        return f"https://github.com/{m.group(1)}/blob/{m.group(3)}/{m.group(2)}"
    return None


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple `key: value` YAML front matter, and the text after it."""
    m = re.match(r"---[ \t]*\n(.*?)\n---[ \t]*(?:\n|$)", text, re.S)
    if not m:
        return {}, text
    meta = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t")):
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, text[m.end():]


def parse_markdown(text: str) -> tuple[dict[str, str], list[Section]]:
    lines = text.splitlines()
    meta: dict[str, str] = {}
    if lines and (url := _url_from_first_line(lines[0])):
        meta["url"] = url
    if lines and lines[0].lstrip().startswith("<!--") and lines[0].rstrip().endswith("-->"):
        lines = lines[1:]
    fm, rest = _front_matter("\n".join(lines).lstrip("\n"))
    meta.update(fm)  # front matter is the more deliberate declaration
    sections: list[Section] = [(0, "", "")]
    body: list[str] = []
    fence = None
    for line in rest.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fence = None if fence and stripped.startswith(fence) else fence or stripped[:3]
        m = None if fence else re.match(r"(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if m:
            sections[-1] = (*sections[-1][:2], "\n".join(body))
            sections.append((len(m.group(1)), m.group(2), ""))
            body = []
        else:
            body.append(line)
    sections[-1] = (*sections[-1][:2], "\n".join(body))
    return meta, sections


_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")
_RST_DIRECTIVE = re.compile(r"^\s*\.\. py:(class|method|function|attribute|property)::\s+([\w.]+)")


def parse_rst(text: str) -> tuple[dict[str, str], list[Section]]:
    """Underlined (optionally overlined) titles become headings; `py:class`/`py:method` directives too."""
    lines = text.splitlines()
    meta: dict[str, str] = {}
    if lines and (url := _url_from_first_line(lines[0])):
        meta["url"] = url
        lines = lines[1:]
    styles: list[tuple[str, bool]] = []
    sections: list[Section] = [(0, "", "")]
    body: list[str] = []
    i = 0
    while i < len(lines):
        line, nxt = lines[i], lines[i + 1] if i + 1 < len(lines) else ""
        heading = level = None
        over = bool(_RST_ADORN.match(line)) and i + 2 < len(lines) and lines[i + 2].strip() == line.strip()
        if over and lines[i + 1].strip():
            heading, style, skip = lines[i + 1].strip(), (line.strip()[0], True), 3
        elif line.strip() and not line[0].isspace() and _RST_ADORN.match(nxt) and len(nxt.strip()) >= len(
                line.strip()) and not _RST_ADORN.match(line):
            heading, style, skip = line.strip(), (nxt.strip()[0], False), 2
        if heading is not None:
            if style not in styles:
                styles.append(style)
            level = min(styles.index(style) + 1, 4)
        elif m := _RST_DIRECTIVE.match(line):
            heading, level, skip = m.group(2), 5 if m.group(1) == "class" else 6, 1
        if heading is not None:
            sections[-1] = (*sections[-1][:2], "\n".join(body))
            sections.append((level, heading.replace("``", ""), ""))
            body = []
            i += skip
            continue
        body.append(line)
        i += 1
    sections[-1] = (*sections[-1][:2], "\n".join(body))
    return meta, sections


class _HTMLText(HTMLParser):
    """Visible text of a page grouped under h1-h3, without navigation chrome or code."""

    SKIP = {"nav", "script", "style", "header", "footer", "aside", "noscript", "template", "svg"}
    BLOCK = {"p", "div", "li", "br", "tr", "pre", "section", "article", "table", "ul", "ol", "dd", "dt",
             "h4", "h5", "h6", "blockquote", "main"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.sections: list[list] = [[0, "", []]]
        self._skip = 0
        self._heading: list[str] | None = None
        self._level = 0
        self._in_title = False
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "link" and "canonical" in a.get("rel", "").lower().split() and a.get("href"):
            self.meta.setdefault("url", a["href"])
        elif tag == "meta" and a.get("property") == "og:url" and a.get("content"):
            self.meta.setdefault("og_url", a["content"])
        elif tag in ("h1", "h2", "h3") and not self._skip:
            self._heading, self._level = [], int(tag[1])
        elif tag in self.BLOCK:
            self.sections[-1][2].append("\n")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag not in self.SKIP:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.sections.append([self._level, " ".join("".join(self._heading).split()), []])
            self._heading = None
        elif tag in self.BLOCK:
            self.sections[-1][2].append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
        elif self._skip:
            return
        elif self._heading is not None:
            self._heading.append(data)
        else:
            self.sections[-1][2].append(data)


def parse_html(text: str) -> tuple[dict[str, str], list[Section]]:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    meta = dict(parser.meta)
    if "url" not in meta and "og_url" in meta:
        meta["url"] = meta["og_url"]
    if title := " ".join("".join(parser._title).split()):
        meta["title"] = title
    sections = []
    for level, heading, parts in parser.sections:
        lines = (" ".join(line.split()) for line in "".join(parts).splitlines())
        sections.append((level, heading, "\n".join(line for line in lines if line)))
    return meta, sections


def _split_long(body: str) -> list[str]:
    """Cut an oversized section at paragraph breaks (or line breaks inside a huge paragraph)."""
    if len(body) <= MAX_CHARS:
        return [body]
    units: list[str] = []
    for para in re.split(r"\n\s*\n", body):
        units.extend(para.splitlines() if len(para) > MAX_CHARS else [para])
    pieces, current = [], ""
    for unit in units:
        if current and len(current) + len(unit) > MAX_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current}\n\n{unit}" if current else unit
    return [*pieces, current] if current.strip() else pieces


def sections_to_chunks(sections: list[Section], *, page_title: str, url: str, meta: dict) -> list[Chunk]:
    """One chunk per non-empty section, titled with the page title and its heading path."""
    out: list[Chunk] = []
    stack: list[tuple[int, str]] = []
    for level, heading, body in sections:
        if level:
            stack = [s for s in stack if s[0] < level] + [(level, heading)]
        body = body.strip()
        if not body:
            continue
        path = [h for _, h in stack]
        crumbs = [page_title] + (path[1:] if path and path[0] == page_title else path)
        for n, piece in enumerate(_split_long(body)):
            out.append(Chunk(" > ".join(crumbs), url, piece, "docs", {
                **meta, "kind": "page", "page_title": page_title, "heading_path": " > ".join(path),
                "part": n or None}))
    return out


def load_page(path: Path, root: Path | None = None) -> list[Chunk]:
    """Chunks of one page file; the URL comes from the page itself, else a file:// URI."""
    fmt = SUFFIXES[path.suffix.lower()]
    text = path.read_text(encoding="utf-8", errors="replace")
    meta, sections = {"md": parse_markdown, "rst": parse_rst, "html": parse_html}[fmt](text)
    first_heading = next((h for lvl, h, _ in sections if lvl == 1), None)
    title = meta.get("title") or first_heading or path.stem.replace("_", " ")
    url = meta.get("url") or path.resolve().as_uri()
    rel = str(path.relative_to(root)) if root else path.name
    return sections_to_chunks(sections, page_title=title, url=url, meta={"file": rel, "format": fmt})


def page_files(docs_dir: Path) -> list[Path]:
    """Supported files under docs_dir, hidden ones skipped, in a stable order."""
    return sorted(p for p in docs_dir.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(docs_dir).parts))


def docs_chunks(docs_dir: Path) -> list[Chunk]:
    out: list[Chunk] = []
    for path in page_files(docs_dir):
        try:
            out.extend(load_page(path, docs_dir))
        except (OSError, ValueError) as exc:  # one bad page must not sink the index
            log.warning("skipping unreadable docs page %s: %s", path, exc)
    return out
