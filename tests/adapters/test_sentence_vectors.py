"""Sentence vectors made at ingest: packed, stored beside the document, used by answers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.articles import make_doc

from qa.answering.sentences import document_sentences
from qa.answering.vectors import pack, unpack
from qa.config import Settings
from qa.embeddings.hashing import HashingEmbedder
from qa.errors import InputError
from qa.ports import Embedder, Vectors
from qa.service import QAService, build_service
from qa.store import SENTENCES_PREFIX
from qa.store.chroma import ChromaChunkStore

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
TAJIK = "000_4e774364687dacde.txt"
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


def seeded(tmp_path: Path, **overrides: Any) -> QAService:
    service = build_service(Settings(data_dir=tmp_path, _env_file=None, **overrides))
    assert service.ingest_paths([SEEDS]).failed == 0
    return service


def test_pack_round_trip_keeps_cosines() -> None:
    embedder = HashingEmbedder(64)
    doc = make_doc("d", ["Title line", "", "First sentence here. Second one follows.", "Third."])
    sentences = document_sentences(doc)
    assert len(sentences) == 4
    vectors = embedder.embed([s.text for s in sentences])
    restored = unpack(pack(doc, sentences, vectors))
    assert list(restored) == [(s.char_start, s.char_end) for s in sentences]
    for row, original in zip(restored.values(), vectors, strict=True):
        assert float(row @ original) > 0.995
        assert abs(float(np.linalg.norm(row)) - 1.0) < 1e-5


def test_ingest_stores_them_and_answers_only_embed_the_question(tmp_path: Path) -> None:
    service = seeded(tmp_path)
    doc = service.store.get_document(TAJIK)
    assert doc is not None and doc.sentence_vectors is not None
    assert doc.sentence_vectors.content_hash == doc.content_hash
    sentences = document_sentences(doc)
    stored = unpack(doc.sentence_vectors)
    assert list(stored) == [(s.char_start, s.char_end) for s in sentences]
    direct = service.embedder.embed([s.text for s in sentences])
    assert (
        min(
            float(stored[(s.char_start, s.char_end)] @ v)
            for s, v in zip(sentences, direct, strict=True)
        )
        > 0.99
    )
    assert "sentence_vectors" not in doc.model_dump()  # never serialised into responses

    counting = Counting(service.answerer.vectors.embedder)
    service.answerer.vectors.embedder = counting
    answer = service.ask(QUESTION)
    assert answer.answerable and "1,037" in answer.answer
    assert counting.texts == [QUESTION]  # embedded once, for search; the answer reused it


def test_without_them_the_answer_embeds_sentences_and_agrees(tmp_path: Path) -> None:
    with_vectors = seeded(tmp_path / "with").ask(QUESTION)
    service = seeded(tmp_path / "without", sentence_vectors=False)
    doc = service.store.get_document(TAJIK)
    assert doc is not None and doc.sentence_vectors is None
    counting = Counting(service.answerer.vectors.embedder)
    service.answerer.vectors.embedder = counting
    answer = service.ask(QUESTION)
    assert counting.texts[0] == QUESTION and len(counting.texts) > 1
    assert [(c.doc_id, c.line_start, c.line_end) for c in answer.citations] == [
        (c.doc_id, c.line_start, c.line_end) for c in with_vectors.citations
    ]


def test_stale_or_deleted_vectors_are_not_used(tmp_path: Path) -> None:
    service = seeded(tmp_path)
    store = service.store
    assert isinstance(store, ChromaChunkStore)
    doc = store.get_document(TAJIK)
    assert doc is not None and doc.sentence_vectors is not None
    # A new version written without vectors: the old version's vectors must not apply.
    edited = doc.model_copy(
        update={
            "lines": (*doc.lines, "A new line."),
            "content_hash": "f" * 64,
            "sentence_vectors": None,
        }
    )
    store.upsert_documents([(edited, [], np.zeros((0, 384), dtype=np.float32))])
    reread = store.get_document(TAJIK)
    assert reread is not None and reread.sentence_vectors is None
    assert [d.doc_id for d in store.list_documents()] == sorted(
        ["000_4e774364687dacde.txt", "001_6767eb312ccb9e98.txt"]
    )
    assert store.delete_document(TAJIK)
    raw = store._connect().documents.get(ids=[SENTENCES_PREFIX + TAJIK])
    assert raw["ids"] == []
    with pytest.raises(InputError):
        store.upsert_documents(
            [
                (
                    edited.model_copy(update={"doc_id": SENTENCES_PREFIX + "x"}),
                    [],
                    np.zeros((0, 384), dtype=np.float32),
                )
            ]
        )
