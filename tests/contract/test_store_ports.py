"""One contract for the storage ports (``Store``), run against every backend in BACKENDS."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fakes.corpus import article, document_write, pack_sentences

from qa.config import Settings
from qa.embeddings.hashing import HashingEmbedder
from qa.errors import EmbedderMismatchError, InputError
from qa.ports import Store
from qa.store.chroma import ChromaStore
from qa.store.memory import MemoryStore
from qa.store.records import MARKER_RETENTION_S, chunk_metadata
from qa.types import Document, DocumentChanges, DocumentWrite, Filters, SentenceVectors

EMBEDDER = HashingEmbedder(64)
JULY = datetime(2021, 7, 6, 11, 48, tzinfo=UTC)

#: Makes a fresh, empty store of one backend; gets the test's request for fixtures it needs.
StoreFactory = Callable[[pytest.FixtureRequest], Store]


def _memory(request: pytest.FixtureRequest) -> Store:
    return MemoryStore()


def _chroma(request: pytest.FixtureRequest) -> Store:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return ChromaStore.from_settings(Settings(data_dir=tmp_path, _env_file=None).store)


# One line per backend: pytest.param(factory, id=..., marks=...).
BACKENDS = [
    pytest.param(_memory, id="memory"),
    pytest.param(_chroma, id="chroma"),
]


def current_vectors(store: Store, doc_id: str) -> SentenceVectors | None:
    """The sentence vectors of the stored version of ``doc_id``."""
    doc = store.get_document(doc_id)
    return None if doc is None else store.sentence_vectors(doc_id, doc.content_hash)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Store:
    factory: StoreFactory = request.param
    return factory(request)


ARTICLE = [
    "Putin ready to help Tajiks against the Taliban",
    "Russia is ready to help Tajikistan against the Afghan Taliban, the Kremlin said on Tuesday.",
    "",
    "Share this story",
    "Tajik border guards let 1,037 Afghan soldiers into their territory after clashes.",
    "The soldiers crossed the river at night, officials in Dushanbe said.",
]


def make(
    doc_id: str,
    lines: list[str] | None = None,
    *,
    source: str = "asianews",
    published_at: datetime | None = JULY,
    excluded: frozenset[int] = frozenset({4}),
) -> Document:
    return article(
        doc_id,
        lines if lines is not None else ARTICLE,
        source=source,
        url=f"https://example.org/{doc_id}",
        publisher="Example News",
        published_at=published_at,
        excluded=excluded,
        metadata={"lang": "en", "words": 42, "paywall": False, "score": 0.5},
    )


def put(store: Store, *docs: Document, sentences: bool = False) -> list[DocumentWrite]:
    items = [document_write(doc, EMBEDDER, sentences=sentences) for doc in docs]
    store.write(items)
    return items


def chunk_ids(store: Store, *doc_ids: str) -> set[str]:
    return {chunk.chunk_id for chunk, _ in store.chunks_of(list(doc_ids))}


def changes(store: Store, since: float) -> DocumentChanges:
    found = store.document_changes(since)
    assert found is not None, "every backend here keeps a change feed"
    return found


def query(store: Store, text: str, k: int = 50, filters: Filters | None = None) -> list[str]:
    return [chunk_id for chunk_id, _ in store.query_ids(EMBEDDER.embed([text])[0], k, filters)]


# --------------------------------------------------------------------------- reads and writes


def test_empty_store(store: Store) -> None:
    assert store.query_ids(EMBEDDER.embed(["anything"])[0], 5) == []
    assert store.get_hits(["nope"]) == []
    assert store.list_documents() == []
    assert store.document_hashes() == {}
    assert store.count() == 0
    assert store.get_document("nope") is None
    assert store.document_hash("nope") is None
    assert store.sentence_vectors("nope", "0" * 64) is None
    assert list(store.chunks_of(["nope"])) == []
    assert store.delete_document("nope") is False
    assert store.prune_orphans() == 0
    store.ping()


def test_a_file_documents_location_round_trips(store: Store) -> None:
    doc = make("f1").model_copy(update={"location": "/srv/news/f1.txt"})
    put(store, doc)
    assert store.get_document("f1") == doc
    assert [info.location for info in store.list_documents()] == ["/srv/news/f1.txt"]


def test_round_trip(store: Store) -> None:
    doc = make("a1")
    [item] = put(store, doc)
    assert len(item.chunks) >= 2  # the builders' small chunks: the article makes several

    assert store.get_document("a1") == doc  # lines, excluded, metadata, published_at, ...
    assert store.document_hash("a1") == doc.content_hash
    assert store.document_hashes() == {"a1": doc.content_hash}
    [info] = store.list_documents()
    assert info.model_dump(exclude={"written_at"}) == {
        **doc.model_dump(
            include={
                "doc_id",
                "source",
                "title",
                "url",
                "publisher",
                "published_at",
                "content_hash",
                "location",
            }
        ),
        "line_count": len(ARTICLE),
        "chunk_count": len(item.chunks),
    }
    assert info.written_at is not None
    assert abs((datetime.now(UTC) - info.written_at).total_seconds()) < 60

    stored = list(store.chunks_of(["a1"]))
    assert sorted(c.chunk_id for c, _ in stored) == sorted(c.chunk_id for c in item.chunks)
    expected = {c.chunk_id: c for c in item.chunks}
    for chunk, meta in stored:
        assert chunk == expected[chunk.chunk_id]
        # The BM25 index reads doc_id, source and published_ts from these.
        assert meta == chunk_metadata(doc, chunk)
        assert meta["published_ts"] == int(JULY.timestamp())


def test_get_hits_in_the_order_given_without_unknown_ids(store: Store) -> None:
    doc = make("a1")
    [item] = put(store, doc)
    first, second = item.chunks[0], item.chunks[1]
    hits = store.get_hits([second.chunk_id, "nope", first.chunk_id, second.chunk_id])
    assert [h.chunk_id for h in hits] == [second.chunk_id, first.chunk_id]
    assert all(h.score == 0.0 for h in hits)
    hit = hits[1]
    assert (hit.doc_id, hit.source, hit.title, hit.url) == ("a1", doc.source, doc.title, doc.url)
    assert (hit.line_start, hit.line_end, hit.text) == (
        first.line_start,
        first.line_end,
        first.text,
    )
    assert hit.published_at == JULY
    assert store.get_hits([]) == []


def test_document_without_lines_or_chunks(store: Store) -> None:
    empty = make("empty", [], published_at=None, excluded=frozenset())
    store.write([DocumentWrite(empty, (), np.zeros((0, EMBEDDER.dimension), np.float32))])
    assert store.get_document("empty") == empty
    [info] = store.list_documents()
    assert (info.line_count, info.chunk_count) == (0, 0)
    assert list(store.chunks_of(["empty"])) == []


def test_write_is_idempotent(store: Store) -> None:
    doc = make("a1")
    put(store, doc)
    before = chunk_ids(store, "a1")
    put(store, doc)
    assert chunk_ids(store, "a1") == before
    assert len(store.list_documents()) == 1


def test_replacing_a_document_replaces_its_chunks(store: Store) -> None:
    [old] = put(store, make("a1"))
    revision = store.revision()
    new_doc = make("a1", [*ARTICLE[:2], "A correction was appended to the story."])
    [new] = put(store, new_doc)

    assert store.revision() != revision
    assert store.get_document("a1") == new_doc
    assert store.document_hash("a1") == new_doc.content_hash
    assert chunk_ids(store, "a1") == {c.chunk_id for c in new.chunks}
    gone = [c.chunk_id for c in old.chunks if c.chunk_id not in chunk_ids(store, "a1")]
    assert gone
    assert store.get_hits(gone) == []
    assert not set(gone) & set(query(store, ARTICLE[4]))
    assert store.list_documents()[0].chunk_count == len(new.chunks)


def test_fewer_chunks_with_the_same_hash_drop_the_rest(store: Store) -> None:
    doc = make("a1")
    item = document_write(doc, EMBEDDER)
    store.write([item])
    store.write([DocumentWrite(doc, item.chunks[:1], item.vectors[:1])])  # re-chunked
    assert chunk_ids(store, "a1") == {item.chunks[0].chunk_id}


def test_delete_removes_everything_derived(store: Store) -> None:
    doc = make("a1")
    [item] = put(store, doc, make("a2"), sentences=True)[:1]
    assert current_vectors(store, "a1") is not None
    revision = store.revision()

    total = store.count()
    assert total == sum(d.chunk_count for d in store.list_documents()) > len(item.chunks)
    assert store.delete_document("a1") is True
    assert store.count() == total - len(item.chunks)
    assert store.revision() != revision
    assert store.get_document("a1") is None
    assert store.document_hash("a1") is None
    assert current_vectors(store, "a1") is None
    assert [d.doc_id for d in store.list_documents()] == ["a2"]
    assert list(store.chunks_of(["a1"])) == []
    assert store.get_hits([c.chunk_id for c in item.chunks]) == []
    assert {store.get_hits([i])[0].doc_id for i in query(store, ARTICLE[1])} == {"a2"}
    assert changes(store, 0).deleted == {"a1"}

    revision = store.revision()
    assert store.delete_document("a1") is False
    assert store.revision() == revision
    assert store.prune_orphans() == 0


# --------------------------------------------------------------------------- search


def test_query_is_cosine_best_first(store: Store) -> None:
    [item] = put(store, make("a1"))
    target = item.chunks[1]
    ranked = store.query_ids(EMBEDDER.embed([target.text])[0], 50)
    assert ranked[0][0] == target.chunk_id
    assert ranked[0][1] == pytest.approx(1.0, abs=1e-4)
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(ranked) == len(item.chunks)
    assert len(store.query_ids(EMBEDDER.embed([target.text])[0], 1)) == 1
    assert store.query_ids(EMBEDDER.embed([target.text])[0], 0) == []


def test_filters(store: Store) -> None:
    put(
        store,
        make("a1", source="asianews", published_at=JULY),
        make("r1", source="rt", published_at=JULY + timedelta(days=2)),
        make("u1", source="rt", published_at=None),
    )

    def docs(filters: Filters | None) -> set[str]:
        ids = query(store, ARTICLE[1], filters=filters)
        return {hit.doc_id for hit in store.get_hits(ids)}

    day = datetime(2021, 7, 6)  # naive means UTC; both bounds are inclusive
    assert docs(None) == {"a1", "r1", "u1"}
    assert docs(Filters(source=["rt"])) == {"r1", "u1"}
    assert docs(Filters(doc_id=["a1", "u1"])) == {"a1", "u1"}
    assert docs(Filters(published_after=JULY + timedelta(days=1))) == {"r1"}
    assert docs(Filters(published_before=JULY + timedelta(hours=1))) == {"a1"}
    assert docs(Filters(published_after=JULY, published_before=JULY)) == {"a1"}
    assert docs(Filters(published_after=day, published_before=day + timedelta(days=1))) == {"a1"}
    one_second_later = JULY + timedelta(seconds=1)
    assert docs(Filters(published_after=one_second_later, published_before=JULY)) == set()
    assert docs(Filters(published_after=day, source=["asianews", "rt"])) == {"a1", "r1"}
    assert docs(Filters(source=["rt"], doc_id=["a1"])) == set()
    assert docs(Filters(source=[])) == set()
    assert docs(Filters(doc_id=[])) == set()
    # The undated document never matches a date, however wide the range.
    wide = Filters(published_after=datetime(1970, 1, 2), published_before=datetime(2100, 1, 1))
    assert docs(wide) == {"a1", "r1"}
    # ...unless asked for: a question asked as of a day still reads undated documents.
    assert docs(wide.model_copy(update={"include_undated": True})) == {"a1", "r1", "u1"}
    before = Filters(published_before=JULY + timedelta(hours=1), include_undated=True)
    assert docs(before) == {"a1", "u1"}
    assert docs(before.model_copy(update={"source": ["rt"]})) == {"u1"}
    assert docs(Filters(include_undated=True)) == {"a1", "r1", "u1"}  # no bound: no effect
    # k counts matching chunks only.
    only_a1 = query(store, ARTICLE[1], k=2, filters=Filters(doc_id=["a1"]))
    assert len(only_a1) == 2
    assert {h.doc_id for h in store.get_hits(only_a1)} == {"a1"}


# --------------------------------------------------------------------------- write rules


@pytest.mark.parametrize("doc_id", ["__sentences__/a1", "__deleted__/a1", "__revision__"])
def test_reserved_ids_are_refused_and_nothing_is_written(store: Store, doc_id: str) -> None:
    revision = store.revision()
    with pytest.raises(InputError, match="reserved"):
        put(store, make("ok"), make(doc_id))
    assert store.list_documents() == []
    assert store.revision() == revision


def test_chunks_must_belong_to_their_document_with_one_vector_each(store: Store) -> None:
    a1, a2 = document_write(make("a1"), EMBEDDER), document_write(make("a2"), EMBEDDER)
    with pytest.raises(ValueError, match="belong"):
        store.write([DocumentWrite(a1.document, a2.chunks, a2.vectors)])
    with pytest.raises(ValueError, match="vectors"):
        store.write([DocumentWrite(a1.document, a1.chunks, a1.vectors[:1])])
    with pytest.raises(ValueError, match="vectors"):
        store.write([DocumentWrite(a1.document, a1.chunks, a1.vectors.reshape(-1))])
    assert store.list_documents() == []


def test_empty_write_changes_nothing(store: Store) -> None:
    put(store, make("a1"))
    revision = store.revision()
    store.write([])
    assert store.revision() == revision


def test_embedder_mismatch(store: Store) -> None:
    store.check_embedder("hashing:64", 64)
    store.check_embedder("hashing:64", 64)
    with pytest.raises(EmbedderMismatchError) as info:
        store.check_embedder("local:all-MiniLM-L6-v2-onnx-int8", 384)
    assert "hashing:64" in str(info.value)
    with pytest.raises(EmbedderMismatchError):
        store.check_embedder("hashing:64", 128)


# --------------------------------------------------------------------------- sentence vectors


def test_sentence_vectors_round_trip(store: Store) -> None:
    doc = make("a1")
    put(store, doc, sentences=True)
    vectors = current_vectors(store, "a1")
    assert vectors == pack_sentences(doc, EMBEDDER)
    assert vectors is not None and vectors.doc_id == "a1" and vectors.spans


def test_sentence_vectors_of_an_old_version_are_not_returned(store: Store) -> None:
    old = make("a1")
    put(store, old, sentences=True)
    new = make("a1", [*ARTICLE, "An update."])
    put(store, new)  # written without sentence vectors
    assert current_vectors(store, "a1") is None
    stale = pack_sentences(old, EMBEDDER)  # made from the old content hash
    item = document_write(new, EMBEDDER)
    with pytest.raises(ValueError, match="sentence vectors"):
        store.write([DocumentWrite(new, item.chunks, item.vectors, stale)])
    assert store.sentence_vectors("a1", old.content_hash) is None  # dropped with its version
    put(store, new, sentences=True)
    assert current_vectors(store, "a1") == pack_sentences(new, EMBEDDER)


def test_documents_with_sentences_reads_what_the_single_reads_give(store: Store) -> None:
    put(store, make("a1"), sentences=True)
    put(store, make("a2", ARTICLE[:3]))  # no sentence vectors
    assert store.documents_with_sentences([]) == {}
    store.get_document("a2")  # one of them already read (a cache, where a store has one)
    for _ in range(2):  # and again, with everything read once
        found = store.documents_with_sentences(["a2", "nope", "a1", "a2"])
        assert list(found) == ["a2", "a1"]  # as asked, once each, absent ones left out
        assert found["a1"] == (store.get_document("a1"), current_vectors(store, "a1"))
        assert found["a1"][1] == pack_sentences(make("a1"), EMBEDDER)
        assert found["a2"] == (store.get_document("a2"), None)


def test_documents_with_sentences_follow_writes_and_deletes(store: Store) -> None:
    put(store, make("a1"), sentences=True)
    assert store.documents_with_sentences(["a1"])["a1"][1] is not None
    new = make("a1", [*ARTICLE, "An update."])
    put(store, new)  # a new version without sentence vectors: the old ones are not its
    assert store.documents_with_sentences(["a1"]) == {"a1": (new, None)}
    put(store, new, sentences=True)
    assert store.documents_with_sentences(["a1"]) == {"a1": (new, pack_sentences(new, EMBEDDER))}
    store.delete_document("a1")
    assert store.documents_with_sentences(["a1"]) == {}


# --------------------------------------------------------------------------- change feed


def test_revision_moves_on_writes_only(store: Store) -> None:
    first = store.revision()
    assert store.revision() == first
    put(store, make("a1"))
    second = store.revision()
    assert second != first
    store.list_documents()
    store.query_ids(EMBEDDER.embed(["x"])[0], 3)
    assert store.revision() == second
    put(store, make("a2"))
    assert store.revision() not in (first, second)


def test_document_changes_since_a_moment(store: Store) -> None:
    put(store, make("a1"), make("a2"))
    time.sleep(0.01)
    since = time.time()
    assert store.document_changes(since + 60) == DocumentChanges(written={}, deleted=frozenset())
    edited = make("a1", [*ARTICLE, "Update."])
    put(store, edited)
    store.delete_document("a2")
    edits = changes(store, since)
    assert edits.written == {"a1": edited.content_hash}
    assert edits.deleted == {"a2"}
    assert set(changes(store, 0).written) == {"a1"}  # a1's first write is superseded
    put(store, make("a2"))  # written again after its deletion
    again = changes(store, since)
    assert set(again.written) == {"a1", "a2"}
    assert again.deleted == frozenset()
    assert {d.doc_id for d in store.list_documents()} == {"a1", "a2"}  # no markers listed


def test_old_deletion_markers_are_pruned(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    put(store, make("old"), make("new"))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - MARKER_RETENTION_S - 60)
    store.delete_document("old")  # its marker is stamped 7 days and a minute ago
    monkeypatch.setattr(time, "time", lambda: now)
    store.delete_document("new")
    assert changes(store, 0).deleted == {"old", "new"}
    assert store.prune_orphans() == 0
    assert changes(store, 0).deleted == {"new"}


def test_chunks_of_reads_only_the_documents_asked(store: Store) -> None:
    items = {i.document.doc_id: i for i in put(store, make("a1"), make("a2"), make("a3"))}
    read = list(store.chunks_of(["a3", "a1", "a3", "missing"]))
    expected = {c.chunk_id: c for d in ("a1", "a3") for c in items[d].chunks}
    assert sorted(chunk.chunk_id for chunk, _ in read) == sorted(expected)
    for chunk, meta in read:
        assert chunk == expected[chunk.chunk_id]
        assert (meta["doc_id"], meta["source"]) == (chunk.doc_id, "asianews")
    assert list(store.chunks_of([])) == []
