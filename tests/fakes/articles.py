"""Hand-built Documents and Hits for answering and citation tests."""

from __future__ import annotations

from qa.types import Document, Hit


def make_doc(doc_id: str, lines: list[str], excluded: set[int] | None = None) -> Document:
    """An article titled by its first line; ``excluded`` are 1-based line numbers."""
    return Document(
        doc_id=doc_id,
        source=f"{doc_id}.txt",
        title=lines[0],
        lines=tuple(lines),
        excluded=frozenset(excluded or set()),
        content_hash=doc_id,
    )


def make_hit(doc: Document, start: int, end: int, chunk: str | None = None) -> Hit:
    """A hit on lines ``start``..``end`` of ``doc``; ``chunk`` names it (default: ``start``)."""
    return Hit(
        chunk_id=f"{doc.doc_id}:{start if chunk is None else chunk}",
        doc_id=doc.doc_id,
        source=doc.source,
        title=doc.title,
        line_start=start,
        line_end=end,
        text="",
        score=1.0,
    )
