"""Concurrent writers of one document, on every backend: the last writer wins, whole.

Threads start each round together (a barrier); after it the document is exactly one
writer's version (record, chunks and sentence vectors), or deleted, never 0 chunks or a mix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fakes.corpus import article, document_write

from qa.ports import Store
from qa.types import DocumentWrite

from .test_store_ports import BACKENDS, EMBEDDER, StoreFactory

WRITERS = 8
ROUNDS = 6


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Store:
    factory: StoreFactory = request.param
    made = factory(request)
    made.check_embedder(EMBEDDER.name, EMBEDDER.dimension)
    return made


def version(doc_id: str, writer: int) -> DocumentWrite:
    """Writer ``writer``'s version: a different body, and a different number of chunks."""
    lines = [f"Version {writer} of {doc_id}: the council met on Tuesday."]
    lines += [
        f"Line {n} of version {writer} says the vote was {n + writer} to 3."
        for n in range(writer + 2)
    ]
    return document_write(article(doc_id, lines), EMBEDDER, sentences=True)


def together(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Run ``calls`` on as many threads, released at once; the exceptions they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def assert_whole(store: Store, doc_id: str, versions: list[DocumentWrite]) -> str | None:
    """The stored document is exactly one of ``versions`` (or absent); its content hash."""
    doc = store.get_document(doc_id)
    chunks = {chunk.chunk_id: meta for chunk, meta in store.chunks_of([doc_id])}
    if doc is None:
        assert chunks == {}, "a deleted document keeps no chunks"
        return None
    [winner] = [v for v in versions if v.document.content_hash == doc.content_hash]
    assert sorted(chunks) == sorted(c.chunk_id for c in winner.chunks), "chunks of one version"
    assert {meta["content_hash"] for meta in chunks.values()} == {doc.content_hash}
    [info] = [d for d in store.list_documents() if d.doc_id == doc_id]
    assert info.chunk_count == len(winner.chunks) > 0
    vectors = store.sentence_vectors(doc_id, doc.content_hash)
    assert vectors is not None and vectors.content_hash == doc.content_hash
    return doc.content_hash


def test_concurrent_writers_of_one_document_leave_one_whole_version(store: Store) -> None:
    for round_ in range(ROUNDS):
        doc_id = f"race-{round_}"
        versions = [version(doc_id, writer) for writer in range(WRITERS)]
        errors = together([lambda v=v: store.write([v]) for v in versions])
        assert errors == []
        assert assert_whole(store, doc_id, versions) is not None
    assert store.prune_orphans() == 0  # nothing was left over for a prune to find


def test_writers_and_deleters_at_once_end_whole_or_deleted(store: Store) -> None:
    outcomes: set[str] = set()
    for round_ in range(ROUNDS):
        doc_id = f"race-{round_}"
        versions = [version(doc_id, writer) for writer in range(WRITERS // 2)]
        store.write([versions[0]])
        calls: list[Callable[[], object]] = [lambda v=v: store.write([v]) for v in versions]
        calls += [lambda d=doc_id: store.delete_document(d)] * (WRITERS // 2)
        assert together(calls) == []
        outcomes.add("deleted" if assert_whole(store, doc_id, versions) is None else "whole")
        if store.get_document(doc_id) is None:
            assert doc_id in store.document_changes(0.0).deleted
    assert outcomes  # either is fine; both are checked whole
    assert store.prune_orphans() == 0


def test_a_write_in_one_batch_with_others_is_still_whole(store: Store) -> None:
    """Batches overlapping on one id: every document in them ends as one writer's version."""
    ids = ["a", "b", "c"]
    batches = [[version(doc_id, writer) for doc_id in ids] for writer in range(WRITERS)]
    assert together([lambda b=b: store.write(b) for b in batches]) == []
    for doc_id in ids:
        assert_whole(store, doc_id, [b[ids.index(doc_id)] for b in batches])


def test_a_repair_write_never_replaces_a_newer_version_or_revives_a_deleted_one(
    store: Store,
) -> None:
    old, new = version("a", 1), version("a", 2)
    gone = version("b", 1)
    store.write([old, gone])
    store.write([new])
    store.delete_document("b")
    store.write([old, gone, version("c", 1)], only_if_stored=True)  # checked before a and b changed
    assert assert_whole(store, "a", [new]) == new.document.content_hash
    assert store.get_document("b") is None and store.get_document("c") is None
    assert store.orphan_chunks() == {}
    store.write([new], only_if_stored=True)  # the stored version: written again
    assert assert_whole(store, "a", [new]) == new.document.content_hash
