"""What MemoryStore adds to the storage contract: outages, its clock, threads, its own checks."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
from fakes.corpus import article, document_write, memory_store

from qa.embeddings.hashing import HashingEmbedder
from qa.errors import StoreError
from qa.ports import Store
from qa.store.memory import MemoryStore
from qa.types import DocumentWrite

EMBEDDER = HashingEmbedder()
TEXT = "Floods closed the coastal road.\nCrews reopened one lane on Friday.\nRain is due again."


def test_it_is_a_store() -> None:
    store: Store = MemoryStore()  # mypy checks the protocol; this checks it imports
    assert store.revision() == ""


CALLS: dict[str, Callable[[MemoryStore], object]] = {
    "ping": lambda s: s.ping(),
    "check_embedder": lambda s: s.check_embedder("hashing:256", 256),
    "write": lambda s: s.write([document_write(article("b", TEXT), EMBEDDER)]),
    "delete_document": lambda s: s.delete_document("a"),
    "prune_orphans": lambda s: s.prune_orphans(),
    "query_ids": lambda s: s.query_ids(EMBEDDER.embed(["floods"])[0], 3),
    "get_hits": lambda s: s.get_hits(["a"]),
    "get_document": lambda s: s.get_document("a"),
    "list_documents": lambda s: s.list_documents(),
    "document_hash": lambda s: s.document_hash("a"),
    "sentence_vectors": lambda s: s.sentence_vectors("a", "0" * 64),
    "revision": lambda s: s.revision(),
    "document_hashes": lambda s: s.document_hashes(),
    "document_changes": lambda s: s.document_changes(0),
    "chunks_of": lambda s: s.chunks_of(["a"]),  # fails at the call, not when iterated
    "count": lambda s: s.count(),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_store_that_is_down_fails_every_call(call: str) -> None:
    store = memory_store([article("a", TEXT)])
    store.down = True
    with pytest.raises(StoreError, match="down") as info:
        CALLS[call](store)
    assert info.value.retryable
    store.down = False
    CALLS[call](store)


def test_the_clock_stamps_the_change_feed() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    store.write([document_write(article("a", TEXT), EMBEDDER)])
    now[0] = 2000.0
    store.write([document_write(article("b", TEXT), EMBEDDER)])
    store.delete_document("a")
    changes = store.document_changes(1500.0)
    assert set(changes.written) == {"b"}
    assert changes.deleted == {"a"}
    assert set(store.document_changes(2000.0).written) == {"b"}  # "at or after"
    assert store.document_changes(2000.1).written == {}


def test_documents_written_twice_in_one_call_end_as_the_last() -> None:
    first, second = article("a", TEXT), article("a", TEXT + "\nMore rain fell.")
    store = MemoryStore()
    store.write([document_write(first, EMBEDDER), document_write(second, EMBEDDER)])
    assert store.get_document("a") == second
    assert {c.chunk_id for c, _ in store.chunks_of(["a"])} == {
        c.chunk_id for c in document_write(second, EMBEDDER).chunks
    }


def test_vectors_are_normalised_and_their_dimension_fixed() -> None:
    doc = article("a", "Floods closed the coastal road.")
    item = document_write(doc, EMBEDDER)
    store = MemoryStore()
    store.write([DocumentWrite(doc, item.chunks, item.vectors * 5.0)])
    [(_, score)] = store.query_ids(item.vectors[0] * 0.5, 5)
    assert score == pytest.approx(1.0)
    other = HashingEmbedder(32)
    with pytest.raises(ValueError, match="dimensions"):
        store.write([document_write(article("b", TEXT), other)])
    with pytest.raises(ValueError, match="dimensions"):
        store.query_ids(other.embed(["floods"])[0], 5)


def test_a_zero_vector_matches_nothing() -> None:
    doc = article("a", "Floods closed the coastal road.")
    item = document_write(doc, EMBEDDER)
    store = MemoryStore()
    store.write([DocumentWrite(doc, item.chunks, np.zeros_like(item.vectors))])
    assert store.query_ids(item.vectors[0], 5)[0][1] == 0.0
    assert store.query_ids(np.zeros(EMBEDDER.dimension, np.float32), 5)[0][1] == 0.0


def test_stored_documents_are_not_shared_with_callers() -> None:
    doc = article("a", TEXT, metadata={"lang": "en"})
    store = memory_store([doc])
    doc.metadata["lang"] = "fr"
    got = store.get_document("a")
    assert got is not None and got.metadata == {"lang": "en"}
    got.metadata["lang"] = "de"
    again = store.get_document("a")
    assert again is not None and again.metadata == {"lang": "en"}


def test_sentence_vectors_of_another_document_are_refused() -> None:
    a = document_write(article("a", TEXT), EMBEDDER, sentences=True)
    b = document_write(article("b", TEXT), EMBEDDER)
    with pytest.raises(ValueError, match="sentence vectors"):
        MemoryStore().write([DocumentWrite(b.document, b.chunks, b.vectors, a.sentences)])


def test_concurrent_writers_and_readers_see_whole_documents() -> None:
    store = MemoryStore()
    versions = [
        document_write(article("a", f"{TEXT}\nVersion {n} of the story."), EMBEDDER)
        for n in range(5)
    ]
    valid = {v.document.content_hash: {c.chunk_id for c in v.chunks} for v in versions}
    store.write([versions[0]])
    errors: list[str] = []
    stop = threading.Event()

    def write() -> None:
        for n in range(200):
            store.write([versions[n % len(versions)]])
        stop.set()

    def read() -> None:
        while not stop.is_set():
            chunks = list(store.chunks_of(["a"]))
            hashes = {str(meta["content_hash"]) for _, meta in chunks}
            ids = {chunk.chunk_id for chunk, _ in chunks}
            if len(hashes) != 1 or ids != valid[hashes.pop()]:
                errors.append(f"torn read: {sorted(ids)}")
            store.query_ids(EMBEDDER.embed(["floods"])[0], 3)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert store.prune_orphans() == 0
