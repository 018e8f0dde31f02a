"""HTML documentation page -> clean Markdown, with the standard library only.

Why a small tree rather than a streaming converter: tables, nested lists and code blocks need their
whole content before they can be written, and chrome (nav bars, sidebars, breadcrumbs, tables of
contents, cookie banners) is easiest to drop as whole subtrees. The article (or main) element is used
when the page has one, so site furniture outside it never reaches the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr"}
DROP_TAGS = {"script", "style", "noscript", "template", "svg", "nav", "aside", "footer", "button", "form",
             "select", "iframe", "head", "title", "dialog"}
CHROME_WORDS = ("nav", "sidebar", "menu", "breadcrumb", "footer", "toc", "cookie")  # class/id word starts
CHROME_PARTS = ("sidebar", "breadcrumb", "cookie", "navbar", "navigation", "footer")  # anywhere in a word
CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "tablist"}
BLOCK = {"p", "div", "section", "article", "main", "header", "aside", "nav", "footer", "h1", "h2", "h3",
         "h4", "h5", "h6", "ul", "ol", "pre", "table", "blockquote", "dl", "dt", "dd", "figure", "figcaption",
         "details", "summary", "hr", "li", "tr", "td", "th", "thead", "tbody", "tfoot", "body", "html"}
_CLOSES_P = {"p", "div", "ul", "ol", "table", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
             "section", "dl", "figure", "header"}
_IMPLIED = {"li": ({"li"}, {"ul", "ol"}), "tr": ({"tr"}, {"table"}), "td": ({"td", "th"}, {"tr", "table"}),
            "th": ({"td", "th"}, {"tr", "table"}), "dt": ({"dt", "dd"}, {"dl"}),
            "dd": ({"dt", "dd"}, {"dl"}), "thead": ({"tbody", "thead"}, {"table"}),
            "tbody": ({"tbody", "thead"}, {"table"})}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_LANG = re.compile(r"(?:^|\s)(?:language|lang|highlight|brush)[-:]([\w+#.-]+)", re.I)
_LINE_START = re.compile(r"^(#|>|```|~~~|---)", re.M)  # would read as heading/quote/fence
_CALLOUT = re.compile(r"(?:theme-)?admonition(?:_\w+)?$|callout$|alert$")  # the box, not its parts
_CODE_LINE = re.compile(r"(?:^|[\s-])line(?:$|\s)")
_PERMALINK_CLASS = re.compile(r"anchor|headerlink|hash-link")
_PERMALINK = {"#", "¶", "§", "🔗", "", "\u200b"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)
    parent: Node | None = None
    depth: int = 0

    def cls(self) -> str:
        return f"{self.attrs.get('class', '')} {self.attrs.get('id', '')}"

    def find(self, pred) -> Node | None:
        for child in self.children:
            if isinstance(child, Node):
                if pred(child):
                    return child
                if (hit := child.find(pred)) is not None:
                    return hit
        return None

    def find_all(self, pred) -> list[Node]:
        found: list[Node] = []
        self.find(lambda n: pred(n) and found.append(n))  # append() is None: the walk goes on
        return found

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


MAX_DEPTH = 150  # keeps the recursive walks far from Python's recursion limit


class _TreeBuilder(HTMLParser):
    """Forgiving parser: void elements, implied end tags (p, li, td...) and stray end tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root")
        self.cur = self.root

    def _close_to(self, stop: set[str], boundary: set[str]) -> None:
        node = self.cur
        while node is not self.root and node.tag not in boundary:
            if node.tag in stop:
                self.cur = node.parent or self.root
                return
            node = node.parent or self.root

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _CLOSES_P:
            self._close_to({"p"}, {"div", "td", "th", "li", "blockquote", "section", "article", "main"})
        if tag in _IMPLIED:
            self._close_to(*_IMPLIED[tag])
        node = Node(tag, {k: v or "" for k, v in attrs}, parent=self.cur, depth=self.cur.depth + 1)
        self.cur.children.append(node)
        if tag not in VOID and node.depth < MAX_DEPTH:  # tag soup (unclosed spans) flattens out
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.cur.tag == tag:
            self.cur = self.cur.parent or self.root

    def handle_endtag(self, tag: str) -> None:
        node = self.cur
        while node is not self.root and node.tag != tag:
            node = node.parent or self.root
        if node is not self.root:  # an end tag with no open element is ignored
            self.cur = node.parent or self.root

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def is_chrome(node: Node) -> bool:
    """Navigation and page furniture, judged by tag, ARIA role, hidden-ness and class/id words.

    Class words are only judged on block elements: an inline `menuselection` is content ("Workspace >
    Users"). Hidden tab panels are content too (the other language variants of an example).
    """
    role = node.attrs.get("role", "").lower()
    if node.tag in DROP_TAGS or role in CHROME_ROLES:
        return True
    if ("hidden" in node.attrs or node.attrs.get("aria-hidden") == "true") and role != "tabpanel":
        return True
    if node.tag not in BLOCK:
        return False
    if node.tag == "header" and node.find(lambda n: n.tag in ("h1", "h2", "h3")) is None:
        return True
    names = node.cls()
    if "table-of-contents" in names.lower():
        return True
    words = re.split(r"[^A-Za-z0-9]+", _CAMEL.sub(" ", names).lower())
    return any(w.startswith(CHROME_WORDS) or any(part in w for part in CHROME_PARTS) for w in words if w)


