"""Sentence vectors: made at ingest (packed into the document), looked up or embedded when
answering, and an LRU of recent embeddings shared by retrieval and answering."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from qa.answering.sentences import Sentence
from qa.lru import LRU
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
    """Embeddings of texts, kept in a bounded LRU keyed by a hash of the text.

    It is an Embedder too: retrieval embeds the question through it, and the answerer then
    finds that vector instead of embedding the question again.
    """

    def __init__(self, embedder: Embedder, maxsize: int = 4096) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self._cache: LRU[bytes, Vectors] = LRU(maxsize)

    def count_tokens(self, text: str) -> int:
        return self.embedder.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.vectors(texts)

    def vectors(self, texts: Sequence[str]) -> Vectors:
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
