"""ChromaStore against real Chroma: embedded (PersistentClient) and `chroma run` server."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from chromadb.api.models.Collection import Collection
from fakes.chroma_server import ChromaServer

from qa.config import Settings, StoreSettings
from qa.embeddings.hashing import HashingEmbedder
from qa.errors import EmbedderMismatchError, InputError, StoreError
from qa.store import chroma as chroma_module
from qa.store.chroma import HTTP_TIMEOUT, UNDATED_MARKED, ChromaStore, make_chroma_client
from qa.store.records import MARKER_RETENTION_S, chunk_from_record, chunk_metadata
from qa.types import Chunk, Document, DocumentChanges, DocumentWrite, Filters, Hit

EMBEDDER = HashingEmbedder(64)
SEEDS = Path(__file__).resolve().parents[2] / "seeds"
StoreMaker = Callable[[], ChromaStore]


def make_doc(
    doc_id: str,
    lines: list[str],
    *,
    source: str = "asianews",
    published_at: datetime | None = datetime(2021, 7, 6, 11, 48, tzinfo=UTC),
    excluded: frozenset[int] = frozenset(),
) -> tuple[Document, list[Chunk]]:
    """A document and one chunk per non-empty, non-excluded line (ids embed the hash)."""
    text = "\n".join(lines)
    digest = hashlib.sha256(text.encode()).hexdigest()
    doc = Document(
        doc_id=doc_id,
        source=source,
        title=lines[0] if lines else "",
        url=f"https://example.org/{doc_id}",
        publisher="Example News",
        published_at=published_at,
        metadata={"lang": "en", "words": len(text.split())},
        lines=tuple(lines),
        excluded=excluded,
        content_hash=digest,
    )
    chunks: list[Chunk] = []
    offset = 0
    for number, line in enumerate(lines, start=1):
        if line.strip() and number not in excluded:
            chunks.append(
                Chunk(
                    chunk_id=f"{doc_id}:{digest[:12]}:{len(chunks)}",
                    doc_id=doc_id,
                    index=len(chunks),
                    text=line,
                    line_start=number,
                    line_end=number,
                    char_start=offset,
                    char_end=offset + len(line),
                )
            )
        offset += len(line) + 1
    return doc, chunks


REVISION_ID = "__revision__"  # the id older versions kept their revision record under


def store_doc(store: ChromaStore, doc: Document, chunks: list[Chunk]) -> None:
    upsert(store, doc, chunks, EMBEDDER.embed([c.text for c in chunks]))


def upsert(store: ChromaStore, doc: Document, chunks: Sequence[Chunk], vectors: Any) -> None:
    store.write([DocumentWrite(doc, tuple(chunks), vectors)])


def iter_chunks(store: ChromaStore) -> list[tuple[Chunk, dict[str, Any]]]:
    """Every stored chunk, orphans included (read from the collection itself)."""
    raw = store._db.connect().chunks.get(include=["documents", "metadatas"])
    return [
        (chunk_from_record(i, t, m), dict(m))
        for i, t, m in zip(raw["ids"], raw["documents"], raw["metadatas"], strict=True)
    ]


def chunk_ids(store: ChromaStore) -> list[str]:
    return sorted(chunk.chunk_id for chunk, _ in iter_chunks(store))


def query(store: ChromaStore, vector: Any, k: int, filters: Filters | None = None) -> list[Hit]:
    """Nearest passages with their cosine, as retrieval reads them."""
    pairs = store.query_ids(vector, k, filters)
    hits = {h.chunk_id: h for h in store.get_hits([i for i, _ in pairs])}
    return [hits[i].model_copy(update={"score": score}) for i, score in pairs]


def sources(store: ChromaStore) -> list[str]:
    return sorted({d.source for d in store.list_documents()})


ARTICLE = [
    "Putin ready to help Tajiks against the Taliban",
    "Russia is ready to help Tajikistan against the Afghan Taliban.",
    "",
    "Share this story",
    "Tajik border guards let 1,037 Afghan soldiers into their territory.",
]


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreMaker:
    """New store objects on one backend and one pair of collections (fresh per test)."""
    suffix = uuid.uuid4().hex[:8]
    if request.param == "embedded":
        settings = Settings(_env_file=None, data_dir=tmp_path)
    else:
        url = request.getfixturevalue("chroma_server")
        settings = Settings(_env_file=None, data_dir=tmp_path, chroma_url=url)
    store = settings.store.model_copy(
        update={
            "chunks_collection": f"chunks-{suffix}",
            "documents_collection": f"docs-{suffix}",
            "revision_poll_s": 0.0,  # see test_revision_ttl for the cached reads
        }
    )
    return partial(ChromaStore.from_settings, store)


@pytest.fixture
def store(make_store: StoreMaker) -> ChromaStore:
    return make_store()


def test_round_trip(store: ChromaStore) -> None:
    doc, chunks = make_doc("a1", ARTICLE, excluded=frozenset({4}))
    assert store.document_hash("a1") is None
    store_doc(store, doc, chunks)

    assert store.document_hash("a1") == doc.content_hash
    assert store.get_document("a1") == doc
    assert store.get_document("missing") is None
    [info] = store.list_documents()
    assert (info.doc_id, info.line_count, info.chunk_count) == ("a1", 5, 3)
    assert info.published_at == doc.published_at
    assert sources(store) == ["asianews"]

    stored = dict(iter_chunks(store))
    assert {c.chunk_id for c in stored} == {c.chunk_id for c in chunks}
    by_id = {c.chunk_id: (c, meta) for c, meta in stored.items()}
    first, meta = by_id[chunks[0].chunk_id]
    assert first == chunks[0]
    assert meta["published_ts"] == int(doc.published_at.timestamp())  # type: ignore[union-attr]
    assert meta["content_hash"] == doc.content_hash
    assert meta["source"] == "asianews"

    target = chunks[2]
    [best, *_] = query(store, EMBEDDER.embed([target.text])[0], k=3)
    assert best.chunk_id == target.chunk_id
    assert best.score == pytest.approx(1.0, abs=1e-4)
    assert (best.line_start, best.line_end, best.text) == (5, 5, target.text)
    assert best.published_at == doc.published_at
    assert best.url == doc.url

    hits = store.get_hits([chunks[2].chunk_id, "nope", chunks[0].chunk_id, chunks[2].chunk_id])
    assert [h.chunk_id for h in hits] == [chunks[2].chunk_id, chunks[0].chunk_id]
    assert all(h.score == 0.0 for h in hits)
    assert store.get_hits([]) == []
    store.ping()


def test_empty_store(store: ChromaStore) -> None:
    assert query(store, EMBEDDER.embed(["anything"])[0], k=5) == []
    assert list(iter_chunks(store)) == []
    assert store.list_documents() == []
    assert sources(store) == []
    assert store.revision() == ""
    assert store.delete_document("nope") is False


def test_document_without_chunks_or_lines(store: ChromaStore) -> None:
    empty, _ = make_doc("empty", [], published_at=None)
    upsert(store, empty, [], np.zeros((0, 64), dtype=np.float32))
    assert store.get_document("empty") == empty
    only_blank, _ = make_doc("blank", [""], published_at=None)
    upsert(store, only_blank, [], np.zeros((0, 64), dtype=np.float32))
    assert store.get_document("blank") == only_blank
    assert list(iter_chunks(store)) == []


def test_upsert_is_idempotent(store: ChromaStore) -> None:
    doc, chunks = make_doc("a1", ARTICLE)
    store_doc(store, doc, chunks)
    before = chunk_ids(store)
    store_doc(store, doc, chunks)
    assert chunk_ids(store) == before
    assert len(before) == 4
    assert len(store.list_documents()) == 1


def test_changed_content_replaces_chunks(store: ChromaStore) -> None:
    old, old_chunks = make_doc("a1", ARTICLE)
    store_doc(store, old, old_chunks)
    new, new_chunks = make_doc("a1", [*ARTICLE[:2], "A correction was appended."])
    store_doc(store, new, new_chunks)
    assert chunk_ids(store) == sorted(c.chunk_id for c in new_chunks)
    assert store.document_hash("a1") == new.content_hash
    assert store.get_document("a1") == new
    texts = [h.text for h in query(store, EMBEDDER.embed([ARTICLE[4]])[0], k=10)]
    assert ARTICLE[4] not in texts


def test_fewer_chunks_same_hash_drops_the_extra_ones(store: ChromaStore) -> None:
    doc, chunks = make_doc("a1", ARTICLE)
    store_doc(store, doc, chunks)
    store_doc(store, doc, chunks[:2])  # e.g. re-chunked with another size
    assert chunk_ids(store) == sorted(c.chunk_id for c in chunks[:2])


def fail_on(monkeypatch: pytest.MonkeyPatch, method: str, collection_prefix: str) -> None:
    """Make Collection.<method> die for one collection, like a SIGKILL at that step."""
    real = getattr(Collection, method)

    def dying(self: Collection, *args: Any, **kwargs: Any) -> Any:
        if self.name.startswith(collection_prefix):
            raise RuntimeError("simulated crash")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Collection, method, dying)


def test_crash_after_new_chunks_then_reingest_converges(
    make_store: StoreMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, old_chunks = make_doc("a1", ARTICLE)
    store_doc(make_store(), old, old_chunks)
    new, new_chunks = make_doc("a1", [*ARTICLE[:2], "A correction was appended."])

    with monkeypatch.context() as patch:
        fail_on(patch, "upsert", "docs-")  # step 2 never happens
        with pytest.raises(StoreError, match="simulated crash"):
            store_doc(make_store(), new, new_chunks)

    restarted = make_store()
    assert restarted.document_hash("a1") == old.content_hash  # so the ingester redoes it
    store_doc(restarted, new, new_chunks)
    assert chunk_ids(restarted) == sorted(c.chunk_id for c in new_chunks)
    assert restarted.prune_orphans() == 0
    assert restarted.get_document("a1") == new


def test_crash_before_stale_delete_is_pruned(
    make_store: StoreMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, old_chunks = make_doc("a1", ARTICLE)
    store_doc(make_store(), old, old_chunks)
    new, new_chunks = make_doc("a1", [*ARTICLE[:2], "A correction was appended."])
    with monkeypatch.context() as patch:
        fail_on(patch, "delete", "chunks-")  # step 3 never happens
        with pytest.raises(StoreError):
            store_doc(make_store(), new, new_chunks)

    restarted = make_store()
    assert restarted.document_hash("a1") == new.content_hash
    assert len(chunk_ids(restarted)) == len(old_chunks) + len(new_chunks)
    assert restarted.prune_orphans() == len(old_chunks)
    assert chunk_ids(restarted) == sorted(c.chunk_id for c in new_chunks)


def test_delete_document(store: ChromaStore) -> None:
    for doc_id in ("a1", "a2"):
        store_doc(store, *make_doc(doc_id, ARTICLE))
    assert store.delete_document("a1") is True
    assert store.delete_document("a1") is False
    assert store.get_document("a1") is None
    assert {c.doc_id for c, _ in iter_chunks(store)} == {"a2"}
    assert [d.doc_id for d in store.list_documents()] == ["a2"]


def test_prune_orphans_of_a_vanished_record(
    store: ChromaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_doc(store, *make_doc("a1", ARTICLE))
    store_doc(store, *make_doc("a2", ARTICLE))
    with monkeypatch.context() as patch:
        fail_on(patch, "delete", "chunks-")  # record deleted, chunks left behind
        with pytest.raises(StoreError):
            store.delete_document("a1")
    assert store.document_hash("a1") is None
    assert store.prune_orphans() == 4
    assert {c.doc_id for c, _ in iter_chunks(store)} == {"a2"}
    assert store.prune_orphans() == 0


def test_document_hashes_and_chunks_of(store: ChromaStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qa.store.chroma_connection.PAGE", 2)
    monkeypatch.setattr("qa.store.chroma._DOCS_PER_READ", 2)
    docs = {doc_id: make_doc(doc_id, [*ARTICLE[:2], doc_id]) for doc_id in ("a1", "a2", "a3")}
    for doc, chunks in docs.values():
        store_doc(store, doc, chunks)
    assert store.document_hashes() == {d: doc.content_hash for d, (doc, _) in docs.items()}
    read = list(store.chunks_of(["a3", "a1", "a3", "missing"]))
    assert sorted(chunk.chunk_id for chunk, _ in read) == sorted(
        c.chunk_id for d in ("a1", "a3") for c in docs[d][1]
    )
    by_id = {c.chunk_id: c for d in ("a1", "a3") for c in docs[d][1]}
    for chunk, meta in read:
        assert chunk == by_id[chunk.chunk_id]
        assert meta["doc_id"] == chunk.doc_id and meta["source"] == "asianews"
    assert list(store.chunks_of([])) == []


def test_filters(store: ChromaStore) -> None:
    july = datetime(2021, 7, 6, tzinfo=UTC)
    store_doc(store, *make_doc("a1", ARTICLE, source="asianews", published_at=july))
    store_doc(store, *make_doc("r1", ARTICLE, source="rt", published_at=july + timedelta(days=2)))
    store_doc(store, *make_doc("u1", ARTICLE, source="rt", published_at=None))
    vector = EMBEDDER.embed([ARTICLE[1]])[0]

    def docs(filters: Filters | None) -> set[str]:
        return {hit.doc_id for hit in query(store, vector, k=50, filters=filters)}

    assert docs(None) == {"a1", "r1", "u1"}
    assert docs(Filters(source=["rt"])) == {"r1", "u1"}
    assert docs(Filters(doc_id=["a1", "u1"])) == {"a1", "u1"}
    assert docs(Filters(published_after=july + timedelta(days=1))) == {"r1"}
    assert docs(Filters(published_before=july + timedelta(hours=1))) == {"a1"}
    naive_day = datetime(2021, 7, 6)  # naive means UTC; both bounds are inclusive
    assert docs(Filters(published_after=naive_day, published_before=naive_day)) == {"a1"}
    one_second_later = naive_day + timedelta(seconds=1)
    assert docs(Filters(published_after=one_second_later, published_before=july)) == set()
    assert docs(Filters(published_after=naive_day, source=["asianews", "rt"])) == {"a1", "r1"}
    assert docs(Filters(source=["rt"], doc_id=["a1"])) == set()
    assert docs(Filters(source=[])) == set()
    assert sources(store) == ["asianews", "rt"]
    assert all(h.doc_id == "a1" for h in query(store, vector, k=2, filters=Filters(doc_id=["a1"])))


def test_a_store_written_before_the_undated_flag_is_marked_once(
    make_store: StoreMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    july = datetime(2021, 7, 6, tzinfo=UTC)
    # Written the way earlier versions wrote: no ``undated`` on chunks, no collection record.
    monkeypatch.setattr(chroma_module, "chunk_metadata", _old_chunk_metadata)
    old = make_store()
    old.check_embedder(EMBEDDER.name, EMBEDDER.dimension)
    store_doc(old, *make_doc("a1", ARTICLE, published_at=july))
    store_doc(old, *make_doc("u1", ARTICLE, source="rt", published_at=None))
    conn = old._db.connect()
    collection = conn.client.get_collection(old._db.names.chunks, embedding_function=None)
    meta = {k: v for k, v in (collection.metadata or {}).items() if k != UNDATED_MARKED}
    collection.modify(metadata=meta)
    assert not any(m.get("undated") for _, m in iter_chunks(old))
    monkeypatch.undo()

    store = make_store()
    as_of = Filters(published_before=july + timedelta(days=1), include_undated=True)
    vector = EMBEDDER.embed([ARTICLE[1]])[0]
    assert {h.doc_id for h in query(store, vector, k=50, filters=as_of)} == {"a1", "u1"}
    assert {c.doc_id for c, m in iter_chunks(store) if m.get("undated")} == {"u1"}
    assert store.mark_undated() == 0  # done, and recorded for every later process
    assert make_store().mark_undated() == 0


def _old_chunk_metadata(doc: Document, chunk: Chunk) -> dict[str, Any]:
    meta = chunk_metadata(doc, chunk)
    meta.pop("undated", None)
    return meta


def test_a_new_store_needs_no_marking(store: ChromaStore) -> None:
    store.check_embedder(EMBEDDER.name, EMBEDDER.dimension)
    store_doc(store, *make_doc("u1", ARTICLE, published_at=None))
    assert store.mark_undated() == 0
    assert all(m.get("undated") for _, m in iter_chunks(store))


def test_embedder_mismatch(make_store: StoreMaker) -> None:
    store = make_store()
    store.check_embedder("hashing:64", 64)
    store.check_embedder("hashing:64", 64)
    other = make_store()  # the record is on the collection, not in the object
    other.check_embedder("hashing:64", 64)
    with pytest.raises(EmbedderMismatchError, match="QA_CHUNKS_COLLECTION") as info:
        other.check_embedder("local:all-MiniLM-L6-v2-onnx-int8", 384)
    assert "hashing:64" in str(info.value)
    with pytest.raises(EmbedderMismatchError):
        store.check_embedder("hashing:64", 128)


def test_revision_seen_across_store_instances(make_store: StoreMaker) -> None:
    reader, writer = make_store(), make_store()
    seen = {reader.revision()}
    store_doc(writer, *make_doc("a1", ARTICLE))
    seen.add(reader.revision())
    store_doc(writer, *make_doc("a1", [*ARTICLE, "Update."]))
    seen.add(reader.revision())
    writer.delete_document("a1")
    seen.add(reader.revision())
    assert len(seen) == 4
    assert reader.revision() == reader.revision()  # stable without writes
    assert REVISION_ID not in {d.doc_id for d in reader.list_documents()}
    assert reader.get_document(REVISION_ID) is None
    assert reader.document_hash(REVISION_ID) is None


def test_revision_ttl(make_store: StoreMaker, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached revision: own writes are seen at once, another process's after the TTL."""
    config = make_store.args[0]  # type: ignore[attr-defined]
    polling = ChromaStore(partial(make_chroma_client, config), config, revision_ttl=30)
    writer = make_store()
    first = polling.revision()
    store_doc(writer, *make_doc("a1", ARTICLE))
    assert polling.revision() == first  # another process's write: not read yet
    store_doc(polling, *make_doc("a2", ARTICLE))
    mine = polling.revision()
    assert mine != first  # its own write, at once
    assert writer.revision() == mine
    store_doc(writer, *make_doc("a3", ARTICLE))
    clock = time.monotonic() + 31
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    assert polling.revision() == writer.revision() != mine  # TTL over: read again


