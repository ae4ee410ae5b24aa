"""Per-document limits checked before a document costs any work: lines and sentences (every
sentence is embedded, so their number is what ingestion time grows with)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.errors import DocumentTooLargeError
from qa.text import count_sentences
from qa.types import Document

if TYPE_CHECKING:
    from qa.config import IngestSettings


def check_document_limits(doc: Document, config: IngestSettings) -> None:
    """Raise DocumentTooLargeError (naming the limit's setting) if ``doc`` is over one."""
    lines = len(doc.lines)
    if lines > config.max_document_lines:
        raise DocumentTooLargeError(
            doc.doc_id,
            f"{lines:,} lines, over the limit of {config.max_document_lines:,} per document "
            "(QA_MAX_DOCUMENT_LINES); split it into several documents",
        )
    sentences = count_sentences(doc, stop_after=config.max_document_sentences)
    if sentences > config.max_document_sentences:
        raise DocumentTooLargeError(
            doc.doc_id,
            f"more than {config.max_document_sentences:,} sentences, over the limit per "
            "document (QA_MAX_DOCUMENT_SENTENCES); split it into several documents",
        )
