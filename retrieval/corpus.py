"""The documents the index is built from, and the fingerprint that says when to rebuild it.

The corpus = the installed SDK's API reference (always available, offline) + whatever pages sit in
an optional docs directory. The fingerprint covers everything that shapes the index: SDK version and
sources, every docs page's bytes, and this package's own code (a chunking change must invalidate old
caches without anyone remembering to bump a number).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import pages, sdk_reference
from .chunks import Chunk

_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def _file_hash(path: Path) -> str:
    """sha256 of a file, remembered per (path, mtime, size) so repeated fingerprints are cheap."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _HASH_MEMO:
        _HASH_MEMO[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _HASH_MEMO[key]


def fingerprint(docs_dir: Path | None, include_sdk: bool = True) -> str:
    """Content hash of the corpus inputs; equal fingerprints mean an identical index."""
    h = hashlib.sha256(b"jobagent-retrieval/1\n")
    for own in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f"code {own.name} {_file_hash(own)}\n".encode())
    if include_sdk:
        h.update(f"sdk {sdk_reference.sdk_version()}\n".encode())
        for src in sdk_reference.sdk_sources():
            h.update(f"sdk-src {src.name} {_file_hash(src)}\n".encode())
    if docs_dir is not None:
        for page in pages.page_files(docs_dir):
            h.update(f"doc {page.relative_to(docs_dir).as_posix()} {_file_hash(page)}\n".encode())
    return h.hexdigest()


def build_corpus(docs_dir: Path | None, include_sdk: bool = True) -> list[Chunk]:
    """All chunks: SDK reference first, then docs pages."""
    chunks: list[Chunk] = sdk_reference.sdk_chunks() if include_sdk else []
    if docs_dir is not None:
        chunks.extend(pages.docs_chunks(docs_dir))
    return chunks
