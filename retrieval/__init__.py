"""retrieval: Databricks documentation passages for the Tech Lead's citations.

BM25 (LlamaIndex) over the installed databricks-sdk's API reference plus optional scraped docs pages;
offline, deterministic, cached on disk by corpus fingerprint.
"""

from .index import DocsIndex, Passage, clear_memo, default_index

__all__ = ["DocsIndex", "Passage", "clear_memo", "default_index"]
