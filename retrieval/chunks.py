"""The unit of retrieval, shared by the SDK extractor and the docs-page loaders.

Kept in its own module so that corpus builders and the index can import it without cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Chunk:
    """One retrievable passage before indexing.

    `metadata` must stay flat (str/int/float/None values): LlamaIndex persists it through JSON and
    the BM25 corpus file.
    """

    title: str
    url: str
    text: str
    source: str  # "sdk" or "docs"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metadata = {k: v for k, v in self.metadata.items() if v is not None and v != ""}
