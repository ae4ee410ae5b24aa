"""The storage ports on Chroma, embedded (PersistentClient) or a server (HttpClient).

One kind of record per collection: chunks (our vectors, cosine space, chunk metadata),
documents (the full original text of each document), sentences (each document's sentence
vectors) and changes (a ``revision`` record that changes on every write, so that other
processes notice, and one deletion marker per deleted document, for ``document_changes``).
Chroma never embeds anything: every write passes ``embeddings=`` and every query
``query_embeddings=``, and every collection is opened with ``embedding_function=None``.

Concurrency: ``write``, ``delete_document`` and ``prune_orphans`` hold the store's write lock
(``qa.store.write_lock``: a lock file beside embedded Chroma, a lease record in a Chroma
server), so two writers of one document never interleave their steps below.

Crash safety of ``write``: (1) upsert the new chunks, (2) upsert the document record with
the new hash (and its sentence vectors), (3) delete the document's chunks that are not part
of the new version. Chunk ids embed the content hash, so the old version stays whole
(rather than half overwritten) until step 3; correctness does not depend on it. A crash
before (2) leaves the old hash in the record, so a re-ingest redoes all three steps; a crash
before (3) leaves extra chunks that ``prune_orphans`` or the next write removes. Either way
the end state is the same as an uninterrupted run.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from qa.config import StoreSettings
from qa.errors import EmbedderMismatchError, InputError
from qa.lru import LRU
from qa.ports import Vectors
from qa.store.chroma_connection import (
    HTTP_TIMEOUT,
    ChromaCollections,
    ChromaConnection,
    ClientFactory,
    CollectionNames,
    make_chroma_client,
)
from qa.store.records import (
    MARKER_RETENTION_S,
    RESERVED_PREFIXES,
    chunk_from_record,
    chunk_metadata,
    document_from_record,
    document_info,
    document_metadata,
    epoch_seconds,
    hit_from_record,
    sentences_from_record,
    sentences_metadata,
)
from qa.store.write_lock import LeaseWriteLock, LocalWriteLock, WriteLock
from qa.types import (
    Chunk,
    Document,
    DocumentChanges,
    DocumentInfo,
    DocumentWrite,
    Filters,
    Hit,
    SentenceVectors,
)

__all__ = ["HTTP_TIMEOUT", "ChromaStore", "make_chroma_client"]


logger = logging.getLogger(__name__)

Where = dict[str, Any]

REVISION_ID = "revision"  # in the changes collection
# Chunks collection metadata: every undated chunk carries ``undated: True`` (stores written
# before that flag existed get it once, on their first question asked with as_of).
UNDATED_MARKED = "undated_marked"
_DUMMY_VECTOR = np.ones((1, 1), dtype=np.float32)  # records read by id, never searched
_DOCS_PER_READ = 200
# Documents (and their sentence vectors) kept for answers: the passages of recent questions.
_DOCUMENT_CACHE_SIZE = 128


def _read_revision(conn: ChromaCollections) -> str:
    result = conn.changes.get(ids=[REVISION_ID], include=["metadatas"])
    metas = result["metadatas"] or []
    return str(metas[0]["revision"]) if metas else ""


def _warm_index(conn: ChromaCollections) -> None:
    """One nearest-neighbour query: a fresh client loads its vector index on the first."""
    got = conn.chunks.get(limit=1, include=["embeddings"])
    vectors = got["embeddings"]
    if vectors is not None and len(vectors):
        conn.chunks.query(
            query_embeddings=np.asarray(vectors[:1], dtype=np.float32),
            n_results=1,
            include=["distances"],
        )


def _dummies(n: int) -> Any:
    return np.ones((n, 1), dtype=np.float32)


def _documents_get(conn: ChromaCollections, ids: list[str]) -> dict[str, Any]:
    return dict(conn.documents.get(ids=ids, include=["metadatas"]))


def _chunks_where(conn: ChromaCollections, where: Where) -> dict[str, Any]:
    return dict(conn.chunks.get(where=where, include=["documents", "metadatas"]))


def _all(clauses: list[Where]) -> Where | None:
    if len(clauses) > 1:
        return {"$and": clauses}
    return clauses[0] if clauses else None


def _flag_undated(conn: ChromaCollections, ids: list[str]) -> None:
    conn.chunks.update(ids=ids, metadatas=[{"undated": True}] * len(ids))


def _where(filters: Filters | None) -> Where | None:
    clauses: list[Where] = []
    if filters is not None:
        if filters.source is not None:
            clauses.append({"source": {"$in": list(filters.source)}})
        if filters.doc_id is not None:
            clauses.append({"doc_id": {"$in": list(filters.doc_id)}})
        dates: list[Where] = []
        if filters.published_after is not None:
            dates.append({"published_ts": {"$gte": epoch_seconds(filters.published_after)}})
        if filters.published_before is not None:
            dates.append({"published_ts": {"$lte": epoch_seconds(filters.published_before)}})
        dated = _all(dates)
        if dated is not None:
            # Chroma cannot ask for a missing key: undated chunks carry ``undated: True``.
            clauses.append(
                {"$or": [dated, {"undated": True}]} if filters.include_undated else dated
            )
    return _all(clauses)


class ChromaStore:
    """Every storage port (``qa.ports.Store``) on Chroma. Thread-safe; every Chroma failure
    becomes StoreError.

    The client is created lazily from ``client_factory`` and dropped after any failure, so
    the service starts while Chroma is down and recovers, without a restart, once it is up.
    """

    def __init__(
        self,
        client_factory: ClientFactory,
        config: StoreSettings | None = None,
        *,
        chunks_collection: str | None = None,
        documents_collection: str | None = None,
        revision_ttl: float | None = None,
        hit_cache_size: int | None = None,
        write_lock: WriteLock | None = None,
        fresh_client_factory: ClientFactory | None = None,
    ) -> None:
        """Collection names: the explicit ones, else those in ``config``, else the defaults.

        ``revision_ttl`` (else ``config.revision_poll_s``, else 0): seconds a revision
        read from Chroma is reused. This store's own writes update it at once; other
        processes' writes are seen within the TTL. Every search asks (for BM25 sync), and
        each ask would otherwise be a Chroma read (see bench/README.md). ``hit_cache_size`` (else
        ``config.hit_cache_size``): passages kept by chunk id for ``get_hits``.
        ``write_lock`` (else a lock file in ``config.data_dir`` for embedded Chroma, else a
        lease in the store): serialises writes across threads, processes and hosts.
        ``fresh_client_factory``: a client with a vector index of its own (see
        ``make_chroma_client(..., fresh=True)``), for ``reopen`` and reconnects after a failure.
        """
        self._db = ChromaConnection(
            client_factory,
            CollectionNames(
                chunks_collection or (config.chunks_collection if config else "qa_chunks"),
                documents_collection or (config.documents_collection if config else "qa_documents"),
            ),
            fresh_client_factory,
        )
        # The open connection and the revisions its vector index reflects: the one read when
        # it opened and those of this process's own writes through it (``stale``).
        self._view: tuple[ChromaCollections | None, set[str]] = (None, set())
        self._db.on_open = self._opened
        if revision_ttl is None:
            revision_ttl = config.revision_poll_s if config else 0.0
        self._revision_ttl = revision_ttl
        self._revision: tuple[float, str] | None = None  # (monotonic time read, value)
        self._revision_lock = threading.Lock()
        if hit_cache_size is None:
            hit_cache_size = config.hit_cache_size if config else 4096
        self._hits: LRU[str, Hit] = LRU(hit_cache_size)
        # Documents and their sentence vectors, for the answers (a few per ask).
        self._documents: LRU[str, Document] = LRU(_DOCUMENT_CACHE_SIZE if hit_cache_size else 0)
        self._sentences: LRU[tuple[str, str], SentenceVectors] = LRU(
            _DOCUMENT_CACHE_SIZE if hit_cache_size else 0
        )
        self._undated_marked = False
        self._marking = threading.Lock()
        if write_lock is None:
            if config is not None and not config.chroma_url:
                write_lock = LocalWriteLock(config.data_dir / "chroma" / "qa-writes.lock")
            else:
                write_lock = LeaseWriteLock(self._db)
        self._write_lock = write_lock

    @classmethod
    def from_settings(cls, config: StoreSettings) -> ChromaStore:
        return cls(
            partial(make_chroma_client, config),
            config,
            fresh_client_factory=partial(make_chroma_client, config, fresh=True),
        )

    # --- plumbing ------------------------------------------------------------------------

    def _connect(self) -> ChromaCollections:
        return self._db.connect()

    def _bump_revision(self, conn: ChromaCollections) -> None:
        # A write through ``conn`` is in its index; so is the state before it only when that
        # state was (no other process wrote since): else ``stale`` must still say so.
        before = _read_revision(conn)
        revision = uuid.uuid4().hex
        conn.changes.upsert(
            ids=[REVISION_ID],
            embeddings=_DUMMY_VECTOR,
            metadatas=[{"kind": "revision", "revision": revision}],
        )
        view, seen = self._view
        if view is conn and before in seen:
            seen.add(revision)
        self._remember_revision(time.monotonic(), revision)

    def _opened(self, conn: ChromaCollections) -> None:
        self._view = (conn, {_read_revision(conn)})

    def _remember_revision(self, read_at: float, revision: str) -> None:
        with self._revision_lock:  # a read that started before our own write must not win
            if self._revision is None or self._revision[0] <= read_at:
                self._revision = (read_at, revision)

    def _document_metas(self) -> Iterator[Mapping[str, Any]]:
        for page in self._db.pages(
            "list_documents", "documents", where={"kind": "document"}, include=["metadatas"]
        ):
            yield from page["metadatas"] or []

    # --- CorpusWriter ---------------------------------------------------------------------

    def check_embedder(self, embedder_name: str, dimension: int) -> None:
        def check(conn: ChromaCollections) -> tuple[object, object] | None:
            # Read fresh: another process may have recorded it since we connected.
            collection = conn.client.get_collection(self._db.names.chunks, embedding_function=None)
            meta = dict(collection.metadata or {})
            if "embedder" in meta:
                return meta["embedder"], meta.get("embedder_dimension")
            # A new collection: every chunk it gets carries the undated flag from the start.
            meta.update(embedder=embedder_name, embedder_dimension=dimension)
            meta[UNDATED_MARKED] = True
            collection.modify(metadata=meta)
            return None

        recorded = self._db.run("check_embedder", check)
        if recorded is not None and recorded != (embedder_name, dimension):
            raise EmbedderMismatchError(
                f"Chroma collection {self._db.names.chunks!r} was built with embedder "
                f"{recorded[0]} ({recorded[1]} dims), but {embedder_name} ({dimension} dims) "
                "is configured. Switch back to that embedder, or set QA_CHUNKS_COLLECTION to a "
                "new name and re-ingest (or delete the collection and re-ingest)."
            )

    def mark_undated(self) -> int:
        """Give the chunks of undated documents ``undated: True`` where a store written before
        that flag lacks it (a date filter that keeps undated documents asks for it); once per
        store, recorded in the chunks collection's metadata. Returns the chunks marked."""
        if self._undated_marked:
            return 0
        with self._marking:
            if self._undated_marked:
                return 0

            def collection_meta(conn: ChromaCollections) -> dict[str, Any]:
                found = conn.client.get_collection(self._db.names.chunks, embedding_function=None)
                return dict(found.metadata or {})

            if self._db.run("undated_marked", collection_meta).get(UNDATED_MARKED):
                self._undated_marked = True
                return 0
            undated = sorted(
                str(m["doc_id"]) for m in self._document_metas() if "published_ts" not in m
            )
            marked = 0
            for start in range(0, len(undated), _DOCS_PER_READ):
                where: Where = {"doc_id": {"$in": undated[start : start + _DOCS_PER_READ]}}
                page = self._db.run("undated_chunks", partial(_chunks_where, where=where))
                ids = [
                    chunk_id
                    for chunk_id, meta in zip(page["ids"], page["metadatas"] or [], strict=True)
                    if "published_ts" not in meta and not meta.get("undated")
                ]
                if ids:
                    self._db.run("mark_undated", partial(_flag_undated, ids=ids))
                    marked += len(ids)

            def record(conn: ChromaCollections) -> None:
                found = conn.client.get_collection(self._db.names.chunks, embedding_function=None)
                found.modify(metadata={**(found.metadata or {}), UNDATED_MARKED: True})

            self._db.run("undated_marked", record)
            if marked:
                logger.info("marked %d chunks of undated documents (older store)", marked)
            self._undated_marked = True
            return marked

    def document_hash(self, doc_id: str) -> str | None:
        result = self._db.run(
            "document_hash", lambda c: c.documents.get(ids=[doc_id], include=["metadatas"])
        )
        metas = [m for m in result["metadatas"] or [] if m.get("kind") == "document"]
        return str(metas[0]["content_hash"]) if metas else None

    def write(self, items: Sequence[DocumentWrite], *, only_if_stored: bool = False) -> None:
        """Store documents with the three steps of the module docstring, over all of them
        at once: each Chroma write costs a commit (or a round trip), so they are batched.
        ``only_if_stored``: only those whose stored record has their hash (read under the lock).
        """
        if only_if_stored:
            with self._write_lock:
                current = self._stored_hashes([item.document.doc_id for item in items])
                kept = [
                    item
                    for item in items
                    if current.get(item.document.doc_id) == item.document.content_hash
                ]
                if kept:
                    self._write_locked(kept)
            return
        with self._write_lock:
            self._write_locked(items)

    def _stored_hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        return {
            str(meta["doc_id"]): str(meta["content_hash"])
            for meta in self._documents_by_id(doc_ids)
        }

    def _write_locked(self, items: Sequence[DocumentWrite]) -> None:
        ids: list[str] = []
        texts: list[str] = []
        metas: list[Any] = []  # chunk_metadata dicts (Chroma's own types are narrower)
        rows: list[Any] = []
        for item in items:
            doc, chunks, vectors = item.document, item.chunks, item.vectors
            if doc.doc_id.startswith(RESERVED_PREFIXES):
                raise InputError(f"{doc.doc_id!r}: reserved, it cannot be a document id")
            matrix = np.asarray(vectors, dtype=np.float32)
            if chunks and (matrix.ndim != 2 or matrix.shape[0] != len(chunks)):
                raise ValueError(f"{len(chunks)} chunks need as many vectors, got {matrix.shape}")
            if any(chunk.doc_id != doc.doc_id for chunk in chunks):
                raise ValueError(f"chunks passed with document {doc.doc_id} belong to another")
            ids.extend(chunk.chunk_id for chunk in chunks)
            texts.extend(chunk.text for chunk in chunks)
            metas.extend(chunk_metadata(doc, chunk) for chunk in chunks)
            if item.sentences is not None and (
                item.sentences.doc_id != doc.doc_id
                or item.sentences.content_hash != doc.content_hash
            ):
                raise ValueError(f"sentence vectors passed with {doc.doc_id} are another's")
            if chunks:
                rows.append(matrix)
        docs = [item.document for item in items]
        if not docs:
            return
        matrix = np.concatenate(rows) if rows else np.zeros((0, 1), dtype=np.float32)
        doc_ids = [doc.doc_id for doc in docs]

        def write(conn: ChromaCollections) -> None:
            for start in range(0, len(ids), conn.max_batch):
                part = slice(start, start + conn.max_batch)
                conn.chunks.upsert(
                    ids=ids[part],
                    embeddings=matrix[part],
                    documents=texts[part],
                    metadatas=metas[part],
                )
            for start in range(0, len(docs), conn.max_batch):
                part = slice(start, start + conn.max_batch)
                conn.documents.upsert(
                    ids=doc_ids[part],
                    embeddings=_dummies(len(doc_ids[part])),
                    documents=[doc.text for doc in docs[part]],
                    metadatas=[
                        {
                            **document_metadata(item.document, len(item.chunks)),
                            "written_ts": time.time(),
                        }
                        for item in items[part]
                    ],
                )
            # A version's vectors replace the last one's; a version without any drops them.
            sentences = [item.sentences for item in items if item.sentences is not None]
            for start in range(0, len(sentences), conn.max_batch):
                batch = sentences[start : start + conn.max_batch]
                conn.sentences.upsert(
                    ids=[s.doc_id for s in batch],
                    embeddings=_dummies(len(batch)),
                    metadatas=[sentences_metadata(s) for s in batch],
                )
            without = [item.document.doc_id for item in items if item.sentences is None]
            for start in range(0, len(without), conn.max_batch):
                conn.sentences.delete(ids=without[start : start + conn.max_batch])
            ours: Where = {"doc_id": {"$in": doc_ids}}
            stored = conn.chunks.get(where=ours, include=[])["ids"]
            stale = sorted(set(stored) - set(ids))
            for start in range(0, len(stale), conn.max_batch):
                conn.chunks.delete(ids=stale[start : start + conn.max_batch])
            self._bump_revision(conn)

        self._db.run("write", write)
        logger.info("stored documents=%d chunks=%d", len(docs), len(ids))

    def delete_document(self, doc_id: str) -> bool:
        with self._write_lock:
            if self.document_hash(doc_id) is None:
                return False
            self._db.run("delete_document", partial(self._delete, doc_id=doc_id))
            return True

    def _delete(self, conn: ChromaCollections, doc_id: str) -> None:
        # Record first: if we die before the chunks go, a re-ingest still sees the
        # document as absent, and prune_orphans removes the leftovers.
        conn.documents.delete(ids=[doc_id])
        conn.sentences.delete(ids=[doc_id])
        conn.changes.upsert(  # the marker other processes' indexes learn it from
            ids=[f"deleted/{doc_id}"],
            embeddings=_DUMMY_VECTOR,
            metadatas=[{"kind": "deleted", "doc_id": doc_id, "written_ts": time.time()}],
        )
        conn.chunks.delete(where={"doc_id": doc_id})
        self._bump_revision(conn)

    def prune_orphans(self) -> int:
        """Delete chunks whose document has no record or another hash; returns how many.
        Deletion markers older than ``MARKER_RETENTION_S`` go too.

        Holds the write lock throughout, so no write is between its steps (1) and (2),
        where its new chunks would look orphaned.
        """
        with self._write_lock:
            orphans = self._orphans()
            if orphans:

                def delete(conn: ChromaCollections) -> None:
                    for start in range(0, len(orphans), conn.max_batch):
                        conn.chunks.delete(ids=orphans[start : start + conn.max_batch])
                    self._bump_revision(conn)

                self._db.run("prune_orphans", delete)
                logger.info("pruned %d orphan chunks", len(orphans))
        return len(orphans)

    def _orphans(self) -> list[str]:
        expired: Where = {
            "$and": [
                {"kind": "deleted"},
                {"written_ts": {"$lt": time.time() - MARKER_RETENTION_S}},
            ]
        }
        self._db.run("prune_markers", lambda c: c.changes.delete(where=expired))
        return sorted(self.orphan_chunks())

    def orphan_chunks(self) -> dict[str, str]:
        """``chunk_id -> doc_id`` of every chunk whose document has no record or another
        content hash (a full scan of the chunks)."""
        hashes = {meta["doc_id"]: meta["content_hash"] for meta in self._document_metas()}
        orphans: dict[str, str] = {}
        for page in self._db.pages("orphan_chunks", "chunks", include=["metadatas"]):
            for chunk_id, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
                if hashes.get(meta["doc_id"]) != meta["content_hash"]:
                    orphans[chunk_id] = str(meta["doc_id"])
        return orphans

    # --- DocumentStore, SentenceIndex ------------------------------------------------------

    def get_document(self, doc_id: str) -> Document | None:
        """The stored document. Recent ones come from an LRU emptied when the revision moves
        (as ``get_hits``): an answer reads the documents of the passages it was given."""
        generation = self.revision()
        cached = self._documents.get_many([doc_id], generation)
        if doc_id in cached:
            return cached[doc_id]
        result = self._db.run(
            "get_document",
            lambda c: c.documents.get(ids=[doc_id], include=["documents", "metadatas"]),
        )
        found = None
        for text, meta in zip(result["documents"] or [], result["metadatas"] or [], strict=True):
            if meta.get("kind") == "document":  # not a record an older version kept here
                found = document_from_record(text, meta)
        if found is not None:
            self._documents.put_many({doc_id: found})
        return found

    def sentence_vectors(self, doc_id: str, content_hash: str) -> SentenceVectors | None:
        """Kept in an LRU by (document, content hash), emptied when the revision moves."""
        key = (doc_id, content_hash)
        cached = self._sentences.get_many([key], self.revision())
        if key in cached:
            return cached[key]
        result = self._db.run(
            "sentence_vectors", lambda c: c.sentences.get(ids=[doc_id], include=["metadatas"])
        )
        metas = result["metadatas"] or []
        found = sentences_from_record(metas[0]) if metas else None
        # Made from another version (a crash between writes, or a reader racing a write)?
        if found is None or found.content_hash != content_hash:
            return None
        self._sentences.put_many({key: found})
        return found

    def documents_with_sentences(
        self, doc_ids: Sequence[str]
    ) -> dict[str, tuple[Document, SentenceVectors | None]]:
        """What ``get_document`` and ``sentence_vectors`` give, from the same LRUs, with
        whatever is not cached read in one ``get`` per collection (an answer's documents
        each read apart were most of its Chroma time: bench/README.md, HTTP latency)."""
        wanted = list(dict.fromkeys(doc_ids))
        generation = self.revision()
        documents = self._documents.get_many(wanted, generation)
        keys = {d: (d, doc.content_hash) for d, doc in documents.items()}
        vectors: dict[str, SentenceVectors] = {
            key[0]: found
            for key, found in self._sentences.get_many(keys.values(), generation).items()
        }
        doc_misses = [d for d in wanted if d not in documents]
        vector_misses = [d for d in wanted if d not in vectors]
        read_docs: dict[str, Document] = {}
        read_vectors: dict[str, SentenceVectors] = {}

        def fetch(conn: ChromaCollections) -> None:
            for start in range(0, len(doc_misses), conn.max_batch):
                part = doc_misses[start : start + conn.max_batch]
                got = conn.documents.get(ids=part, include=["documents", "metadatas"])
                texts, metas = got["documents"] or [], got["metadatas"] or []
                for text, meta in zip(texts, metas, strict=True):
                    if meta.get("kind") == "document":  # not a record an older version kept
                        read_docs[str(meta["doc_id"])] = document_from_record(text, meta)
            for start in range(0, len(vector_misses), conn.max_batch):
                part = vector_misses[start : start + conn.max_batch]
                got = conn.sentences.get(ids=part, include=["metadatas"])
                for meta in got["metadatas"] or []:
                    record = sentences_from_record(meta)
                    read_vectors[record.doc_id] = record

        if doc_misses or vector_misses:
            self._db.run("documents_with_sentences", fetch)
        documents.update(read_docs)
        self._documents.put_many(read_docs)
        found: dict[str, tuple[Document, SentenceVectors | None]] = {}
        fresh: dict[tuple[str, str], SentenceVectors] = {}
        for doc_id in wanted:
            doc = documents.get(doc_id)
            if doc is None:
                continue
            sentences = vectors.get(doc_id)
            record = read_vectors.get(doc_id)
            # Made from another version (a crash between writes, or a reader racing a
            # write)? Then there are none for this one.
            if sentences is None and record is not None and record.content_hash == doc.content_hash:
                sentences = fresh[(doc_id, doc.content_hash)] = record
            found[doc_id] = (doc, sentences)
        self._sentences.put_many(fresh)
        return found

    def list_documents(self) -> list[DocumentInfo]:
        return sorted(
            (document_info(meta) for meta in self._document_metas()), key=lambda d: d.doc_id
        )

    # --- ChunkIndex -----------------------------------------------------------------------

    def query_ids(
        self, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """``(chunk_id, cosine)``, best first, without texts or metadata: retrieval fetches
        the few passages it keeps with one ``get_hits`` (see bench/README.md, latency)."""
        if k <= 0 or (filters and (filters.source == [] or filters.doc_id == [])):
            return []  # Chroma rejects an empty $in; nothing can match it anyway
        if filters is not None and filters.include_undated:
            self.mark_undated()  # at most once per store (older stores lack the flag)
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        result = self._db.run(
            "query",
            lambda c: c.chunks.query(
                query_embeddings=query, n_results=k, where=_where(filters), include=["distances"]
            ),
            retry=True,  # an index that lags another process's writes: again on a fresh one
        )
        distances = (result["distances"] or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], distances, strict=True)]

    def get_hits(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """Passages by id. Recent ones come from an LRU (a chunk id names its document's
        content hash, so its record never changes), emptied when the revision moves."""
        wanted = list(dict.fromkeys(chunk_ids))
        found = self._hits.get_many(wanted, self._revision[1] if self._revision else None)
        missing = [chunk_id for chunk_id in wanted if chunk_id not in found]

        def fetch(conn: ChromaCollections) -> None:
            for start in range(0, len(missing), conn.max_batch):
                part = missing[start : start + conn.max_batch]
                result = conn.chunks.get(ids=part, include=["documents", "metadatas"])
                texts = result["documents"] or []
                metas = result["metadatas"] or []
                for i, chunk_id in enumerate(result["ids"]):
                    found[chunk_id] = hit_from_record(chunk_id, texts[i], metas[i], 0.0)

        if missing:
            self._db.run("get_hits", fetch)
            self._hits.put_many(
                {chunk_id: found[chunk_id] for chunk_id in missing if chunk_id in found}
            )
        return [found[chunk_id] for chunk_id in wanted if chunk_id in found]

    # --- ChangeFeed -----------------------------------------------------------------------

    def document_hashes(self) -> dict[str, str]:
        return {str(m["doc_id"]): str(m["content_hash"]) for m in self._document_metas()}

    def document_changes(self, since: float) -> DocumentChanges:
        """From the ``written_ts`` stamped on document records and deletion markers (records
        written before stamping existed never show up here: only a full listing has them).
        A deletion marker is trusted only if the document record is really gone."""
        written: dict[str, str] = {}
        marked: set[str] = set()
        where: Where = {"$and": [{"kind": "document"}, {"written_ts": {"$gte": since}}]}
        for page in self._db.pages(
            "document_changes", "documents", where=where, include=["metadatas"]
        ):
            for meta in page["metadatas"] or []:
                written[str(meta["doc_id"])] = str(meta["content_hash"])
        where = {"$and": [{"kind": "deleted"}, {"written_ts": {"$gte": since}}]}
        for page in self._db.pages(
            "document_changes", "changes", where=where, include=["metadatas"]
        ):
            marked.update(str(meta["doc_id"]) for meta in page["metadatas"] or [])
        maybe = sorted(marked - set(written))
        if maybe:  # deleted, then written again by a writer with a slower clock?
            for meta in self._documents_by_id(maybe):
                written[str(meta["doc_id"])] = str(meta["content_hash"])
        return DocumentChanges(written=written, deleted=frozenset(marked - set(written)))

    def _documents_by_id(self, doc_ids: Sequence[str]) -> Iterator[Mapping[str, Any]]:
        for start in range(0, len(doc_ids), _DOCS_PER_READ):
            get = partial(_documents_get, ids=list(doc_ids[start : start + _DOCS_PER_READ]))
            result = self._db.run("documents", get)
            yield from (m for m in result["metadatas"] or [] if m.get("kind") == "document")

    def chunks_of(self, doc_ids: Sequence[str]) -> Iterator[tuple[Chunk, dict[str, object]]]:
        """Chunks of the given documents, read a few documents at a time (by metadata, so
        no offset paging over the whole collection)."""
        wanted = list(dict.fromkeys(doc_ids))
        for start in range(0, len(wanted), _DOCS_PER_READ):
            where: Where = {"doc_id": {"$in": wanted[start : start + _DOCS_PER_READ]}}
            page = self._db.run("chunks_of", partial(_chunks_where, where=where))
            yield from self._records(page)

    @staticmethod
    def _records(page: Mapping[str, Any]) -> Iterator[tuple[Chunk, dict[str, object]]]:
        texts = page["documents"] or []
        metas = page["metadatas"] or []
        for i, chunk_id in enumerate(page["ids"]):
            yield chunk_from_record(chunk_id, texts[i], metas[i]), dict(metas[i])

    def revision(self) -> str:
        cached = self._revision
        if cached is not None and time.monotonic() - cached[0] < self._revision_ttl:
            return cached[1]
        read_at = time.monotonic()
        revision = self._db.run("revision", _read_revision)
        self._remember_revision(read_at, revision)
        return revision

    # --- StoreView ------------------------------------------------------------------------

    def stale(self) -> str | None:
        """Why this process's vector index lags the store, or None. Reads the revision from
        Chroma (SQLite, which every process sees whole): another process's write changes it
        to one this connection never reflected. An embedded store's index stays as it was
        until ``reopen`` (a Chroma server's is shared: reopening it costs a handshake)."""
        conn = self._db.current
        view, seen = self._view
        if conn is None or view is not conn:
            return None  # none open: the next call opens one (and reads the revision then)
        read_at = time.monotonic()
        revision = self._db.run("revision", _read_revision)
        self._remember_revision(read_at, revision)
        if revision in seen:
            return None
        return (
            f"another process wrote to the store (revision {revision[:12] or 'none'}); "
            "this process is loading the new state and answers from the previous one meanwhile"
        )

    def reopen(self) -> bool:
        """Open a new client, load its vector index, then swap it in (searches use the old
        one meanwhile); True when done by this call."""
        return self._db.reopen(warm=_warm_index)

    # --- HealthCheck ----------------------------------------------------------------------

    def ping(self) -> None:
        self._db.run("ping", lambda c: c.client.heartbeat())

    def count(self) -> int:
        """Number of stored chunks."""
        return self._db.run("count", lambda c: c.chunks.count())