def test_reserved_id_is_refused(store: ChromaStore) -> None:
    doc, chunks = make_doc(REVISION_ID, ARTICLE)
    with pytest.raises(InputError):
        store_doc(store, doc, chunks)


def test_large_upserts_are_batched(tmp_path: Path) -> None:
    def small_batches() -> Any:
        client = chromadb.PersistentClient(path=str(tmp_path / "c"))
        client.get_max_batch_size = lambda: 3  # type: ignore[method-assign]
        return client

    store = ChromaStore(small_batches, chunks_collection="small-chunks")
    lines = [f"Line number {i} about the Taliban and Tajikistan." for i in range(10)]
    doc, chunks = make_doc("big", lines)
    store_doc(store, doc, chunks)
    assert len(chunk_ids(store)) == 10
    assert len(store.get_hits([c.chunk_id for c in chunks])) == 10
    shorter, short_chunks = make_doc("big", lines[:2])
    store_doc(store, shorter, short_chunks)
    assert chunk_ids(store) == sorted(c.chunk_id for c in short_chunks)
    client = chromadb.PersistentClient(path=str(tmp_path / "c"))
    names = {c.name for c in client.list_collections()}
    # the explicit name, then the defaults: one collection per kind of record
    assert names == {
        "small-chunks",
        "qa_documents",
        "qa_documents_sentences",
        "qa_documents_changes",
    }


