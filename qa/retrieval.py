"""Hybrid retrieval: dense (Chroma) + lexical (BM25), fused, diversified by document; for a
question asked as of a day, only what was published by then, newer passages preferred."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from qa.ports import ChangeFeed, ChunkIndex, Embedder, LexicalSearcher
from qa.timeframe import age_days, recency_factors, restrict
from qa.types import Filters, Hit

log = logging.getLogger(__name__)

Fusion = Literal["rrf", "convex"]
RetrievalMode = Literal["hybrid", "dense", "lexical"]
#: When the recency prior applies to a question asked with ``as_of``: always, only when the
#: question asks about the current state of things (``asks_for_latest``), or never.
RecencyScope = Literal["always", "cue", "off"]

# Words that ask for the state of things at the time of asking.
_LATEST: Final = re.compile(
    r"\b(?:now|nowadays|currently|current|latest|newest|most\s+recent(?:ly)?|recent(?:ly)?"
    r"|today|tonight|this\s+(?:week|weekend|month|year)|so\s+far|yet|still|as\s+of)\b",
    re.IGNORECASE,
)


def asks_for_latest(question: str) -> bool:
    """Whether ``question`` asks about the current state ("now", "latest", "this week")."""
    return bool(_LATEST.search(question))


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
        recency_half_life_days: float = 0.0,
        recency_floor: float = 0.0,
        recency_scope: RecencyScope = "always",
    ) -> None:
        """``recency_*``: the prior for questions asked with ``as_of`` (see ``search``)."""
        self._store = store
        self._embedder = embedder
        self._lexical = lexical
        self._feed = feed
        self.mode = mode
        self.fusion = fusion
        self.alpha = alpha
        self._candidates = candidates
        self.recency_half_life_days = recency_half_life_days
        self.recency_floor = recency_floor
        self.recency_scope = recency_scope

    def _prior_applies(self, query: str, as_of: date | None) -> bool:
        if as_of is None or self.recency_half_life_days <= 0 or self.recency_scope == "off":
            return False
        return self.recency_scope == "always" or asks_for_latest(query)

    def search(
        self, query: str, k: int, filters: Filters | None = None, *, as_of: date | None = None
    ) -> list[Hit]:
        """The ``k`` best passages for ``query``, best first.

        With ``as_of``, documents published after the end of that day are left out (undated
        ones stay), and, where the prior applies, the candidates' fused scores are multiplied
        by a factor that decays with their age (``prefer_recent``) before the cut, so that of
        two passages about alike the newer ranks first.
        """
        filters = restrict(filters, as_of)
        prior = self._prior_applies(query, as_of)
        # The prior can lift any candidate, so all their dates are needed then.
        hits = self.candidates(query, k, filters, every=prior)
        if prior:
            assert as_of is not None
            hits = self.prefer_recent(hits, as_of)
        return diversify(hits[: 3 * k], k)

    def candidates(
        self, query: str, k: int, filters: Filters | None, *, every: bool = False
    ) -> list[Hit]:
        """Fused candidates with their fused scores, best first: the ``3 * k`` that ``search``
        diversifies from, or (``every``) all of the ``max(candidates, 4 * k)`` best."""
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
        ranked = ranked[: n if every else 3 * k]
        known = {hit.chunk_id: hit for hit in self._store.get_hits([r.chunk_id for r in ranked])}
        return [
            known[r.chunk_id].model_copy(update={"score": round(r.score, 6)})
            for r in ranked
            if r.chunk_id in known
        ]

    def prefer_recent(self, hits: Sequence[Hit], as_of: date) -> list[Hit]:
        """``hits`` re-scored by the recency prior and re-sorted, ties in their order.

        Each score is multiplied by ``recency_factors``: the newest candidate keeps its score,
        older ones lose by their age behind it; undated ones get the median factor.
        """
        factors = recency_factors(
            [age_days(hit.published_at, as_of) for hit in hits],
            self.recency_half_life_days,
            self.recency_floor,
        )
        order = sorted(range(len(hits)), key=lambda i: -hits[i].score * factors[i])
        return [
            hits[i].model_copy(update={"score": round(hits[i].score * factors[i], 6)})
            for i in order
        ]
