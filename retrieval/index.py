"""BM25 index over the corpus: built once, cached on disk by corpus fingerprint, memoised per process.

BM25 (LlamaIndex's BM25Retriever over bm25s) needs no model, no key and no network, and builds in
about a second, so the whole thing stays offline and deterministic. The cache makes restarts cheap;
the fingerprint makes it safe (new SDK, new docs pages or new chunking code => rebuild).

A search is a pure function of (fingerprint, query, k), so its answers are remembered next to the cache
entry (searches.jsonl) and survive the process. Loading an index reads the manifest and those answers
only: the retriever (llama_index, bm25s: about a second of imports) is opened by the first search that
was not answered before.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import corpus

if TYPE_CHECKING:
    from llama_index.retrievers.bm25 import BM25Retriever

log = logging.getLogger("retrieval")


def _quiet_bm25s() -> None:
    """bm25s forces its logger to DEBUG on import; keep its chatter out of our users' terminals."""
    logging.getLogger("bm25s").setLevel(logging.WARNING)

_RESERVED = ("title", "url", "source", "terms")
_INDEXED = ("title", "terms")  # metadata BM25 sees besides the passage text
SETTINGS_BOOST = 1.2  # see _prior
KEEP_CACHES = 3  # older fingerprints under cache_dir are pruned beyond this many
RESULTS_KEPT = 1024  # searches remembered per index (the Tech Lead's field lookups repeat across plans)
SEARCHES_FILE = "searches.jsonl"  # in the cache entry: one remembered search per line
SEARCHES_MAX_BYTES = 4_000_000  # past this the file is rewritten with the most recently used half
_ENGINE = ("bm25s", "llama-index-retrievers-bm25", "llama-index-core", "numpy")  # what scores a search
_MEMO: dict[tuple[str, str], DocsIndex] = {}
_MEMO_LOCK = threading.Lock()


@dataclass
class Passage:
    title: str
    url: str
    text: str
    score: float
    source: str  # "sdk" | "docs"
    metadata: dict = field(default_factory=dict)


def clear_memo() -> None:
    """Forget indexes loaded in this process (tests; or after editing docs in a long-lived process)."""
    with _MEMO_LOCK:
        _MEMO.clear()


