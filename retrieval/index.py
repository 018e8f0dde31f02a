"""BM25 index over the corpus: built once, cached on disk by corpus fingerprint, memoised per process.

BM25 (LlamaIndex's BM25Retriever over bm25s) needs no model, no key and no network, and builds in
about a second, so the whole thing stays offline and deterministic. The cache makes restarts cheap;
the fingerprint makes it safe (new SDK, new docs pages or new chunking code => rebuild).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import corpus
from .expand import expand_query, index_text

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
                 built_from_cache: bool, cache_path: Path | None) -> None:
        self._retriever = retriever
        self._lock = threading.Lock()  # the retriever's top-k is an attribute, not an argument
        self.fingerprint = fingerprint
        self._size = size
        self.built_from_cache = built_from_cache
        self.cache_path = cache_path

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
                _MEMO[key] = cls._load(entry, fp) or cls._build(entry, fp, docs_dir, include_sdk)
            return _MEMO[key]

    @classmethod
    def _load(cls, entry: Path, fp: str) -> DocsIndex | None:
        if not entry.is_dir():
            return None
        try:
            import bm25s
            from llama_index.core.vector_stores.utils import metadata_dict_to_node
            from llama_index.retrievers.bm25 import BM25Retriever

            _quiet_bm25s()
            manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("fingerprint") != fp:
                raise ValueError("fingerprint mismatch")
            bm25 = bm25s.BM25.load(str(entry), load_corpus=True, show_progress=False)
            if bm25.corpus is None or len(bm25.corpus) != manifest["size"]:
                raise ValueError("corpus does not match manifest")
            retriever = BM25Retriever(existing_bm25=bm25, similarity_top_k=min(5, manifest["size"]))
            for probe in (bm25.corpus[0], bm25.corpus[-1]):  # nodes decode (the arrays were loaded above)
                metadata_dict_to_node(probe)
        except Exception as exc:  # any damage at all: rebuild rather than serve a broken index
            log.warning("retrieval cache %s is unusable (%s); rebuilding", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        log.info("retrieval index loaded from cache %s (%d chunks)", entry, manifest["size"])
        return cls(retriever, fingerprint=fp, size=manifest["size"], built_from_cache=True, cache_path=entry)

    @classmethod
    def _build(cls, entry: Path, fp: str, docs_dir: Path | None, include_sdk: bool) -> DocsIndex:
        started = time.perf_counter()
        chunks = corpus.build_corpus(docs_dir, include_sdk)
        if not chunks:
            log.warning("retrieval corpus is empty; searches will return nothing")
            return cls(None, fingerprint=fp, size=0, built_from_cache=False, cache_path=None)
        from llama_index.core.schema import TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

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
        retriever = BM25Retriever(nodes=nodes, similarity_top_k=min(5, len(nodes)))
        cache_path = cls._persist(retriever, entry, fp, len(nodes))
        log.info("retrieval index built: %d chunks in %.2fs", len(nodes), time.perf_counter() - started)
        return cls(retriever, fingerprint=fp, size=len(nodes), built_from_cache=False, cache_path=cache_path)

    @staticmethod
    def _persist(retriever: BM25Retriever, entry: Path, fp: str, size: int) -> Path | None:
        """Write to a temporary sibling then rename, so readers never see half a cache."""
        tmp = entry.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            retriever.persist(str(tmp), show_progress=False, raise_on_serialization_error=True)
            manifest = {"fingerprint": fp, "size": size, "created": time.time()}
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

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """Best `k` passages for a plain-English or API-vocabulary query, best first."""
        if self._retriever is None or k <= 0 or not query.strip():
            return []
        expanded = expand_query(query)
        with self._lock:
            self._retriever.similarity_top_k = min(max(4 * k, 20), self._size)
            results = self._retriever.retrieve(expanded)
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
        return out


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
