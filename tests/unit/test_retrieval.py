"""Hybrid retrieval: the fusion and diversification rules, and HybridRetriever on fakes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fakes.corpus import article, document_write, memory_store

from qa.embeddings.hashing import HashingEmbedder
from qa.ports import LexicalSearcher, Vectors
from qa.retrieval import HybridRetriever, asks_for_latest, convex, diversify, rrf
from qa.store.lexical import LexicalIndex
from qa.store.memory import MemoryStore
from qa.types import Filters, Hit


def _hit(chunk_id: str, doc_id: str, score: float = 0.0) -> Hit:
    return Hit(
        chunk_id=chunk_id,
        doc_id=doc_id,
        source=doc_id,
        title=doc_id,
        line_start=1,
        line_end=1,
        text=chunk_id,
        score=score,
    )


def test_rrf_rewards_agreement_between_rankings() -> None:
    fused = rrf([["a", "b", "c"], ["b", "d", "a"]])
    order = [r.chunk_id for r in fused]
    assert order[:2] == ["b", "a"]  # found by both rankings beats found by one
    assert set(order) == {"a", "b", "c", "d"}
    assert fused[0].score > fused[-1].score


def test_rrf_weights_shift_the_order() -> None:
    fused = rrf([["a"], ["b"]], weights=[1.0, 2.0])
    assert [r.chunk_id for r in fused] == ["b", "a"]


def test_convex_scales_bm25_by_the_best_score() -> None:
    fused = convex([("a", 0.9), ("b", 0.5)], [("b", 12.0), ("c", 6.0)], alpha=0.5)
    scores = {r.chunk_id: r.score for r in fused}
    assert scores["a"] == 0.45
    assert scores["b"] == 0.25 + 0.5
    assert scores["c"] == 0.25
    assert [r.chunk_id for r in fused] == ["b", "a", "c"]


def test_convex_with_no_lexical_matches_is_dense_order() -> None:
    fused = convex([("a", 0.2), ("b", 0.7)], [], alpha=0.7)
    assert [r.chunk_id for r in fused] == ["b", "a"]


def test_convex_ignores_negative_cosine() -> None:
    fused = convex([("a", -0.3)], [], alpha=1.0)
    assert fused[0].score == 0.0


def test_diversify_caps_one_document_when_others_exist() -> None:
    ranked = [_hit("a1", "A"), _hit("a2", "A"), _hit("a3", "A"), _hit("a4", "A"), _hit("b1", "B")]
    picked = diversify(ranked, 4)
    assert [h.chunk_id for h in picked] == ["a1", "a2", "a3", "b1"]  # ceil(4/2)=2, then refill


def test_diversify_keeps_rank_order_and_prefers_other_documents() -> None:
    ranked = [_hit("a1", "A"), _hit("a2", "A"), _hit("a3", "A"), _hit("b1", "B"), _hit("c1", "C")]
    picked = diversify(ranked, 3)
    assert [h.chunk_id for h in picked] == ["a1", "a2", "b1"]


def test_diversify_fills_from_a_single_document() -> None:
    ranked = [_hit(f"a{i}", "A") for i in range(5)]
    assert [h.chunk_id for h in diversify(ranked, 3)] == ["a0", "a1", "a2"]


def test_diversify_with_fewer_candidates_than_k() -> None:
    assert len(diversify([_hit("a", "A")], 5)) == 1


# --------------------------------------------------------------------------- HybridRetriever
# Over MemoryStore + HashingEmbedder + the real LexicalIndex: dense and BM25 disagree by
# construction. The hashing embedder matches exact words, stopwords included; BM25 drops
# stopwords and stems ("dredged" is "dredging"). So for QUERY, "stopwords" is the dense
# favourite without a single BM25 term, "stems" the BM25 favourite sharing no exact word,
# and "target" second in both.

QUERY = "what is the state of the harbour dredging plan"
CORPUS = {
    "stopwords": "It is the end of the day, and the rest of it is the same as the start of it.",
    "stems": "Harbours dredged: states plans, dredges harbours, planned dredges.",
    "target": "The harbour dredging plan is in a bad state, officials said after a long meeting.",
    "football": "Football results from the weekend league games.",
    "weather": "Weather forecast: rain in the north, sun in the south.",
}
DATES = {
    "stopwords": datetime(2024, 1, 10, tzinfo=UTC),
    "stems": datetime(2024, 3, 10, tzinfo=UTC),
    "target": datetime(2024, 2, 10, tzinfo=UTC),
}
EMBEDDER = HashingEmbedder()


def corpus(store: MemoryStore | None = None) -> MemoryStore:
    """``store`` (default: a new MemoryStore) holding CORPUS, one chunk per document."""
    store = store or MemoryStore()
    store.write(
        [
            document_write(
                article(doc_id, text, source=f"{doc_id}.txt", published_at=DATES.get(doc_id)),
                EMBEDDER,
            )
            for doc_id, text in CORPUS.items()
        ]
    )
    return store


def retriever(
    store: MemoryStore, lexical: LexicalSearcher | None = None, **options: Any
) -> HybridRetriever:
    # Not ``lexical or ...``: an empty LexicalIndex is falsy (it has a __len__).
    lexical = LexicalIndex() if lexical is None else lexical
    return HybridRetriever(store, EMBEDDER, lexical, store, **options)


def doc_ids(hits: Sequence[Hit]) -> list[str]:
    return [hit.doc_id for hit in hits]


def test_hybrid_finds_what_neither_finds_alone() -> None:
    store, lexical = corpus(), LexicalIndex()
    dense = retriever(store, lexical, mode="dense").search(QUERY, 3)
    bm25 = retriever(store, lexical, mode="lexical").search(QUERY, 3)
    assert doc_ids(dense)[:2] == ["stopwords", "target"]
    assert doc_ids(bm25)[:2] == ["stems", "target"]
    for fusion in ("convex", "rrf"):
        hybrid = retriever(store, lexical, mode="hybrid", fusion=fusion).search(QUERY, 3)
        assert doc_ids(hybrid)[0] == "target", fusion


def test_dense_mode_ranks_by_cosine() -> None:
    store = corpus()
    hits = retriever(store, mode="dense").search(QUERY, 5)
    expected = store.query_ids(EMBEDDER.embed([QUERY])[0], 5)
    assert [(h.chunk_id, h.score) for h in hits] == [(c, round(s, 6)) for c, s in expected]
    assert len(hits) == 5  # every chunk has some cosine, even with no shared word


def test_lexical_mode_ranks_by_bm25_and_needs_a_term() -> None:
    store, lexical = corpus(), LexicalIndex()
    hits = retriever(store, lexical, mode="lexical").search(QUERY, 5)
    assert doc_ids(hits) == ["stems", "target"]  # no query stem anywhere else
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert retriever(store, lexical, mode="lexical").search("it is the", 5) == []
    assert retriever(store, lexical, mode="dense").search("it is the", 5)


def test_hits_carry_their_passage() -> None:
    store = corpus()
    [hit] = retriever(store).search(QUERY, 1)
    assert (hit.doc_id, hit.source, hit.text) == ("target", "target.txt", CORPUS["target"])
    assert (hit.line_start, hit.line_end) == (1, 1)
    assert hit.published_at == DATES["target"]
    assert hit.score > 0


def test_rrf_and_convex_fuse_the_same_rankings_differently() -> None:
    store, lexical = corpus(), LexicalIndex()
    lexical.sync(store)
    dense_pairs = store.query_ids(EMBEDDER.embed([QUERY])[0], 40)
    bm25_pairs = lexical.search(QUERY, 40)
    by_rrf = retriever(store, lexical, fusion="rrf").search(QUERY, 5)
    by_convex = retriever(store, lexical, fusion="convex", alpha=0.7).search(QUERY, 5)
    fused_rrf = rrf([[c for c, _ in dense_pairs], [c for c, _ in bm25_pairs]])
    assert [h.chunk_id for h in by_rrf] == [r.chunk_id for r in fused_rrf][:5]
    fused_convex = convex(dense_pairs, bm25_pairs, 0.7)
    assert [h.chunk_id for h in by_convex] == [r.chunk_id for r in fused_convex][:5]
    # Rank fusion rewards the BM25 favourite's first place; convex fusion weighs the dense
    # favourite's cosine, which is far above the BM25 favourite's zero.
    assert doc_ids(by_rrf)[:3] == ["target", "stems", "stopwords"]
    assert doc_ids(by_convex)[:3] == ["target", "stopwords", "stems"]


def test_alpha_moves_convex_between_the_two() -> None:
    store, lexical = corpus(), LexicalIndex()
    all_dense = retriever(store, lexical, fusion="convex", alpha=1.0).search(QUERY, 3)
    all_bm25 = retriever(store, lexical, fusion="convex", alpha=0.0).search(QUERY, 3)
    assert doc_ids(all_dense)[0] == "stopwords"
    assert doc_ids(all_bm25)[0] == "stems"


class Recording(LexicalIndex):
    """The real BM25 index, noting the filters each search got."""

    def __init__(self) -> None:
        super().__init__()
        self.filters: list[Filters | None] = []

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        self.filters.append(filters)
        return super().search(query, k, filters)


class RecordingStore(MemoryStore):
    """A MemoryStore noting the filters each dense query got."""

    def __init__(self) -> None:
        super().__init__()
        self.filters: list[Filters | None] = []

    def query_ids(
        self, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        self.filters.append(filters)
        return super().query_ids(vector, k, filters)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        (Filters(source=["stems.txt", "weather.txt"]), {"stems", "weather"}),
        (Filters(doc_id=["stopwords"]), {"stopwords"}),
        (Filters(published_after=datetime(2024, 2, 1)), {"target", "stems"}),
        (Filters(published_before=datetime(2024, 2, 1)), {"stopwords"}),
        (Filters(source=[]), set()),
    ],
)
def test_filters_reach_dense_and_bm25(mode: str, filters: Filters, allowed: set[str]) -> None:
    store, lexical = RecordingStore(), Recording()
    corpus(store)
    hits = retriever(store, lexical, mode=mode).search(QUERY, 5, filters)
    assert set(doc_ids(hits)) <= allowed
    if mode != "lexical":
        assert store.filters == [filters]
        assert set(doc_ids(hits)) == allowed  # every chunk has a cosine
    if mode != "dense":
        assert lexical.filters == [filters]


def test_a_deleted_document_never_comes_back() -> None:
    store, lexical = corpus(), LexicalIndex()
    hybrid = retriever(store, lexical)
    assert "target" in doc_ids(hybrid.search(QUERY, 5))
    assert store.delete_document("target")
    for mode in ("hybrid", "dense", "lexical"):
        assert "target" not in doc_ids(retriever(store, lexical, mode=mode).search(QUERY, 5))


class Frozen:
    """A BM25 index that stopped syncing: it still returns chunks deleted since."""

    def __init__(self, store: MemoryStore) -> None:
        self._index = LexicalIndex()
        self._index.sync(store)

    def sync(self, feed: object, *, wait: bool = True) -> object:
        return False

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        return self._index.search(query, k, filters)


def test_a_stale_bm25_index_cannot_bring_a_deleted_document_back() -> None:
    store = corpus()
    stale = Frozen(store)
    store.delete_document("stems")
    assert any(c.startswith("stems:") for c, _ in stale.search(QUERY, 5))
    for mode in ("hybrid", "lexical"):
        hits = retriever(store, stale, mode=mode).search(QUERY, 5)
        assert "stems" not in doc_ids(hits)


def test_a_new_document_is_searchable_at_once() -> None:
    store, lexical = corpus(), LexicalIndex()
    hybrid = retriever(store, lexical)
    hybrid.search(QUERY, 3)
    store.write([document_write(article("late", "Dredging the harbour: plan approved."), EMBEDDER)])
    assert "late" in doc_ids(retriever(store, lexical, mode="lexical").search(QUERY, 3))
    assert "late" in doc_ids(hybrid.search(QUERY, 3))


def test_one_document_fills_at_most_half_while_others_match() -> None:
    long = "\n".join(f"Reactor {n} was shut for checks on the cooling pumps." for n in range(8))
    store = memory_store(
        [
            article("long", long),
            article("brief", "A reactor in the north restarted after maintenance."),
            article("other", "The reactor vendor was fined for late paperwork."),
        ]
    )
    lexical = LexicalIndex()
    lexical.sync(store)
    ranked = lexical.search("reactor", 6)
    assert [c.split(":")[0] for c, _ in ranked[:4]] == ["long"] * 4  # long's chunks lead
    hits = retriever(store, lexical, mode="lexical").search("reactor", 4)
    assert doc_ids(hits)[:2] == ["long", "long"]
    assert sorted(doc_ids(hits)[2:]) == ["brief", "other"]
    alone = memory_store([article("long", long)])
    assert doc_ids(retriever(alone, mode="lexical").search("reactor", 4)) == ["long"] * 4


# --------------------------------------------------------------------------- as_of
# Three reports of the same kind of event, a week apart, and one undated background piece.
QUAKE = "A strong earthquake struck the coast, officials said, and the death toll rose."
REPORTS = {
    "week1": (QUAKE + " Rescue teams arrived.", datetime(2023, 2, 1, 9, tzinfo=UTC)),
    "week2": (QUAKE + " Aid was flown in.", datetime(2023, 2, 8, 9, tzinfo=UTC)),
    "week3": (QUAKE + " Schools reopened.", datetime(2023, 2, 15, 9, tzinfo=UTC)),
    "background": (QUAKE + " The region sits on a fault.", None),
}
ASK = "How many died when the strong earthquake struck the coast?"


def reports() -> MemoryStore:
    store = MemoryStore()
    store.write(
        [
            document_write(article(doc_id, text, published_at=when), EMBEDDER)
            for doc_id, (text, when) in REPORTS.items()
        ]
    )
    return store


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_as_of_leaves_out_later_documents_and_keeps_undated_ones(mode: str) -> None:
    store = reports()
    hits = retriever(store, mode=mode).search(ASK, 10, as_of=date(2023, 2, 8))
    assert set(doc_ids(hits)) == {"week1", "week2", "background"}  # week2: 09:00 that day
    hits = retriever(store, mode=mode).search(ASK, 10, as_of=date(2023, 1, 31))
    assert set(doc_ids(hits)) == {"background"}


def test_the_recency_prior_puts_the_latest_report_first() -> None:
    store = reports()
    plain = retriever(store).search(ASK, 4, as_of=date(2023, 2, 20))
    recent = retriever(store, recency_half_life_days=7.0).search(ASK, 4, as_of=date(2023, 2, 20))
    assert doc_ids(recent)[0] == "week3"
    assert doc_ids(recent).index("week1") > doc_ids(recent).index("week2")
    assert set(doc_ids(recent)) == set(doc_ids(plain))
    # Scores are the fused ones times the factor: the newest keeps its score, week2 is a
    # week behind it, week1 two; the undated one gets the median factor (week2's).
    fused = {h.doc_id: h.score for h in plain}
    scored = {h.doc_id: h.score for h in recent}
    assert scored["week3"] == fused["week3"]
    assert scored["week2"] == pytest.approx(fused["week2"] * 0.5, abs=1e-5)
    assert scored["week1"] == pytest.approx(fused["week1"] * 0.25, abs=1e-5)
    assert scored["background"] == pytest.approx(fused["background"] * 0.5, abs=1e-5)
    # Asked years later, the same order: age counts behind the newest report.
    later = retriever(store, recency_half_life_days=7.0).search(ASK, 4, as_of=date(2030, 1, 1))
    assert doc_ids(later) == doc_ids(recent)


def test_no_prior_without_as_of_or_outside_its_scope() -> None:
    store = reports()
    plain = doc_ids(retriever(store).search(ASK, 4))
    assert doc_ids(retriever(store, recency_half_life_days=7.0).search(ASK, 4)) == plain
    cue = retriever(store, recency_half_life_days=7.0, recency_scope="cue")
    as_of = date(2023, 2, 20)
    assert doc_ids(cue.search(ASK, 4, as_of=as_of)) == doc_ids(
        retriever(store).search(ASK, 4, as_of=as_of)
    )
    latest = "What is the latest death toll after the strong earthquake struck the coast?"
    assert doc_ids(cue.search(latest, 4, as_of=as_of))[0] == "week3"
    off = retriever(store, recency_half_life_days=7.0, recency_scope="off")
    assert doc_ids(off.search(latest, 4, as_of=as_of)) == doc_ids(
        retriever(store).search(latest, 4, as_of=as_of)
    )


@pytest.mark.parametrize(
    ("question", "cue"),
    [
        ("Who is the current prime minister?", True),
        ("What is the latest on the strike?", True),
        ("Which team won this week?", True),
        ("Is the bridge still closed?", True),
        ("Who won the 2022 World Cup?", False),
        ("What did the minister announce?", False),
    ],
)
def test_current_state_questions(question: str, cue: bool) -> None:
    assert asks_for_latest(question) is cue
