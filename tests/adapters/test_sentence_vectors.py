"""Sentence vectors made at ingest: packed, stored beside the document, used by answers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.articles import make_doc

from qa.config import Settings
from qa.embeddings.factory import build_embedder
from qa.embeddings.hashing import HashingEmbedder
from qa.embeddings.packing import pack_sentence_vectors, unpack_sentence_vectors
from qa.errors import InputError
from qa.ports import Embedder, Vectors
from qa.service import QAService
from qa.store.chroma import ChromaStore
from qa.text import document_sentences
from qa.types import DocumentWrite
from qa.wiring import build_service

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
TAJIK = "seeds/000_4e774364687dacde.txt"
QUESTION = "How many Afghan soldiers did Tajik border guards let into Tajikistan on July 5?"


class Counting:
    """An Embedder that records every text it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.texts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return self.inner.embed(texts)


def seeded(tmp_path: Path, **overrides: Any) -> tuple[QAService, ChromaStore, Counting]:
    """A service over the seeds, a second handle on its store, and its counted embedder
    (counting starts after the ingest)."""
    settings = Settings(data_dir=tmp_path, _env_file=None, **overrides)
    counting = Counting(build_embedder(settings.embedding, settings.llm))
    service = build_service(settings, embedder=counting)
    assert service.ingest_paths([SEEDS]).failed == 0
    counting.texts.clear()
    return service, ChromaStore.from_settings(settings.store), counting


def test_pack_round_trip_keeps_cosines() -> None:
    embedder = HashingEmbedder(64)
    doc = make_doc("d", ["Title line", "", "First sentence here. Second one follows.", "Third."])
    sentences = document_sentences(doc)
    assert len(sentences) == 4
    vectors = embedder.embed([s.text for s in sentences])
    restored = unpack_sentence_vectors(pack_sentence_vectors(doc, sentences, vectors))
    assert list(restored) == [(s.char_start, s.char_end) for s in sentences]
    for row, original in zip(restored.values(), vectors, strict=True):
        assert float(row @ original) > 0.995
        assert abs(float(np.linalg.norm(row)) - 1.0) < 1e-5


def test_ingest_stores_them_and_answers_only_embed_the_question(tmp_path: Path) -> None:
    service, store, counting = seeded(tmp_path)
    doc = store.get_document(TAJIK)
    assert doc is not None
    vectors = store.sentence_vectors(TAJIK, doc.content_hash)
    assert vectors is not None and vectors.doc_id == TAJIK
    sentences = document_sentences(doc)
    stored = unpack_sentence_vectors(vectors)
    assert list(stored) == [(s.char_start, s.char_end) for s in sentences]
    direct = counting.inner.embed([s.text for s in sentences])
    assert (
        min(
            float(stored[(s.char_start, s.char_end)] @ v)
            for s, v in zip(sentences, direct, strict=True)
        )
        > 0.99
    )
    answer = service.ask(QUESTION)
    assert answer.answerable and "1,037" in answer.answer
    assert counting.texts == [QUESTION]  # embedded once, for search; the answer reused it


def test_without_them_the_answer_embeds_sentences_and_agrees(tmp_path: Path) -> None:
    with_vectors = seeded(tmp_path / "with")[0].ask(QUESTION)
    service, store, counting = seeded(tmp_path / "without", sentence_vectors=False)
    doc = store.get_document(TAJIK)
    assert doc is not None and store.sentence_vectors(TAJIK, doc.content_hash) is None
    answer = service.ask(QUESTION)
    assert counting.texts[0] == QUESTION and len(counting.texts) > 1
    assert [(c.doc_id, c.line_start, c.line_end) for c in answer.citations] == [
        (c.doc_id, c.line_start, c.line_end) for c in with_vectors.citations
    ]


