"""Sentence vectors packed as int8 rows (made at ingest, looked up when answering)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.ports import Vectors
from qa.text import Sentence
from qa.types import Document, SentenceVectors


def pack_sentence_vectors(
    doc: Document, sentences: Sequence[Sentence], vectors: Vectors
) -> SentenceVectors:
    """``doc``'s sentence vectors as int8 rows (cosine error ~0.003 on unit vectors)."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(sentences), -1)
    rows = np.clip(np.rint(matrix * 127), -127, 127).astype(np.int8)
    return SentenceVectors(
        doc_id=doc.doc_id,
        content_hash=doc.content_hash,
        dimension=matrix.shape[1],
        spans=tuple((s.char_start, s.char_end) for s in sentences),
        data=rows.tobytes(),
    )


def unpack_rows(packed: SentenceVectors) -> Vectors:
    """The unit float32 vectors, one row per span, in document order."""
    rows = np.frombuffer(packed.data, dtype=np.int8).reshape(len(packed.spans), packed.dimension)
    unit = rows.astype(np.float32)
    unit /= np.clip(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12, None)
    return unit


def unpack_sentence_vectors(packed: SentenceVectors) -> dict[tuple[int, int], Vectors]:
    """Span -> unit float32 vector."""
    if not packed.spans:
        return {}
    return dict(zip(packed.spans, unpack_rows(packed), strict=True))
