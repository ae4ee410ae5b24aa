"""Sentence vectors: made at ingest (packed into the document), looked up or embedded when
answering, and an LRU of recent embeddings shared by retrieval and answering."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from qa.answering.sentences import Sentence
from qa.ports import Embedder, Vectors
from qa.types import Document, SentenceVectors


def pack(doc: Document, sentences: Sequence[Sentence], vectors: Vectors) -> SentenceVectors:
    """``doc``'s sentence vectors as int8 rows (cosine error ~0.003 on unit vectors)."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(sentences), -1)
    rows = np.clip(np.rint(matrix * 127), -127, 127).astype(np.int8)
    return SentenceVectors(
        content_hash=doc.content_hash,
        dimension=matrix.shape[1],
        spans=tuple((s.char_start, s.char_end) for s in sentences),
        data=rows.tobytes(),
    )


def unpack(packed: SentenceVectors) -> dict[tuple[int, int], Vectors]:
    """Span -> unit float32 vector."""
    if not packed.spans:
        return {}
    rows = np.frombuffer(packed.data, dtype=np.int8).reshape(len(packed.spans), packed.dimension)
    unit = rows.astype(np.float32)
    unit /= np.clip(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12, None)
    return dict(zip(packed.spans, unit, strict=True))


class VectorCache:
    """Embeddings of texts, kept in a bounded LRU keyed by a hash of the text."""

    def __init__(self, embedder: Embedder, maxsize: int = 4096) -> None:
        self.embedder = embedder
        self._maxsize = maxsize
        self._cache: OrderedDict[bytes, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str]) -> Vectors:
        """One unit-length row per text; texts not cached are embedded in one batch."""
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for k in found:
                self._cache.move_to_end(k)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            fresh = self.embedder.embed([text_of[k] for k in missing])
            with self._lock:
                for k, row in zip(missing, fresh, strict=True):
                    found[k] = self._cache[k] = row
                while len(self._cache) > self._maxsize:
                    self._cache.popitem(last=False)
        if not keys:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)


class CachedEmbedder:
    """An Embedder answering from a VectorCache: retrieval embeds the question there, and
    the answerer finds it instead of embedding it again."""

    def __init__(self, cache: VectorCache) -> None:
        self._cache = cache
        self._embedder = cache.embedder
        self.name = self._embedder.name
        self.dimension = self._embedder.dimension

    def count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._cache.vectors(texts)