class DocsIndex:
    """Search over Databricks reference passages. Create with `load_or_build`."""

    def __init__(self, retriever: BM25Retriever | None, *, fingerprint: str, size: int,
                 built_from_cache: bool, cache_path: Path | None,
                 source: tuple[Path | None, bool] | None = None) -> None:
        # None with size > 0: loaded from cache_path, opened by the first search not remembered (_open)
        self._retriever = retriever
        self._lock = threading.Lock()  # the retriever's top-k is an attribute, not an argument
        # (query, k) -> its passages: the index never changes once built, so a search is a pure function
        # of its arguments. Least recently used first; guarded by _lock. At most `results_kept` (0: none).
        self._results: OrderedDict[tuple[str, int], tuple[Passage, ...]] = OrderedDict()
        self._persisted: set[tuple[str, int]] = set()  # the searches in cache_path/SEARCHES_FILE
        self.results_kept = RESULTS_KEPT
        self.fingerprint = fingerprint
        self._size = size
        self.built_from_cache = built_from_cache
        self.cache_path = cache_path
        self._source = source  # (docs_dir, include_sdk): what a damaged cache is rebuilt from

    @property
    def size(self) -> int:
        """Number of chunks indexed."""
        return self._size

    @classmethod
    def load_or_build(cls, *, docs_dir: Path | None = None, cache_dir: Path,
                      include_sdk: bool = True) -> DocsIndex:
        """The index for this corpus: from process memory, else the disk cache, else built and cached."""
        cache_dir = Path(cache_dir)
        if docs_dir is not None and not Path(docs_dir).is_dir():
            log.warning("docs dir %s does not exist; indexing without it", docs_dir)
            docs_dir = None
        docs_dir = Path(docs_dir) if docs_dir is not None else None
        fp = corpus.fingerprint(docs_dir, include_sdk)
        key = (str(cache_dir.resolve()), fp)
        with _MEMO_LOCK:
            if key not in _MEMO:
                entry = cache_dir / "bm25" / fp[:32]
                _MEMO[key] = (cls._load(entry, fp, docs_dir, include_sdk)
                              or cls._build(entry, fp, docs_dir, include_sdk))
            return _MEMO[key]

    @classmethod
    def _load(cls, entry: Path, fp: str, docs_dir: Path | None, include_sdk: bool) -> DocsIndex | None:
        """The cached index if its manifest matches; its retriever is opened later, when first needed."""
        if not entry.is_dir():
            return None
        try:
            manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
            size = manifest.get("fingerprint") == fp and manifest.get("size")
            if type(size) is not int or size <= 0:
                raise ValueError("manifest does not match the corpus")
            for name, nbytes in manifest["files"].items():  # cheap: a truncated or lost file shows now
                if (entry / name).stat().st_size != nbytes:
                    raise ValueError(f"{name} has changed")
        except Exception as exc:  # any damage at all: rebuild rather than serve a broken index
            log.warning("retrieval cache %s is unusable (%s); rebuilding", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        index = cls(None, fingerprint=fp, size=size, built_from_cache=True, cache_path=entry,
                    source=(docs_dir, include_sdk))
        index._read_searches()
        log.info("retrieval index loaded from cache %s (%d chunks, %d searches remembered)", entry, size,
                 len(index._persisted))
        return index

    @classmethod
    def _build(cls, entry: Path, fp: str, docs_dir: Path | None, include_sdk: bool) -> DocsIndex:
        started = time.perf_counter()
        retriever, size = _new_retriever(fp, docs_dir, include_sdk)
        if retriever is None:
            log.warning("retrieval corpus is empty; searches will return nothing")
            return cls(None, fingerprint=fp, size=0, built_from_cache=False, cache_path=None)
        cache_path = cls._persist(retriever, entry, fp, size)
        log.info("retrieval index built: %d chunks in %.2fs", size, time.perf_counter() - started)
        return cls(retriever, fingerprint=fp, size=size, built_from_cache=False, cache_path=cache_path,
                   source=(docs_dir, include_sdk))

    @staticmethod
    def _persist(retriever: BM25Retriever, entry: Path, fp: str, size: int) -> Path | None:
        """Write to a temporary sibling then rename, so readers never see half a cache."""
        tmp = entry.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            retriever.persist(str(tmp), show_progress=False, raise_on_serialization_error=True)
            files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
            manifest = {"fingerprint": fp, "size": size, "created": time.time(), "files": files}
            (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            try:
                os.replace(tmp, entry)
            except OSError:  # another process won the race; its copy is equivalent
                shutil.rmtree(tmp, ignore_errors=True)
            _prune(entry.parent, keep=entry)
            return entry
        except (OSError, TypeError, ValueError) as exc:
            log.warning("could not write retrieval cache %s (%s); using the index in memory only", entry, exc)
            shutil.rmtree(tmp, ignore_errors=True)
            return None

    def _open(self) -> BM25Retriever | None:
        """The retriever, opened from the cache on first use, else rebuilt. Call with _lock held."""
        if self._retriever is None and self._size > 0:
            self._retriever = self._open_cached() or self._rebuild()
        return self._retriever

    def _open_cached(self) -> BM25Retriever | None:
        entry = self.cache_path
        if entry is None:
            return None
        try:
            import bm25s
            from llama_index.core.vector_stores.utils import metadata_dict_to_node
            from llama_index.retrievers.bm25 import BM25Retriever

            _quiet_bm25s()
            bm25 = bm25s.BM25.load(str(entry), load_corpus=True, show_progress=False)
            if bm25.corpus is None or len(bm25.corpus) != self._size:
                raise ValueError("corpus does not match manifest")
            retriever = BM25Retriever(existing_bm25=bm25, similarity_top_k=min(5, self._size))
            for probe in (bm25.corpus[0], bm25.corpus[-1]):  # nodes decode (the arrays were loaded above)
                metadata_dict_to_node(probe)
        except Exception as exc:  # any damage at all: rebuild rather than serve a broken index
            log.warning("retrieval cache %s is unusable (%s); rebuilding", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        log.info("retrieval index opened from cache %s (%d chunks)", entry, self._size)
        return retriever

    def _rebuild(self) -> BM25Retriever | None:
        """A damaged cache, found out by the first search: build again, in place (callers hold this index).
        What was remembered stays right (same fingerprint, same answers); the new entry starts a new file."""
        if self._source is None:
            raise RuntimeError("retrieval index has no retriever and nothing to rebuild it from")
        started = time.perf_counter()
        retriever, size = _new_retriever(self.fingerprint, *self._source)
        entry = self.cache_path
        self._size, self.built_from_cache, self._persisted = size, False, set()
        self.cache_path = (self._persist(retriever, entry, self.fingerprint, size)
                           if retriever is not None and entry is not None else None)
        log.info("retrieval index rebuilt: %d chunks in %.2fs", size, time.perf_counter() - started)
        return retriever

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """Best `k` passages for a plain-English or API-vocabulary query, best first.

        Repeated searches are answered from memory (this process's, and the cache entry's file of earlier
        processes' searches); each caller gets its own Passage objects."""
        if self._size <= 0 or k <= 0 or not query.strip():
            return []
        key = (query, k)
        remember = self.results_kept > 0
        found = None
        if remember:
            with self._lock:
                found = self._results.get(key)
                if found is not None:
                    self._results.move_to_end(key)
        if found is None:
            found = self._search(query, k)
            if remember:
                with self._lock:
                    self._results[key] = found
                    while len(self._results) > self.results_kept:
                        self._results.popitem(last=False)
                    if key not in self._persisted:
                        self._append_search(key, found)
        return [Passage(p.title, p.url, p.text, p.score, p.source, dict(p.metadata)) for p in found]

    def forget_results(self) -> None:
        """Drop the remembered searches (benchmarks: measure searching itself). The file stays."""
        with self._lock:
            self._results.clear()

    def _search(self, query: str, k: int) -> tuple[Passage, ...]:
        from .expand import expand_query

        expanded = expand_query(query)
        with self._lock:
            retriever = self._open()
            if retriever is None:  # rebuilt from a corpus that is now empty
                return ()
            retriever.similarity_top_k = min(max(4 * k, 20), self._size)
            results = retriever.retrieve(expanded)
        ranked = sorted(((_prior(r.node.metadata) * (r.score or 0.0), r.node) for r in results),
                        key=lambda pair: -pair[0])
        out: list[Passage] = []
        seen_docs: set[str] = set()
        for score, node in ranked:
            meta, text = node.metadata, node.get_content()
            doc = text.split("\n\n", 1)[0]
            if score <= 0 or (meta.get("kind") == "field" and "path" not in meta and doc in seen_docs):
                continue  # same field doc on a response/submit type adds nothing to a job-settings hit
            seen_docs.add(doc)
            out.append(Passage(title=meta.get("title", ""), url=meta.get("url", ""), text=text, score=score,
                               source=meta.get("source", ""),
                               metadata={key: v for key, v in meta.items() if key not in _RESERVED}))
            if len(out) == k:
                break
        return tuple(out)

    # Remembered searches on disk: SEARCHES_FILE in the cache entry, one JSON object per line, appended by
    # any process with a single write on an O_APPEND descriptor; a torn or foreign line is skipped.

    def _read_searches(self) -> None:
        """Load the entry's remembered searches (newest last); a damaged file is rewritten, never fatal."""
        path = self.cache_path / SEARCHES_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("remembered searches %s are unreadable (%s); ignoring them", path, exc)
            return
        found: dict[tuple[str, int], tuple[Passage, ...]] = {}
        damaged = bool(data) and not data.endswith(b"\n")
        engine = _engine()
        for raw in data.split(b"\n"):
            if not raw:
                continue
            try:
                decoded = _decode_search(json.loads(raw), engine)
            except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
                decoded = None
            if decoded is None:
                damaged = True
                continue
            key, passages = decoded
            found.pop(key, None)  # a later copy (another process's) counts as the newer
            found[key] = passages
        self._persisted = set(found)
        for key, passages in found.items():
            self._results[key] = passages
        while len(self._results) > max(self.results_kept, 0):
            self._results.popitem(last=False)
        if damaged or len(data) > SEARCHES_MAX_BYTES:
            if damaged:
                log.warning("remembered searches %s had damaged lines; rewriting it", path)
            self._rewrite_searches()

    def _append_search(self, key: tuple[str, int], found: tuple[Passage, ...]) -> None:
        """Remember one search for later processes. Call with _lock held."""
        line = _search_line(key, found)
        if self.cache_path is None or line is None:
            return
        path = self.cache_path / SEARCHES_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, line)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
        except OSError as exc:  # e.g. the entry was pruned by a newer fingerprint: memory only
            log.debug("could not remember search in %s (%s)", path, exc)
            return
        if written == len(line):
            self._persisted.add(key)
        if size > SEARCHES_MAX_BYTES:
            self._rewrite_searches()

    def _rewrite_searches(self) -> None:
        """Replace the file by the most recently used searches this process knows, up to half the cap.
        Call with _lock held (or before the index is shared). A line another process appends meanwhile
        may be lost: it is only a cache."""
        if self.cache_path is None:
            return
        path = self.cache_path / SEARCHES_FILE
        lines: list[bytes] = []
        kept: set[tuple[str, int]] = set()
        budget = SEARCHES_MAX_BYTES // 2
        for key, found in reversed(self._results.items()):
            line = _search_line(key, found)
            if line is None:
                continue
            if len(line) > budget:
                break
            budget -= len(line)
            lines.append(line)
            kept.add(key)
        tmp = path.with_name(f".{SEARCHES_FILE}.{uuid.uuid4().hex}")
        try:
            tmp.write_bytes(b"".join(reversed(lines)))
            os.replace(tmp, path)
        except OSError as exc:
            log.debug("could not rewrite remembered searches %s (%s)", path, exc)
            tmp.unlink(missing_ok=True)
            return
        self._persisted = kept


_ENGINE_STAMP: list[str] = []


def _engine() -> str:
    """Versions of what computes a search: the fingerprint covers the corpus and this package's code,
    not an upgraded bm25s (its scores could move), so remembered answers carry this stamp."""
    if not _ENGINE_STAMP:
        from importlib.metadata import PackageNotFoundError, version

        parts = []
        for name in _ENGINE:
            try:
                parts.append(f"{name}={version(name)}")
            except PackageNotFoundError:
                parts.append(f"{name}=-")
        _ENGINE_STAMP.append(" ".join(parts))
    return _ENGINE_STAMP[0]


def _search_line(key: tuple[str, int], found: tuple[Passage, ...]) -> bytes | None:
    """One line of SEARCHES_FILE, or None when JSON would not give back exactly these passages."""
    record = {"v": _engine(), "q": key[0], "k": key[1],
              "p": [[p.title, p.url, p.text, p.score, p.source, p.metadata] for p in found]}
    try:
        text = json.dumps(record, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    if _decode_search(json.loads(text), record["v"]) != (key, found):  # e.g. a tuple in metadata
        return None
    return (text + "\n").encode("ascii")


def _decode_search(record: Any, engine: str) -> tuple[tuple[str, int], tuple[Passage, ...]] | None:
    """(query, k) and passages from a parsed line, or None for anything but a well-formed line of ours."""
    if not isinstance(record, dict) or record.get("v") != engine:
        return None
    query, k, rows = record.get("q"), record.get("k"), record.get("p")
    if not (isinstance(query, str) and type(k) is int and k > 0 and isinstance(rows, list)
            and len(rows) <= k):
        return None
    passages = []
    for row in rows:
        if not (isinstance(row, list) and len(row) == 6):
            return None
        title, url, text, score, source, metadata = row
        if not (isinstance(title, str) and isinstance(url, str) and isinstance(text, str)
                and type(score) is float and isinstance(source, str) and isinstance(metadata, dict)):
            return None
        passages.append(Passage(title, url, text, score, source, metadata))
    return (query, k), tuple(passages)


def _new_retriever(fp: str, docs_dir: Path | None, include_sdk: bool) -> tuple[BM25Retriever | None, int]:
    """A retriever over the corpus built now, and its size (None, 0 for an empty corpus)."""
    chunks = corpus.build_corpus(docs_dir, include_sdk)
    if not chunks:
        return None, 0
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever

    from .expand import index_text

    nodes = []
    for i, c in enumerate(chunks):
        name = c.metadata.get("field") or c.metadata.get("method")
        meta: dict[str, Any] = {"title": c.title, "url": c.url, "source": c.source, **c.metadata,
                                "terms": index_text(c.title, c.text, name, _own_name(c))}
        nodes.append(TextNode(
            id_=f"{fp[:12]}-{i}", text=c.text, metadata=meta, metadata_template="{value}",
            metadata_separator="\n", excluded_llm_metadata_keys=list(meta),
            excluded_embed_metadata_keys=[k for k in meta if k not in _INDEXED]))
    _quiet_bm25s()
    return BM25Retriever(nodes=nodes, similarity_top_k=min(5, len(nodes))), len(nodes)


def _own_name(chunk: Any) -> str | None:
    """What a chunk is named after: its field or method, or a docs section's heading (not class names:
    their words, like View in ViewType, are too generic)."""
    meta = chunk.metadata
    if meta.get("kind") == "page":
        return (meta.get("heading_path") or meta.get("page_title") or "").rsplit(" > ", 1)[-1] or None
    return meta.get("field") or meta.get("method")


def _prior(meta: dict) -> float:
    """Mild preference for what a job definition can actually set (fields reachable from JobSettings)."""
    return SETTINGS_BOOST if meta.get("path") else 1.0


def _prune(parent: Path, keep: Path) -> None:
    """Drop all but the newest few cache entries, and temp dirs abandoned by crashed builds."""
    now = time.time()
    dirs = [p for p in parent.iterdir() if p.is_dir() and p != keep]
    entries = sorted((p for p in dirs if not p.name.startswith(".tmp-")), key=lambda p: p.stat().st_mtime,
                     reverse=True)
    stale = [p for p in dirs if p.name.startswith(".tmp-") and now - p.stat().st_mtime > 3600]
    for old in entries[KEEP_CACHES - 1:] + stale:
        shutil.rmtree(old, ignore_errors=True)


def default_index(cache_dir: Path, docs_dir: Path | None) -> DocsIndex:
    """The project's index: SDK reference plus the scraped docs directory (if any)."""
    return DocsIndex.load_or_build(docs_dir=docs_dir, cache_dir=cache_dir)