@dataclass
class Page:
    title: str
    markdown: str
    links: list[str]  # every absolute http(s) link on the page, chrome included (for crawling)


def content_root(doc: Node) -> Node:
    """The article element holding the page's h1 (else any article, main, or the body)."""
    articles = doc.find_all(lambda n: n.tag == "article")
    for art in articles:
        if art.find(lambda n: n.tag == "h1"):
            return art
    return (articles[0] if articles else None) or doc.find(
        lambda n: n.tag == "main" or n.attrs.get("role") == "main") or doc.find(
        lambda n: n.tag == "body") or doc


def _language(node: Node, inherited: str) -> str:
    for n in (node, node.find(lambda c: c.tag == "code")):
        if n is not None and (m := _LANG.search(n.attrs.get("class", ""))):
            return m.group(1).lower()
    return inherited


class _Writer:
    def __init__(self, base_url: str) -> None:
        self.base = base_url

    def href(self, raw: str) -> str | None:
        raw = raw.strip()
        if not raw or raw.startswith(("#", "javascript:", "data:")):
            return None
        return urljoin(self.base, raw)

    # -- inline ----------------------------------------------------------------------------------
    def inline(self, node: Node, in_heading: bool = False) -> str:
        out: list[str] = []
        for child in node.children:
            if isinstance(child, str):
                out.append(re.sub(r"\s+", " ", child))
            elif is_chrome(child) or child.tag == "img":
                continue
            elif child.tag == "br":
                out.append(" " if in_heading else "  \n")
            elif child.tag in ("code", "kbd", "samp", "tt"):
                code = re.sub(r"\s+", " ", child.text()).strip()
                tick = "``" if "`" in code else "`"
                out.append(f"{tick}{code}{tick}" if code else "")
            elif child.tag == "a":
                text = self.inline(child, in_heading).strip()
                url = self.href(child.attrs.get("href", ""))
                if in_heading and (text in _PERMALINK or _PERMALINK_CLASS.search(child.cls())):
                    continue  # permalink icons next to headings
                out.append(f"[{text}]({url})" if url and text and not in_heading else text)
            elif child.tag in ("strong", "b") and not in_heading:
                text = self.inline(child).strip()
                out.append(f"**{text}**" if text else "")
            elif child.tag in ("em", "i") and not in_heading:
                text = self.inline(child).strip()
                out.append(f"*{text}*" if text else "")
            else:
                out.append(self.inline(child, in_heading))
        return "".join(out)

    # -- blocks ----------------------------------------------------------------------------------
    def blocks(self, node: Node, lang: str = "") -> list[str]:
        """Markdown blocks of node's children: runs of inline content become paragraphs."""
        out: list[str] = []
        run = Node("#run")
        for child in [*node.children, None]:
            if child is None or (isinstance(child, Node) and child.tag in BLOCK):
                para = "\n".join(line.strip() for line in self.inline(run).strip().split("\n"))
                if para:
                    out.append(_LINE_START.sub(r"\\\1", para))
                run = Node("#run")
                if child is not None and not is_chrome(child):
                    out.extend(self.block(child, lang))
            else:
                run.children.append(child)
        return out

    def block(self, node: Node, lang: str) -> list[str]:
        tag = node.tag
        if re.fullmatch(r"h[1-6]", tag):
            text = re.sub(r"\s+", " ", self.inline(node, in_heading=True)).strip()
            return [f"{'#' * int(tag[1])} {text}"] if text else []
        if tag == "pre":
            return [self.code(node, _language(node, lang))]
        if tag in ("ul", "ol"):
            return self.listing(node, ordered=tag == "ol", lang=lang)
        if tag == "table":
            return [t] if (t := self.table(node)) else []
        if tag == "blockquote" or any(_CALLOUT.match(c) for c in node.attrs.get("class", "").split()):
            inner = "\n\n".join(self.blocks(node, lang))
            return ["\n".join(f"> {line}".rstrip() for line in inner.splitlines())] if inner else []
        if tag == "dt":
            text = self.inline(node).strip()
            return [f"**{text}**"] if text else []
        if tag == "hr":
            return []
        m = _LANG.search(node.attrs.get("class", ""))
        return self.blocks(node, m.group(1).lower() if m else lang)

    def code(self, node: Node, lang: str) -> str:
        parts: list[str] = []

        def walk(n: Node) -> None:
            for c in n.children:
                if isinstance(c, str):
                    parts.append(c)
                elif c.tag == "br":
                    parts.append("\n")
                elif c.tag != "button":
                    walk(c)
                    if _CODE_LINE.search(c.attrs.get("class", "")) and parts and not parts[-1].endswith("\n"):
                        parts.append("\n")  # Prism-style one-span-per-line code

        walk(node)
        code = "".join(parts).strip("\n")
        fence = "~~~" if "```" in code else "```"
        return f"{fence}{lang}\n{code}\n{fence}"

    def listing(self, node: Node, ordered: bool, lang: str) -> list[str]:
        items = []
        for n, li in enumerate((c for c in node.children if isinstance(c, Node) and c.tag == "li"), 1):
            marker = f"{n}. " if ordered else "- "
            body = "\n\n".join(self.blocks(li, lang)) or ""
            pad = " " * len(marker)
            lines = body.splitlines() or [""]
            items.append(marker + lines[0] + "".join(f"\n{pad}{ln}" if ln else "\n" for ln in lines[1:]))
        return ["\n".join(items)] if items else []

    def table(self, node: Node) -> str:
        rows: list[list[str]] = []
        has_head = False

        def walk(n: Node) -> None:
            nonlocal has_head
            for c in n.children:
                if not isinstance(c, Node) or c.tag == "table":
                    continue
                if c.tag == "tr":
                    cells = [c2 for c2 in c.children if isinstance(c2, Node) and c2.tag in ("td", "th")]
                    has_head = has_head or (not rows and any(x.tag == "th" for x in cells))
                    rows.append([self.cell(x) for x in cells])
                else:
                    walk(c)

        walk(node)
        rows = [r for r in rows if any(r)]
        if not rows:
            return ""
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        head, body = (rows[0], rows[1:]) if has_head or len(rows) > 1 else ([""] * width, rows)
        lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] * width) + " |"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)

    def cell(self, node: Node) -> str:
        text = " ".join(b.replace("\n", " ") for b in self.blocks(node))
        return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def _page_title(doc: Node, root: Node) -> str:
    h1 = root.find(lambda n: n.tag == "h1") or doc.find(lambda n: n.tag == "h1")
    if h1 is not None and (text := re.sub(r"\s+", " ", _Writer("").inline(h1, in_heading=True)).strip()):
        return text
    title = doc.find(lambda n: n.tag == "title")
    text = re.sub(r"\s+", " ", title.text()).strip() if title else ""
    return re.split(r"\s+[|–—-]\s+", text)[0] if text else ""


def convert(html: str, url: str) -> Page:
    """The page's title, its article as Markdown (links absolute), and all its outgoing links."""
    doc = parse(html)
    base = doc.find(lambda n: n.tag == "base" and bool(n.attrs.get("href")))
    base_url = urljoin(url, base.attrs["href"]) if base else url
    writer = _Writer(base_url)
    root = content_root(doc)
    body = "\n\n".join(b for b in writer.blocks(root) if b.strip())
    links = [a.attrs.get("href", "") for a in doc.find_all(lambda n: n.tag == "a")]
    absolute = [urldefrag(u).url for raw in links
                if (u := writer.href(raw)) and u.startswith(("http://", "https://"))]
    return Page(_page_title(doc, root), body.strip() + "\n", list(dict.fromkeys(absolute)))