def test_paged_reads(store: ChromaStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qa.store.chroma_connection.PAGE", 2)
    for doc_id in ("a1", "a2", "a3"):
        store_doc(store, *make_doc(doc_id, ARTICLE))
    assert store.count() == 12
    assert len(chunk_ids(store)) == 12 == len(set(chunk_ids(store)))
    assert [d.doc_id for d in store.list_documents()] == ["a1", "a2", "a3"]
    assert store.prune_orphans() == 0


def test_mismatched_vectors_are_refused(store: ChromaStore) -> None:
    doc, chunks = make_doc("a1", ARTICLE)
    with pytest.raises(ValueError, match="vectors"):
        upsert(store, doc, chunks, EMBEDDER.embed(["only one"]))
    _, other_chunks = make_doc("b1", ARTICLE)
    with pytest.raises(ValueError, match="another"):
        store_doc(store, doc, other_chunks)
    assert store.document_hash("a1") is None


def test_never_uses_chromas_embedding_function(
    make_store: StoreMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma's default embedder downloads weights; it must never even be constructed."""
    from chromadb.api.types import DefaultEmbeddingFunction
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Chroma's own embedding function was used")

    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "__init__", forbidden)
    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", forbidden)
    store = make_store()
    doc, chunks = make_doc("a1", ARTICLE)
    store_doc(store, doc, chunks)
    assert query(store, EMBEDDER.embed([ARTICLE[1]])[0], k=1)[0].text == ARTICLE[1]
    assert store.get_document("a1") == doc


def test_local_embedder_end_to_end(store: ChromaStore, local_embedder: Any) -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        lines = path.read_text().split("\n")
        doc, chunks = make_doc(path.stem, lines, source=path.stem)
        upsert(store, doc, chunks, local_embedder.embed([c.text for c in chunks]))
    store.check_embedder(local_embedder.name, local_embedder.dimension)
    question = "Does Russia consider the Taliban a terrorist organisation?"
    [best, second, *_] = query(store, local_embedder.embed([question])[0], k=3)
    assert "the Taliban is considered a terrorist organisation" in best.text
    assert 0.5 < best.score <= 1.0
    assert best.score > second.score
    assert (best.doc_id, best.line_start) == ("000_4e774364687dacde", 5)


@pytest.mark.server
def test_make_chroma_client_modes(chroma_server: str, tmp_path: Path) -> None:
    embedded = make_chroma_client(StoreSettings(data_dir=tmp_path))
    assert (tmp_path / "chroma").is_dir()
    assert embedded.heartbeat() > 0
    remote = make_chroma_client(StoreSettings(chroma_url=chroma_server))
    assert remote.heartbeat() > 0
    # A stalled server must not hang request threads forever (chromadb's default is None).
    assert remote._server._session.timeout == HTTP_TIMEOUT  # type: ignore[attr-defined]


@pytest.mark.server
def test_store_error_while_server_down_and_recovery(
    chroma_server_factory: ChromaServer, tmp_path: Path
) -> None:
    server = chroma_server_factory
    settings = Settings(
        _env_file=None, data_dir=tmp_path, chroma_url=server.url, revision_poll_s=0.0
    )
    store = ChromaStore.from_settings(settings.store)  # Chroma not running yet: still fine
    with pytest.raises(StoreError) as info:
        store.ping()
    assert info.value.retryable is True

    server.start()
    store.ping()
    doc, chunks = make_doc("a1", ARTICLE)
    store_doc(store, doc, chunks)
    revision = store.revision()

    server.stop()
    vector = EMBEDDER.embed([ARTICLE[1]])[0]
    for call in (store.ping, store.revision, lambda: query(store, vector, 3)):
        with pytest.raises(StoreError) as info:
            call()
        assert info.value.retryable is True
        assert info.value.__cause__ is not None  # the vendor error, chained

    server.start()  # same port and data: the same object recovers
    assert store.revision() == revision
    assert query(store, vector, k=1)[0].text == ARTICLE[1]
    assert store.get_document("a1") == doc


def test_store_errors_wrap_invalid_requests(store: ChromaStore) -> None:
    store_doc(store, *make_doc("a1", ARTICLE))
    with pytest.raises(StoreError) as info:
        query(store, np.ones(7, dtype=np.float32), k=1)  # wrong dimension
    assert info.value.retryable is False
    assert info.value.__cause__ is not None


def test_get_hits_are_cached_until_the_revision_moves(make_store: StoreMaker) -> None:
    store, other = make_store(), make_store()
    doc, chunks = make_doc("a1", ARTICLE)
    store_doc(store, doc, chunks)
    ids = [c.chunk_id for c in chunks]
    store.revision()
    first = store.get_hits(ids)
    misses = store._hits.misses
    again = store.get_hits(ids)
    assert again == first
    assert store._hits.misses == misses  # no Chroma read: every hit came from the cache
    other.delete_document("a1")
    store.revision()  # another process's write, seen: the cache starts over
    assert store.get_hits(ids) == []


def test_document_changes_since_a_moment(make_store: StoreMaker) -> None:
    store, other = make_store(), make_store()
    store_doc(store, *make_doc("a1", ARTICLE))
    store_doc(store, *make_doc("a2", ARTICLE))
    since = time.time()
    assert store.document_changes(since + 60) == DocumentChanges(written={}, deleted=frozenset())
    edited, chunks = make_doc("a1", [*ARTICLE, "Update."])
    store_doc(other, edited, chunks)
    other.delete_document("a2")
    changes = store.document_changes(since)
    assert changes.written == {"a1": edited.content_hash}
    assert changes.deleted == {"a2"}
    assert set(store.document_changes(0).written) == {"a1"}  # a1's first write is superseded
    store_doc(other, *make_doc("a2", ARTICLE))  # written again after its deletion
    again = store.document_changes(since)
    assert set(again.written) == {"a1", "a2"}
    assert again.deleted == frozenset()
    with pytest.raises(InputError, match="reserved"):
        store_doc(store, *make_doc("__deleted__/a1", ARTICLE))
    assert {d.doc_id for d in store.list_documents()} == {"a1", "a2"}  # markers are not listed


def test_old_deletion_markers_are_pruned(
    make_store: StoreMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    for doc_id in ("old", "new"):
        store_doc(store, *make_doc(doc_id, ARTICLE))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - MARKER_RETENTION_S - 60)
    store.delete_document("old")  # its marker is stamped 7 days and a minute ago
    monkeypatch.setattr(time, "time", lambda: now)
    store.delete_document("new")
    assert store.document_changes(0).deleted == {"old", "new"}
    store.prune_orphans()
    assert store.document_changes(0).deleted == {"new"}
