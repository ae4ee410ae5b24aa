"""Retrieved passages as numbered sources of sentences (the evidence answers start from)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.text import Sentence, sentences_for_hit
from qa.types import Document, Hit, SentenceVectors

logger = logging.getLogger(__name__)

DocumentLookup = Callable[[str], Document | None]
#: ``(doc_id, content_hash) ->`` the sentence vectors made from that version, or None.
VectorLookup = Callable[[str, str], SentenceVectors | None]


@dataclass(frozen=True)
class EvidencePassage:
    """A numbered piece of evidence: a hit (overlapping hits merged) and its sentences."""

    n: int
    hit: Hit
    sentences: tuple[Sentence, ...]


def _merged_ranges(hits: Sequence[Hit]) -> list[tuple[int, Hit]]:
    """Overlapping or adjacent hits of one document merged; (first position, merged hit)."""
    by_doc: dict[str, list[tuple[int, Hit]]] = {}
    for position, hit in enumerate(hits):
        by_doc.setdefault(hit.doc_id, []).append((position, hit))
    merged: list[tuple[int, Hit]] = []
    for items in by_doc.values():
        items.sort(key=lambda item: (item[1].line_start, item[1].line_end))
        current_pos, current = items[0]
        for position, hit in items[1:]:
            if hit.line_start <= current.line_end + 1:
                current = current.model_copy(
                    update={
                        "line_end": max(current.line_end, hit.line_end),
                        "score": max(current.score, hit.score),
                    }
                )
                current_pos = min(current_pos, position)
            else:
                merged.append((current_pos, current))
                current_pos, current = position, hit
        merged.append((current_pos, current))
    merged.sort(key=lambda item: item[0])
    return merged


def build_sources(hits: Sequence[Hit], documents: DocumentLookup) -> list[EvidencePassage]:
    """Number the hits 1.. as sources, merging overlaps; hits whose document is gone drop."""
    sources: list[EvidencePassage] = []
    for _, hit in _merged_ranges(hits):
        doc = documents(hit.doc_id)
        if doc is None:
            logger.warning("document %s of hit %s is not stored; skipped", hit.doc_id, hit.chunk_id)
            continue
        sentences = tuple(sentences_for_hit(hit, doc))
        if not sentences:
            continue
        kept = "\n".join(
            line
            for n, line in doc.line_text(hit.line_start, hit.line_end)
            if n not in doc.excluded and line.strip()
        )
        sources.append(
            EvidencePassage(
                n=len(sources) + 1, hit=hit.model_copy(update={"text": kept}), sentences=sentences
            )
        )
    return sources


def memoize(documents: DocumentLookup) -> DocumentLookup:
    """``documents`` reading each id at most once (for the length of one answer)."""
    seen: dict[str, Document | None] = {}

    def lookup(doc_id: str) -> Document | None:
        if doc_id not in seen:
            seen[doc_id] = documents(doc_id)
        return seen[doc_id]

    return lookup
