"""What one extractive answer reads from the store: its documents and their sentence vectors
in one batch, and nothing again for attribution."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from fakes.articles import make_doc, make_hit
from fakes.corpus import document_write

from qa.answering.attribution import AttributedAnswerer
from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.sentences import build_sources
from qa.embeddings.hashing import HashingEmbedder
from qa.store.memory import MemoryStore
from qa.types import Answer, Document, SentenceVectors

EMBEDDER = HashingEmbedder()
TAJIK = make_doc(
    "tajik",
    [
        "Guards take in fleeing soldiers",
        "Moscow (AsiaNews) - Putin spoke with the Tajik president by telephone.",
        "On July 5, Tajik border guards let 1,037 Afghan soldiers into the country.",
        "The border in Badakhshan province stretches for 910 kilometres.",
    ],
).model_copy(update={"publisher": "AsiaNews"})
KABUL = make_doc(
    "kabul",
    [
        "Kabul troops cross into Tajikistan",
        "Last week, at least 134 Afghan soldiers crossed the border into Tajikistan.",
        "Tajikistan is a member of a regional security treaty.",
    ],
).model_copy(update={"publisher": "RT"})
HITS = [make_hit(TAJIK, 2, 4), make_hit(KABUL, 1, 3), make_hit(TAJIK, 1, 1)]
QUESTION = "How many Afghan soldiers crossed the border?"


class CountingStore(MemoryStore):
    """A MemoryStore that counts its document and sentence-vector reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    def get_document(self, doc_id: str) -> Document | None:
        self.reads["get_document"] += 1
        return super().get_document(doc_id)

    def sentence_vectors(self, doc_id: str, content_hash: str) -> SentenceVectors | None:
        self.reads["sentence_vectors"] += 1
        return super().sentence_vectors(doc_id, content_hash)

    def documents_with_sentences(
        self, doc_ids: Sequence[str]
    ) -> dict[str, tuple[Document, SentenceVectors | None]]:
        self.reads["documents_with_sentences"] += 1
        return super().documents_with_sentences(doc_ids)


def counting_store() -> CountingStore:
    store = CountingStore()
    store.check_embedder(EMBEDDER.name, EMBEDDER.dimension)
    store.write([document_write(d, EMBEDDER, sentences=True) for d in (TAJIK, KABUL)])
    return store


def test_an_answer_reads_its_documents_and_vectors_in_one_batch() -> None:
    store = counting_store()
    inner = ExtractiveAnswerer(EMBEDDER, store.get_document, sentences=store, threshold=0.3)
    answerer = AttributedAnswerer(inner, store.get_document)
    answer = answerer.answer(QUESTION, HITS, [])
    assert answer.answerable and {c.doc_id for c in answer.citations} == {"tajik", "kabul"}
    assert answer.answer.startswith("Sources differ: ")  # attribution named both documents
    # One batched read; attribution used the documents the answer had read.
    assert store.reads == Counter({"documents_with_sentences": 1})
    items = list(answerer.stream(QUESTION, HITS, []))
    assert items[-1] == answer and "".join(str(i) for i in items[:-1]) == answer.answer
    assert store.reads == Counter({"documents_with_sentences": 2})


def test_the_batched_read_ranks_as_reading_each_document_alone() -> None:
    store = counting_store()
    answerer = ExtractiveAnswerer(EMBEDDER, store.get_document, sentences=store)
    alone = answerer.rank(
        QUESTION,
        build_sources(HITS, store.get_document),
        store.get_document,
        store.sentence_vectors,
    )
    assert store.reads["documents_with_sentences"] == 0
    assert store.reads["sentence_vectors"] == 2  # one per document: the vectors were used
    batched = answerer.score_sentences(QUESTION, HITS)
    assert [(s.sentence, s.score) for s in alone] == batched
    assert len(batched) == 7  # every line of both documents (the tajik hits merged)


def test_without_a_sentence_index_documents_are_read_alone_once_each() -> None:
    store = counting_store()
    answerer = ExtractiveAnswerer(EMBEDDER, store.get_document, threshold=0.3)
    answer = AttributedAnswerer(answerer, store.get_document).answer(QUESTION, HITS, [])
    assert isinstance(answer, Answer) and answer.answerable
    assert store.reads == Counter({"get_document": 2})
