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
