"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused, diversified by document."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from qa.ports import ChangeFeed, ChunkIndex, Embedder, LexicalSearcher
from qa.types import Filters, Hit

log = logging.getLogger(__name__)

Fusion = Literal["rrf", "convex"]
RetrievalMode = Literal["hybrid", "dense", "lexical"]

#: Reciprocal-rank-fusion constant (Cormack et al. 2009).
RRF_K = 60


@dataclass(frozen=True)
class Ranked:
    """A candidate with its fused score."""

    chunk_id: str
    score: float


def rrf(rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None) -> list[Ranked]:
    """Reciprocal rank fusion of several rankings (best first)."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, chunk_id in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)
    return sorted((Ranked(c, s) for c, s in scores.items()), key=lambda r: -r.score)


def convex(
    dense: Sequence[tuple[str, float]], lexical: Sequence[tuple[str, float]], alpha: float
) -> list[Ranked]:
    """``alpha * dense + (1 - alpha) * lexical`` after scaling lexical scores to [0, 1].

    Dense cosine similarities are already comparable across queries; BM25 scores are not,
    so they are divided by the query's best BM25 score.
    """
    top = max((s for _, s in lexical), default=0.0)
    scores: dict[str, float] = {c: alpha * max(s, 0.0) for c, s in dense}
    if top > 0:
        for chunk_id, score in lexical:
            scores[chunk_id] = scores.get(chunk_id, 0.0) + (1 - alpha) * score / top
    return sorted((Ranked(c, s) for c, s in scores.items()), key=lambda r: -r.score)


def diversify(ranked: Sequence[Hit], k: int) -> list[Hit]:
    """Top ``k`` with at most ``ceil(k/2)`` passages from one document while others remain."""
    cap = max(1, math.ceil(k / 2))
    picked: list[Hit] = []
    overflow: list[Hit] = []
    per_doc: dict[str, int] = {}
    for hit in ranked:
        if len(picked) == k:
            break
        if per_doc.get(hit.doc_id, 0) < cap:
            per_doc[hit.doc_id] = per_doc.get(hit.doc_id, 0) + 1
            picked.append(hit)
        else:
            overflow.append(hit)
    # Only one document (or too few others) matched: fill the free slots in rank order.
    for hit in overflow:
        if len(picked) == k:
            break
        picked.append(hit)
    order = {hit.chunk_id: i for i, hit in enumerate(ranked)}
    return sorted(picked, key=lambda h: order[h.chunk_id])


class HybridRetriever:
    """Dense + BM25 retrieval over one store (its chunk index, and the change feed the BM25
    index syncs from)."""

    def __init__(
        self,
        store: ChunkIndex,
        embedder: Embedder,
        lexical: LexicalSearcher,
        feed: ChangeFeed,
        *,
        mode: RetrievalMode = "hybrid",
        fusion: Fusion = "convex",
        alpha: float = 0.7,
        candidates: int = 40,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._lexical = lexical
        self._feed = feed
        self.mode = mode
        self.fusion = fusion
        self.alpha = alpha
        self._candidates = candidates

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """The ``k`` best passages for ``query``, best first."""
        n = max(self._candidates, 4 * k)
        dense_pairs: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if self.mode in ("hybrid", "dense"):
            vector = self._embedder.embed([query])
            # Ids and scores only: texts are fetched below for the few passages kept.
            dense_pairs = self._store.query_ids(vector[0], n, filters)
        if self.mode in ("hybrid", "lexical"):
            self._lexical.sync(self._feed, wait=False)
            lexical = self._lexical.search(query, n, filters)
        if self.mode == "dense":
            ranked = [Ranked(c, s) for c, s in dense_pairs]
        elif self.mode == "lexical":
            ranked = [Ranked(c, s) for c, s in lexical]
        elif self.fusion == "rrf":
            ranked = rrf([[c for c, _ in dense_pairs], [c for c, _ in lexical]])
        else:
            ranked = convex(dense_pairs, lexical, self.alpha)
        kept = [r.chunk_id for r in ranked[: 3 * k]]
        known = {hit.chunk_id: hit for hit in self._store.get_hits(kept)}
        hits = [
            known[r.chunk_id].model_copy(update={"score": round(r.score, 6)})
            for r in ranked[: 3 * k]
            if r.chunk_id in known
        ]
        return diversify(hits, k)
