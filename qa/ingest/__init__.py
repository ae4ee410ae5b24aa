"""Ingestion: files and records into line-preserving Documents, and Documents into chunks."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.ingest.chunking import split_document
    from qa.ingest.loaders import (
        content_hash,
        document_from_record,
        document_from_text,
        load_file,
        scan_paths,
    )
    from qa.ingest.pipeline import IngestReport, IngestResult, load_paths

__all__ = [
    "IngestReport",
    "IngestResult",
    "content_hash",
    "document_from_record",
    "document_from_text",
    "load_file",
    "load_paths",
    "scan_paths",
    "split_document",
]

# Each name is imported on first use, so that importing one module of the package (as
# qa.service does at start-up) does not also load YAML and the text splitter.
_MODULE_OF: dict[str, str] = {
    "IngestReport": "qa.ingest.pipeline",
    "IngestResult": "qa.ingest.pipeline",
    "content_hash": "qa.ingest.loaders",
    "document_from_record": "qa.ingest.loaders",
    "document_from_text": "qa.ingest.loaders",
    "load_file": "qa.ingest.loaders",
    "load_paths": "qa.ingest.pipeline",
    "scan_paths": "qa.ingest.loaders",
    "split_document": "qa.ingest.chunking",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value