def test_stale_or_deleted_vectors_are_not_used(tmp_path: Path) -> None:
    _, store, _ = seeded(tmp_path)
    doc = store.get_document(TAJIK)
    assert doc is not None and store.sentence_vectors(TAJIK, doc.content_hash) is not None
    # A new version written without vectors: the old version's vectors must not apply.
    edited = doc.model_copy(update={"lines": (*doc.lines, "A new line."), "content_hash": "f" * 64})
    store.write([DocumentWrite(edited, (), np.zeros((0, 384), dtype=np.float32))])
    assert store.sentence_vectors(TAJIK, edited.content_hash) is None
    assert store.sentence_vectors(TAJIK, doc.content_hash) is None  # dropped, not kept
    assert [d.doc_id for d in store.list_documents()] == sorted(
        ["seeds/000_4e774364687dacde.txt", "seeds/001_6767eb312ccb9e98.txt"]
    )
    assert store.delete_document(TAJIK)
    raw = store._db.connect().sentences.get(ids=[TAJIK])
    assert raw["ids"] == []
    with pytest.raises(InputError):
        store.write(
            [
                DocumentWrite(
                    edited.model_copy(update={"doc_id": "__sentences__/x"}),
                    (),
                    np.zeros((0, 384), dtype=np.float32),
                )
            ]
        )


def test_token_states_are_stored_with_them_and_the_question_is_run_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.answering.evidence import FEATURES, features, gather, question_tokens
    from qa.answering.sentences import build_sources
    from qa.embeddings.local import LocalMiniLMEmbedder
    from qa.embeddings.packing import unpack_tokens

    local = LocalMiniLMEmbedder()
    settings = Settings(data_dir=tmp_path, _env_file=None)
    service = build_service(settings, embedder=local)
    assert service.ingest_paths([SEEDS]).failed == 0
    store = ChromaStore.from_settings(settings.store)  # read back through a new handle
    doc = store.get_document(TAJIK)
    assert doc is not None
    packed = store.sentence_vectors(TAJIK, doc.content_hash)
    assert packed is not None
    tokens = unpack_tokens(packed)
    sentences = document_sentences(doc)
    assert tokens is not None and len(tokens) == len(sentences) == len(packed.spans)
    for sentence, (ids, rows) in zip(sentences, tokens, strict=True):
        expected = local._encoder.encode(sentence.text).ids[1:-1]  # no [CLS]/[SEP]
        assert ids.tolist() == expected
        assert rows.dtype == np.int8 and rows.shape == (len(expected), 64)
    # Asking runs the model once, for retrieval; the answer reuses the question's tokens.
    runs: list[int] = []
    real = local.token_states
    monkeypatch.setattr(local, "token_states", lambda batch: runs.append(len(batch)) or real(batch))
    answer = service.ask(QUESTION)
    assert answer.answerable and "1,037" in answer.answer
    assert runs == [1]
    # The stored tokens make the alignment feature, and it favours the answering sentence.
    hits = service.search(QUESTION)
    sources = build_sources(hits, store.get_document)
    qvec, cands = gather(QUESTION, sources, store.get_document, local, store.sentence_vectors)
    qtokens = question_tokens(local, QUESTION)
    assert qtokens is not None and all(c.tokens is not None for c in cands)
    recall = features(QUESTION, qvec, cands, qtokens)[:, FEATURES.index("tok_recall")]
    assert np.isfinite(recall).all()
    assert "1,037" in cands[int(np.argmax(recall))].sentence.text


def test_token_states_survive_the_record_and_older_records_have_none() -> None:
    from qa.embeddings.packing import unpack_tokens
    from qa.store.records import sentences_from_record, sentences_metadata

    embedder = HashingEmbedder(64)
    doc = make_doc("d", ["Title line", "", "First sentence here. Second one follows.", "Third."])
    sentences = document_sentences(doc)
    rng = np.random.default_rng(0)
    tokens = [
        (
            np.arange(n, dtype=np.uint16) + 100,
            rng.integers(-127, 128, size=(n, 64)).astype(np.int8),
        )
        for n in (2, 3, 3, 1)
    ]
    packed = pack_sentence_vectors(
        doc, sentences, embedder.embed([s.text for s in sentences]), tokens
    )
    restored = sentences_from_record(sentences_metadata(packed))
    assert restored == packed
    back = unpack_tokens(restored)
    assert back is not None
    for (ids, rows), (ids0, rows0) in zip(back, tokens, strict=True):
        assert ids.tolist() == ids0.tolist() and (rows == rows0).all()
    # What an older qa wrote: no token keys. The vectors are all there; the tokens are not.
    older = {k: v for k, v in sentences_metadata(packed).items() if not k.startswith("token_")}
    plain = sentences_from_record(older)
    assert unpack_tokens(plain) is None
    assert plain.data == packed.data and plain.spans == packed.spans
