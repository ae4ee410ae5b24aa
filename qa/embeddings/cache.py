"""An Embedder that remembers: recent embeddings in a bounded LRU keyed by a hash of the text."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from qa.lru import LRU
from qa.ports import Embedder, TokenEmbedder, Vectors, token_source


class VectorCache:
    """Embeddings of texts, kept in a bounded LRU keyed by a hash of the text.

    It is an Embedder too: retrieval embeds the question through it, and the answerer then
    finds that vector instead of embedding the question again.
    """

    def __init__(self, embedder: Embedder, maxsize: int = 4096) -> None:
        self.embedder = embedder
        self.name = embedder.name
        # The local MiniLM's token states, reached through this wrapper (evidence ranking).
        self.tokens: TokenEmbedder | None = token_source(embedder)
        self.dimension = embedder.dimension
        self._cache: LRU[bytes, Vectors] = LRU(maxsize)

    def count_tokens(self, text: str) -> int:
        return self.embedder.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text; texts not cached are embedded in one batch."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        found = self._cache.get_many(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = dict(
                zip(missing, self.embedder.embed([text_of[k] for k in missing]), strict=True)
            )
            self._cache.put_many(fresh)
            found.update(fresh)
        return np.stack([found[k] for k in keys]).astype(np.float32)
