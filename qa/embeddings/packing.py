"""Sentence vectors packed as int8 rows (made at ingest, looked up when answering)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.ports import TokenStates, Vectors
from qa.text import Sentence
from qa.types import Document, SentenceVectors


def pack_sentence_vectors(
    doc: Document,
    sentences: Sequence[Sentence],
    vectors: Vectors,
    tokens: Sequence[TokenStates] | None = None,
) -> SentenceVectors:
    """``doc``'s sentence vectors as int8 rows (cosine error ~0.003 on unit vectors), with
    each sentence's token states when the embedder gave them."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(sentences), -1)
    rows = np.clip(np.rint(matrix * 127), -127, 127).astype(np.int8)
    packed_tokens: dict[str, object] = {}
    if tokens and len(tokens) == len(sentences):
        width = max((t[1].shape[1] for t in tokens if t[1].ndim == 2 and len(t[1])), default=0)
        if width:
            packed_tokens = {
                "token_counts": tuple(len(ids) for ids, _ in tokens),
                "token_dimension": width,
                "token_ids": b"".join(ids.astype("<u2").tobytes() for ids, _ in tokens),
                "token_rows": b"".join(
                    r.astype(np.int8).reshape(-1, width).tobytes() for _, r in tokens
                ),
            }
    return SentenceVectors(
        doc_id=doc.doc_id,
        content_hash=doc.content_hash,
        dimension=matrix.shape[1],
        spans=tuple((s.char_start, s.char_end) for s in sentences),
        data=rows.tobytes(),
        **packed_tokens,
    )


def unpack_tokens(packed: SentenceVectors) -> list[TokenStates] | None:
    """Each sentence's token states in span order, or None when the store has none."""
    counts = packed.token_counts
    if not counts or len(counts) != len(packed.spans) or not packed.token_dimension:
        return None
    total = sum(counts)
    ids = np.frombuffer(packed.token_ids, dtype="<u2")
    rows = np.frombuffer(packed.token_rows, dtype=np.int8)
    if len(ids) != total or len(rows) != total * packed.token_dimension:
        return None  # damaged: answer without them
    rows = rows.reshape(total, packed.token_dimension)
    out: list[TokenStates] = []
    at = 0
    for n in counts:
        out.append((ids[at : at + n].astype(np.uint16), rows[at : at + n]))
        at += n
    return out


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
