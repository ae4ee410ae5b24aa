"""From paths to one clean list of Documents (load_paths), and what an ingestion run did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import IngestError
from qa.types import Document


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


def load_paths(paths: Sequence[Path], *, max_document_bytes: int) -> IngestResult:
    """Load every supported file under ``paths``; a repeated doc_id is an error, not a swap."""
    # Imported on call: qa.service imports this module at start-up, for IngestReport alone.
    from qa.ingest.loaders import load_file, scan_paths

    scan = scan_paths(paths)
    result = IngestResult(errors=list(scan.errors), skipped=list(scan.skipped))
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
