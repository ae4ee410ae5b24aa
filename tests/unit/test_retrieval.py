"""Fusion and diversification rules of hybrid retrieval."""

from __future__ import annotations

from qa.retrieval import convex, diversify, rrf
from qa.types import Hit


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
