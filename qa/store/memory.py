"""An in-memory Store (every storage port at once): small, exact, for tests and demos."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from qa.errors import EmbedderMismatchError, InputError, StoreError
from qa.ports import Vectors
from qa.store.records import (
    MARKER_RETENTION_S,
    RESERVED_PREFIXES,
    chunk_metadata,
    epoch_seconds,
    hit_from_record,
)
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

__all__ = ["MemoryStore"]

#: The id the Chroma store keeps its revision under; refused as a document id there too.


@dataclass(frozen=True)
class _StoredChunk:
    chunk: Chunk
    meta: dict[str, Any]  # chunk_metadata(): what the Chroma store keeps beside the chunk
    vector: Vectors  # unit length (zeros stay zeros)


@dataclass(frozen=True)
class _Record:
    document: Document
    chunk_ids: tuple[str, ...]
    written_ts: float


def _wall_clock() -> float:
    """``time.time()`` looked up at each call, so a test's monkeypatch applies, as in Chroma."""
    return time.time()


def _unit_rows(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = (vectors / norms).astype(np.float32)
    return unit


def _own_copy(doc: Document) -> Document:
    """Documents are frozen but their ``metadata`` dict is not: never share it."""
    return doc.model_copy(update={"metadata": dict(doc.metadata)})


def _matches(meta: dict[str, Any], filters: Filters | None) -> bool:
    """The Chroma ``where`` of ``filters``, on one chunk's metadata."""
    if filters is None:
        return True
    if filters.source is not None and meta["source"] not in filters.source:
        return False
    if filters.doc_id is not None and meta["doc_id"] not in filters.doc_id:
        return False
    ts = meta.get("published_ts")
    if ts is None:  # undated: no bound rules it in or out, unless undated ones are unwanted
        bounded = filters.published_after is not None or filters.published_before is not None
        return filters.include_undated or not bounded
    if filters.published_after is not None and ts < epoch_seconds(filters.published_after):
        return False
    return filters.published_before is None or ts <= epoch_seconds(filters.published_before)


class MemoryStore:
    """``Store`` in a few dicts behind one lock, with the Chroma store's observable semantics.

    Writes are atomic (all of a ``write`` or none of it is seen), so ``prune_orphans``
    finds nothing to prune unless something broke the invariants. ``down = True`` makes
    every call raise StoreError, as an unreachable Chroma would. ``clock`` stamps writes
    and deletions for ``document_changes`` (Unix seconds; ``time.time()`` by default).
    """

    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self.down = False
        self._clock = clock or _wall_clock
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._chunks: dict[str, _StoredChunk] = {}
        self._sentences: dict[str, SentenceVectors] = {}
        self._deleted: dict[str, float] = {}  # doc_id -> when (deletion markers)
        self._embedder: tuple[str, int] | None = None
        self._dimension: int | None = None  # of the chunk vectors, fixed by the first write
        self._revision = ""

    # --- plumbing ------------------------------------------------------------------------

    def _check_up(self, operation: str) -> None:
        if self.down:
            raise StoreError(f"memory store is down ({operation})", retryable=True)

    def _bump(self) -> None:
        self._revision = uuid.uuid4().hex

    def _drop_chunks(self, doc_id: str) -> None:
        record = self._records.get(doc_id)
        for chunk_id in record.chunk_ids if record else ():
            stored = self._chunks.get(chunk_id)
            if stored is not None and stored.chunk.doc_id == doc_id:
                del self._chunks[chunk_id]

    def count(self) -> int:
        """Number of stored chunks."""
        with self._lock:
            self._check_up("count")
            return len(self._chunks)

    # --- HealthCheck ---------------------------------------------------------------------

    def ping(self) -> None:
        self._check_up("ping")

    # --- StoreView -----------------------------------------------------------------------

    def stale(self) -> str | None:
        """Never: one process's memory is the whole store."""
        self._check_up("stale")
        return None

    def reopen(self) -> bool:
        self._check_up("reopen")
        return False

    # --- CorpusWriter --------------------------------------------------------------------

    def check_embedder(self, embedder_name: str, dimension: int) -> None:
        with self._lock:
            self._check_up("check_embedder")
            if self._embedder is None:
                self._embedder = (embedder_name, dimension)
                return
            recorded = self._embedder
        if recorded != (embedder_name, dimension):
            raise EmbedderMismatchError(
                f"the memory store was built with embedder {recorded[0]} ({recorded[1]} dims), "
                f"but {embedder_name} ({dimension} dims) is configured"
            )

    def write(self, items: Sequence[DocumentWrite], *, only_if_stored: bool = False) -> None:
        """Replace each document, its chunks and its sentence vectors; all or nothing.

        A document written twice in one call ends as its last version. ``only_if_stored``:
        only documents whose stored record has their content hash.
        """
        prepared: list[tuple[DocumentWrite, Vectors]] = []
        dimension = None
        for item in items:
            doc, chunks = item.document, item.chunks
            if doc.doc_id.startswith(RESERVED_PREFIXES):
                raise InputError(f"{doc.doc_id!r}: reserved, it cannot be a document id")
            if any(chunk.doc_id != doc.doc_id for chunk in chunks):
                raise ValueError(f"chunks passed with document {doc.doc_id} belong to another")
            if len({chunk.chunk_id for chunk in chunks}) != len(chunks):
                raise ValueError(f"document {doc.doc_id} has two chunks with one id")
            if item.sentences is not None and (
                item.sentences.doc_id != doc.doc_id
                or item.sentences.content_hash != doc.content_hash
            ):
                raise ValueError(f"sentence vectors passed with {doc.doc_id} are another's")
            matrix = np.asarray(item.vectors, dtype=np.float32)
            if chunks:
                if matrix.ndim != 2 or matrix.shape[0] != len(chunks):
                    raise ValueError(
                        f"{len(chunks)} chunks need as many vectors, got {matrix.shape}"
                    )
                if dimension is not None and matrix.shape[1] != dimension:
                    raise ValueError(f"vectors of {matrix.shape[1]} and {dimension} dimensions")
                dimension = int(matrix.shape[1])
                matrix = _unit_rows(matrix)
            prepared.append((item, matrix))
        if not prepared:
            return
        with self._lock:
            self._check_up("write")
            if dimension is not None and self._dimension not in (None, dimension):
                raise ValueError(
                    f"vectors have {dimension} dimensions, the stored ones {self._dimension}"
                )
            now = self._clock()
            for item, matrix in prepared:
                if only_if_stored and (
                    (record := self._records.get(item.document.doc_id)) is None
                    or record.document.content_hash != item.document.content_hash
                ):
                    continue
                self._store(item, matrix, now)
            if dimension is not None:
                self._dimension = dimension
            self._bump()

    def _store(self, item: DocumentWrite, matrix: Vectors, now: float) -> None:
        doc = _own_copy(item.document)
        self._drop_chunks(doc.doc_id)
        for row, chunk in enumerate(item.chunks):
            previous = self._chunks.get(chunk.chunk_id)
            if previous is not None:  # an id taken from another document: it moves here
                owner = self._records[previous.chunk.doc_id]
                self._records[owner.document.doc_id] = _Record(
                    owner.document,
                    tuple(c for c in owner.chunk_ids if c != chunk.chunk_id),
                    owner.written_ts,
                )
            self._chunks[chunk.chunk_id] = _StoredChunk(
                chunk, chunk_metadata(doc, chunk), matrix[row].copy()
            )
        self._records[doc.doc_id] = _Record(
            doc, tuple(chunk.chunk_id for chunk in item.chunks), now
        )
        if item.sentences is not None:
            self._sentences[doc.doc_id] = item.sentences
        else:
            self._sentences.pop(doc.doc_id, None)
        self._deleted.pop(doc.doc_id, None)

    def delete_document(self, doc_id: str) -> bool:
        with self._lock:
            self._check_up("delete_document")
            if doc_id not in self._records:
                return False
            self._drop_chunks(doc_id)
            del self._records[doc_id]
            self._sentences.pop(doc_id, None)
            self._deleted[doc_id] = self._clock()
            self._bump()
            return True

    def prune_orphans(self) -> int:
        """Chunks whose document record is missing or has another hash go (none do while
        writes stay atomic), and so do deletion markers older than ``MARKER_RETENTION_S``."""
        with self._lock:
            self._check_up("prune_orphans")
            oldest = self._clock() - MARKER_RETENTION_S
            self._deleted = {d: ts for d, ts in self._deleted.items() if ts >= oldest}
            orphans = [
                chunk_id
                for chunk_id, stored in self._chunks.items()
                if (record := self._records.get(stored.chunk.doc_id)) is None
                or record.document.content_hash != stored.meta["content_hash"]
            ]
            for chunk_id in orphans:
                del self._chunks[chunk_id]
            if orphans:
                self._bump()
            return len(orphans)

    def orphan_chunks(self) -> dict[str, str]:
        with self._lock:
            self._check_up("orphan_chunks")
            return {
                chunk_id: stored.chunk.doc_id
                for chunk_id, stored in self._chunks.items()
                if (record := self._records.get(stored.chunk.doc_id)) is None
                or record.document.content_hash != stored.meta["content_hash"]
            }

    # --- ChunkIndex ----------------------------------------------------------------------

    def query_ids(
        self, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Exact cosine over every chunk that passes ``filters``; ties by chunk id."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        with self._lock:
            self._check_up("query")
            if k <= 0:
                return []
            candidates = [
                (chunk_id, stored.vector)
                for chunk_id, stored in self._chunks.items()
                if _matches(stored.meta, filters)
            ]
        if not candidates:
            return []
        matrix = np.stack([row for _, row in candidates])
        if matrix.shape[1] != query.shape[0]:
            raise ValueError(f"query has {query.shape[0]} dimensions, chunks {matrix.shape[1]}")
        norm = float(np.linalg.norm(query))
        scores = matrix @ (query / norm if norm else query)
        ranked = sorted(
            (
                (chunk_id, float(score))
                for (chunk_id, _), score in zip(candidates, scores, strict=True)
            ),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return ranked[:k]

    def get_hits(self, chunk_ids: Sequence[str]) -> list[Hit]:
        with self._lock:
            self._check_up("get_hits")
            found = [self._chunks.get(chunk_id) for chunk_id in dict.fromkeys(chunk_ids)]
        return [
            hit_from_record(stored.chunk.chunk_id, stored.chunk.text, stored.meta, 0.0)
            for stored in found
            if stored is not None
        ]

    # --- DocumentStore -------------------------------------------------------------------

    def get_document(self, doc_id: str) -> Document | None:
        with self._lock:
            self._check_up("get_document")
            record = self._records.get(doc_id)
        return None if record is None else _own_copy(record.document)

    def list_documents(self) -> list[DocumentInfo]:
        with self._lock:
            self._check_up("list_documents")
            records = sorted(self._records.items())
        return [
            DocumentInfo(
                **record.document.model_dump(
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
                line_count=len(record.document.lines),
                chunk_count=len(record.chunk_ids),
                written_at=datetime.fromtimestamp(record.written_ts, tz=UTC),
            )
            for _, record in records
        ]

    def document_hash(self, doc_id: str) -> str | None:
        with self._lock:
            self._check_up("document_hash")
            record = self._records.get(doc_id)
        return None if record is None else record.document.content_hash

    # --- SentenceIndex -------------------------------------------------------------------

    def sentence_vectors(self, doc_id: str, content_hash: str) -> SentenceVectors | None:
        with self._lock:
            self._check_up("sentence_vectors")
            vectors = self._sentences.get(doc_id)
        return vectors if vectors is not None and vectors.content_hash == content_hash else None

    def documents_with_sentences(
        self, doc_ids: Sequence[str]
    ) -> dict[str, tuple[Document, SentenceVectors | None]]:
        with self._lock:
            self._check_up("documents_with_sentences")
            found: dict[str, tuple[Document, SentenceVectors | None]] = {}
            for doc_id in dict.fromkeys(doc_ids):
                record = self._records.get(doc_id)
                if record is None:
                    continue
                vectors = self._sentences.get(doc_id)
                if vectors is not None and vectors.content_hash != record.document.content_hash:
                    vectors = None
                found[doc_id] = (_own_copy(record.document), vectors)
        return found

    # --- ChangeFeed ----------------------------------------------------------------------

    def revision(self) -> str:
        with self._lock:
            self._check_up("revision")
            return self._revision

    def document_hashes(self) -> dict[str, str]:
        with self._lock:
            self._check_up("document_hashes")
            return {d: r.document.content_hash for d, r in self._records.items()}

    def document_changes(self, since: float) -> DocumentChanges:
        with self._lock:
            self._check_up("document_changes")
            written = {
                doc_id: record.document.content_hash
                for doc_id, record in self._records.items()
                if record.written_ts >= since
            }
            deleted = frozenset(
                doc_id
                for doc_id, ts in self._deleted.items()
                if ts >= since and doc_id not in self._records
            )
        return DocumentChanges(written=written, deleted=deleted)

    def chunks_of(self, doc_ids: Sequence[str]) -> Iterator[tuple[Chunk, dict[str, object]]]:
        """Read at the call (not lazily), so a store that is down fails here."""
        with self._lock:
            self._check_up("chunks_of")
            rows: list[tuple[Chunk, dict[str, object]]] = [
                (self._chunks[chunk_id].chunk, dict(self._chunks[chunk_id].meta))
                for doc_id in dict.fromkeys(doc_ids)
                if (record := self._records.get(doc_id)) is not None
                for chunk_id in record.chunk_ids
            ]
        return iter(rows)
