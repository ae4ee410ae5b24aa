"""The one ingestion path, used by the CLI, the API and the service: paths or records ->
clean Documents (load_paths) -> chunks -> vectors (and sentence vectors) -> one batched
write per group of documents; and what a run did (IngestReport)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.embeddings.packing import pack_sentence_vectors
from qa.errors import ConflictError, DocumentTooLargeError, IngestError, InputError
from qa.ingest.chunking import split_document
from qa.ingest.limits import check_document_limits
from qa.observability.metrics import record_ingested
from qa.ports import Embedder, Store
from qa.text import document_sentences
from qa.types import Chunk, Document, DocumentWrite

if TYPE_CHECKING:
    from qa.config import IngestSettings

#: Chunks embedded per call across documents (bigger batches keep the embedder busy).
EMBED_GROUP = 256


@dataclass
class IngestReport:
    """What one ingestion run did."""

    documents: int = 0
    unchanged: int = 0
    chunks: int = 0
    skipped: int = 0
    failed: int = 0
    pruned: int = 0
    errors: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.documents} documents ingested ({self.chunks} chunks), "
            f"{self.unchanged} unchanged, {self.skipped} skipped, {self.failed} failed"
            + (f", {self.pruned} pruned" if self.pruned else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "skipped": self.skipped,
            "failed": self.failed,
            "pruned": self.pruned,
            "errors": self.errors,
            "doc_ids": self.doc_ids,
        }


@dataclass(frozen=True)
class IngestResult:
    """Documents loaded from paths, plus every per-file/per-record error and skipped file."""

    documents: list[Document] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # of every file found, loaded or not


def load_paths(paths: Sequence[Path], *, max_document_bytes: int) -> IngestResult:
    """Load every supported file under ``paths``; a repeated doc_id is an error, not a swap."""
    # Imported on call: qa.service imports this module at start-up, for IngestReport alone.
    from qa.ingest.loaders import load_file, scan_paths

    scan = scan_paths(paths)
    result = IngestResult(
        errors=list(scan.errors),
        skipped=list(scan.skipped),
        sources=[source for _, source in scan.files],
    )
    loaded: list[tuple[Document, str]] = []
    for path, source in scan.files:
        documents, errors = load_file(path, source=source, max_document_bytes=max_document_bytes)
        result.errors.extend(errors)
        loaded.extend((doc, source) for doc in documents)
    result.documents.extend(_unique(loaded, result.errors))
    return result


def _unique(loaded: list[tuple[Document, str]], errors: list[IngestError]) -> list[Document]:
    """Keep the first document per doc_id: a silent replacement would lose an article."""
    first: dict[str, str] = {}
    unique: list[Document] = []
    for doc, where in loaded:
        if doc.doc_id in first:
            reason = f"duplicate document id {doc.doc_id!r} (first in {first[doc.doc_id]})"
            errors.append(IngestError(where, reason))
        else:
            first[doc.doc_id] = where
            unique.append(doc)
    return unique


class IngestPipeline:
    """Chunks, embeds and stores documents; unchanged ones (same content hash) cost nothing."""

    def __init__(self, config: IngestSettings, store: Store, embedder: Embedder) -> None:
        self._config = config
        self._store = store
        self._embedder = embedder
        self._embedder_checked = False

    def _check_embedder(self) -> None:
        if not self._embedder_checked:
            self._store.check_embedder(self._embedder.name, self._embedder.dimension)
            self._embedder_checked = True

    def _chunk(self, doc: Document) -> list[Chunk]:
        return split_document(
            doc,
            chunk_size=self._config.chunk_size,
            chunk_overlap=self._config.chunk_overlap,
            length_function=self._embedder.count_tokens,
        )

    def documents(
        self,
        docs: Sequence[Document],
        report: IngestReport | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Store ``docs``; unchanged ones write nothing, changed ones replace their chunks."""
        report = report or IngestReport()
        self._check_embedder()
        pending: list[tuple[Document, list[Chunk]]] = []
        pending_chunks = 0
        for doc in docs:
            if self._store.document_hash(doc.doc_id) == doc.content_hash:
                report.unchanged += 1
                if progress:
                    progress(1)
                continue
            try:
                check_document_limits(doc, self._config)
            except DocumentTooLargeError as exc:
                report.failed += 1
                report.errors.append(str(exc))
                if progress:
                    progress(1)
                continue
            chunks = self._chunk(doc)
            pending.append((doc, chunks))
            pending_chunks += len(chunks)
            if pending_chunks >= EMBED_GROUP:
                self._write(pending, report, progress)
                pending, pending_chunks = [], 0
        self._write(pending, report, progress)
        return report

    def _write(
        self,
        pending: list[tuple[Document, list[Chunk]]],
        report: IngestReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        if not pending:
            return
        sentences = [
            document_sentences(doc) if self._config.sentence_vectors else [] for doc, _ in pending
        ]
        texts = [chunk.text for _, chunks in pending for chunk in chunks]
        texts += [s.text for found in sentences for s in found]
        vectors = self._embedder.embed(texts)  # one call: the embedder batches by length
        items: list[DocumentWrite] = []
        offset = sum(len(chunks) for _, chunks in pending)
        at = 0
        for (doc, chunks), found in zip(pending, sentences, strict=True):
            packed = None
            if found:
                packed = pack_sentence_vectors(doc, found, vectors[offset : offset + len(found)])
                offset += len(found)
            items.append(DocumentWrite(doc, tuple(chunks), vectors[at : at + len(chunks)], packed))
            at += len(chunks)
        # One batched write per group: each store write is a commit (or a round trip).
        self._store.write(items)
        for item in items:
            report.documents += 1
            report.chunks += len(item.chunks)
            report.doc_ids.append(item.document.doc_id)
            if progress:
                progress(1)
        record_ingested(len(items), sum(len(item.chunks) for item in items))

    def paths(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    ) -> IngestReport:
        """Ingest files and folders; bad files are reported, the rest still ingested."""
        report = IngestReport()
        loaded = load_paths(paths, max_document_bytes=self._config.max_document_bytes)
        report.skipped += len(loaded.skipped)
        report.failed += len(loaded.errors)
        report.errors.extend(str(err) for err in loaded.errors)
        unique = loaded.documents
        progress = progress_factory(len(unique)) if progress_factory else None
        self.documents(unique, report, progress)
        if prune:
            sources = set(loaded.sources)
            for info in self._store.list_documents():
                if info.source not in sources:
                    self._store.delete_document(info.doc_id)
                    report.pruned += 1
        report.pruned += self._store.prune_orphans()
        return report

    def check_records(self, records: Sequence[dict[str, Any]]) -> list[Document]:
        """The Documents of JSON article records, checked against every limit: InputError
        (DocumentTooLargeError for a limit) naming each bad record, before any work."""
        from qa.ingest.loaders import document_from_record

        docs: list[Document] = []
        errors: list[str] = []
        too_large: list[str] = []
        for i, record in enumerate(records):
            try:
                doc = document_from_record(record, source="api", default_id=f"api#{i}")
                check_document_limits(doc, self._config)
                docs.append(doc)
            except DocumentTooLargeError as exc:
                too_large.append(f"documents[{i}] (id {exc.where!r}): {exc.reason}")
            except IngestError as exc:
                errors.append(f"documents[{i}]: {exc.reason}")
        if errors:
            raise InputError("; ".join(errors))
        if too_large:
            raise DocumentTooLargeError("documents", "; ".join(too_large))
        ids = [d.doc_id for d in docs]
        if len(set(ids)) != len(ids):
            raise ConflictError("documents: two documents share one id")
        return docs

    def records(self, records: Sequence[dict[str, Any]]) -> IngestReport:
        """Ingest JSON article records (the HTTP API); any invalid record rejects the batch."""
        return self.documents(self.check_records(records))
