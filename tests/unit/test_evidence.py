"""Evidence features and the learned scorer on small made-up texts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fakes.articles import make_doc, make_hit
from fakes.corpus import memory_store

from qa.answering.evidence import (
    FEATURES,
    MAX_EMBEDDED,
    EvidenceModel,
    EvidenceModelError,
    coverage,
    features,
    figure_near,
    focus_terms,
    gather,
    load_model,
    token_recall,
)
from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.sentences import build_sources
from qa.embeddings.hashing import HashingEmbedder

DOC = make_doc(
    "bridge",
    [
        "Bridge opens downtown",
        "The new bridge over the river was opened on Monday by the mayor.",
        "It cost 12 million euros and took three years to build.",
        "Cyclists and walkers share a lane on its north side",
    ],
)
DOCS = {DOC.doc_id: DOC}


def column(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, FEATURES.index(name)]


def candidates(question: str) -> tuple[np.ndarray, list]:  # type: ignore[type-arg]
    sources = build_sources([make_hit(DOC, 1, 4)], DOCS.get)
    qvec, cands = gather(question, sources, DOCS.get, HashingEmbedder(), None)
    return qvec, cands


def test_one_row_per_sentence_and_every_feature_finite() -> None:
    question = "How much did the bridge cost?"
    qvec, cands = candidates(question)
    rows = features(question, qvec, cands)
    assert rows.shape == (len(cands), len(FEATURES)) == (4, len(FEATURES))
    # Token alignment needs token states (the local MiniLM's), which the hashing embedder
    # has not: that column alone is NaN, which the model reads as "average".
    assert np.isnan(column(rows, "tok_recall")).all()
    rest = [i for i, name in enumerate(FEATURES) if name != "tok_recall"]
    assert np.isfinite(rows[:, rest]).all()


def states(*rows: list[float]) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """Token states of made-up tokens: id i+1 for row i, rows scaled like the stored int8."""
    matrix = np.asarray(rows, dtype=np.float64)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    ids = np.arange(1, len(rows) + 1, dtype=np.uint16)
    return ids, np.rint(matrix * 127).astype(np.int8)


def test_token_recall_rewards_the_sentence_that_holds_every_question_token() -> None:
    question = states([1, 0, 0], [0, 1, 0], [0, 0, 1])
    q_ids, q_rows = question
    holds_all = (q_ids.copy(), q_rows.copy())
    holds_one = (q_ids[:1].copy(), q_rows[:1].copy())
    elsewhere = (np.array([9], dtype=np.uint16), np.array([[0, 0, -127]], dtype=np.int8))
    recall = token_recall(question, [holds_all, holds_one, elsewhere, None])
    assert recall[0] == pytest.approx(1.0, abs=1e-6)
    assert recall[0] > recall[1] > recall[2]
    assert np.isnan(recall[3])  # no token states: unknown, not zero


def test_token_recall_weighs_rare_tokens_over_common_ones() -> None:
    # Token 1 is in two of the three candidates, token 2 in one: matching token 2 counts more.
    question = states([1, 0], [0, 1])
    common = (np.array([1], dtype=np.uint16), question[1][:1].copy())
    rare = (np.array([2], dtype=np.uint16), question[1][1:].copy())
    recall = token_recall(question, [common, common, rare])
    assert recall[2] > 0.6 > 0.4 > recall[0] == recall[1]


def test_a_missing_feature_counts_as_its_average() -> None:
    model = EvidenceModel.from_dict(model_dict())
    cos, lexical = FEATURES.index("cos"), FEATURES.index("lexical")
    rows = np.zeros((2, len(FEATURES)))
    rows[:, cos] = 0.7
    rows[0, lexical] = np.nan
    rows[1, lexical] = 0.2  # the model's mean for lexical
    logits = model.logits(rows)
    assert np.isfinite(logits).all()
    assert logits[0] == pytest.approx(logits[1])


def test_answer_type_fit_a_figure_for_how_much() -> None:
    question = "How much did the bridge cost?"
    qvec, cands = candidates(question)
    rows = features(question, qvec, cands)
    texts = [c.sentence.text for c in cands]
    cost = texts.index("It cost 12 million euros and took three years to build.")
    headline = texts.index("Bridge opens downtown")
    assert column(rows, "wants_number_has")[cost] == 1.0
    assert column(rows, "wants_number_lacks")[headline] == 1.0
    assert column(rows, "fragment")[headline] == 1.0
    assert column(rows, "fragment")[cost] == 0.0
    # A question that asks for no figure leaves the answer-type columns at zero.
    rows = features("Which river does the bridge cross?", qvec, cands)
    assert not column(rows, "wants_number_has").any()


def test_lexical_coverage_and_gaps() -> None:
    question = "Who opened the bridge over the river?"
    qvec, cands = candidates(question)
    rows = features(question, qvec, cands)
    lexical = column(rows, "lexical")
    assert lexical.argmax() == 1  # "The new bridge over the river was opened..."
    assert column(rows, "lexical_gap").max() == 0.0
    assert column(rows, "cos_gap").max() == pytest.approx(0.0)
    assert coverage("bridge river", [{"bridg", "river"}, {"bridg"}, set()])[0] == 1.0


def test_neighbours_and_the_document_centroid_come_from_stored_vectors() -> None:
    embedder = HashingEmbedder()
    store = memory_store([DOC], embedder, sentences=True)
    sources = build_sources([make_hit(DOC, 2, 3)], DOCS.get)
    _qvec, cands = gather("bridge cost", sources, DOCS.get, embedder, store.sentence_vectors)
    assert [c.position for c in cands] == [1, 2]
    vectors = embedder.embed(list(DOC.lines))
    # The sentence before line 2 (the headline) is outside the hit but inside the document.
    assert cands[0].previous is not None
    assert float(cands[0].previous @ vectors[0]) == pytest.approx(1.0, abs=0.02)
    assert float(cands[1].following @ vectors[3]) == pytest.approx(1.0, abs=0.02)  # type: ignore[operator]
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid)
    assert float(cands[0].document @ centroid) == pytest.approx(1.0, abs=0.02)


def test_without_stored_vectors_only_the_likeliest_are_embedded() -> None:
    lines = ["Weather", *(f"Filler line {i} about the weather today." for i in range(20))]
    doc = make_doc("long", [*lines, "The keeper counted 4,321 gulls on the rocks."])
    sources = build_sources([make_hit(doc, 1, len(doc.lines))], {"long": doc}.get)
    _, cands = gather(
        "How many gulls did the keeper count?", sources, {"long": doc}.get, HashingEmbedder(), None
    )
    assert len(cands) == MAX_EMBEDDED
    assert any("4,321" in c.sentence.text for c in cands)


def model_dict(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "features": ["cos", "lexical"],
        "mean": [0.5, 0.2],
        "scale": [0.1, 0.2],
        "coef": [1.0, 2.0],
        "intercept": -1.0,
        "calibration": [0.5, 0.25],
        "threshold": 0.4,
    }
    data.update(changes)
    return data


def test_the_model_is_standardised_logistic_regression() -> None:
    model = EvidenceModel.from_dict(model_dict())
    rows = np.zeros((1, len(FEATURES)))
    rows[0, FEATURES.index("cos")] = 0.6
    rows[0, FEATURES.index("lexical")] = 0.4
    # (0.6 - 0.5) / 0.1 * 1 + (0.4 - 0.2) / 0.2 * 2 - 1 = 2
    assert model.logits(rows)[0] == pytest.approx(2.0)
    assert model.confidence(2.0) == pytest.approx(1 / (1 + np.exp(-(0.5 * 2 + 0.25))))
    again = EvidenceModel.from_dict(model.to_dict())
    assert again.logits(rows)[0] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "changes",
    [
        {"features": ["cos", "no_such_feature"]},
        {"coef": [1.0]},
        {"scale": [0.0, 1.0]},
        {"threshold": 1.5},
        {"mean": [float("nan"), 0.0]},
    ],
)
def test_a_bad_model_is_refused(changes: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model_dict(**changes)))
    with pytest.raises(EvidenceModelError, match="missing or corrupt"):
        load_model(path)


def test_a_missing_or_unparsable_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvidenceModelError, match="missing or corrupt"):
        load_model(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(EvidenceModelError, match="missing or corrupt"):
        load_model(broken)
    missing_key = tmp_path / "partial.json"
    missing_key.write_text(json.dumps({"features": ["cos"]}))
    with pytest.raises(EvidenceModelError):
        load_model(missing_key)


def test_the_shipped_model_loads_and_uses_known_features() -> None:
    model = load_model()
    assert set(model.names) <= set(FEATURES)
    assert 0 < model.threshold < 1
    # The model card names every feature the model uses.
    card = Path(__file__).resolve().parents[2] / "qa" / "answering" / "evidence_model.md"
    text = card.read_text()
    assert all(f"`{name}`" in text for name in model.names)


def test_the_answer_carries_its_confidence() -> None:
    model = EvidenceModel.from_dict(model_dict(threshold=0.0))
    answerer = ExtractiveAnswerer(HashingEmbedder(), DOCS.get, model=model)
    answer = answerer.answer("How much did the bridge cost?", [make_hit(DOC, 1, 4)], [])
    assert answer.answerable
    assert answer.confidence is not None
    assert 0 <= answer.confidence <= 1
    ranked = answerer.rank(
        "How much did the bridge cost?", build_sources([make_hit(DOC, 1, 4)], DOCS.get)
    )
    assert answer.confidence == pytest.approx(answerer.confidence(ranked), abs=1e-4)


def test_the_focus_of_a_counting_or_measuring_question() -> None:
    assert focus_terms("How many Afghan soldiers did the guards let in?") == {"afghan", "soldier"}
    assert focus_terms("What is the population of Tajikistan?") == {"popul"}
    assert focus_terms("How much did the bridge cost?") == frozenset()  # cut at the verb
    assert focus_terms("Who opened the bridge?") == frozenset()


def test_a_figure_fits_only_when_it_counts_what_is_asked() -> None:
    sentence = "On July 5, border guards let 1,037 Afghan soldiers into their territory."
    assert figure_near(sentence, focus_terms("How many soldiers crossed the border?"))
    assert not figure_near(sentence, focus_terms("What is the population of Tajikistan?"))
    doc = make_doc("t", ["Tajikistan", sentence, "The country has a population of 9.5 million."])
    sources = build_sources([make_hit(doc, 1, 3)], {"t": doc}.get)
    question = "What is the population of Tajikistan?"
    qvec, cands = gather(question, sources, {"t": doc}.get, HashingEmbedder(), None)
    rows = features(question, qvec, cands)
    has, lacks = column(rows, "wants_number_has"), column(rows, "wants_number_lacks")
    texts = [c.sentence.text for c in cands]
    soldiers, population = texts.index(sentence), texts.index(doc.lines[2])
    assert (has[population], lacks[population]) == (1.0, 0.0)
    assert (has[soldiers], lacks[soldiers]) == (0.0, 1.0)  # a figure, but of soldiers
