"""Sentences of retrieved passages, mapped to their exact original lines, and lexical terms."""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from sentencex import segment

from qa.types import Document, Hit

logger = logging.getLogger(__name__)

DocumentLookup = Callable[[str], Document | None]

_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TERMINAL = tuple('.!?:;"”’)')
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS)
_local = threading.local()


@dataclass(frozen=True)
class Sentence:
    """A sentence quoted verbatim from a document: ``text == doc.text[char_start:char_end]``."""

    doc_id: str
    source: str
    title: str
    url: str | None
    line_start: int
    line_end: int
    text: str
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Source:
    """A numbered piece of evidence: a hit (overlapping hits merged) and its sentences."""

    n: int
    hit: Hit
    sentences: tuple[Sentence, ...]


def _stemmer() -> Stemmer.Stemmer:
    # PyStemmer objects are not safe to share between threads.
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _local.stemmer = stemmer
    return stemmer


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text`` (stopwords, numbers and single letters removed)."""
    words = [
        w
        for w in _WORD.findall(text.lower())
        if len(w) > 1 and w not in _STOPWORDS and not w.isdigit() and "_" not in w
    ]
    return list(_stemmer().stemWords(words))


def numbers(text: str) -> set[str]:
    """Numbers written in ``text``, thousands separators removed ("1,037" -> "1037")."""
    return {m.group().replace(",", "") for m in _NUMBER.finditer(text)}


def _continues(previous: str, following: str) -> bool:
    """Whether a line break sits inside a sentence (hard-wrapped text)."""
    return not previous.rstrip().endswith(_TERMINAL) and following.lstrip()[:1].islower()


def _units(doc: Document, start: int, end: int) -> list[tuple[int, int]]:
    """Runs of usable lines (first, last) that may hold a sentence crossing a line break."""
    units: list[tuple[int, int]] = []
    for number in range(start, end + 1):
        line = doc.lines[number - 1]
        if number in doc.excluded or not line.strip():
            continue
        if units and units[-1][1] == number - 1 and _continues(doc.lines[number - 2], line):
            units[-1] = (units[-1][0], number)
        else:
            units.append((number, number))
    return units


def _line_offsets(doc: Document) -> list[int]:
    offsets, position = [], 0
    for line in doc.lines:
        offsets.append(position)
        position += len(line) + 1
    return offsets


def sentences_for_hit(hit: Hit, doc: Document) -> list[Sentence]:
    """Split the non-excluded original lines of ``hit`` into sentences with exact lines."""
    return sentences_in(doc, hit.line_start, hit.line_end)


def document_sentences(doc: Document) -> list[Sentence]:
    """Every sentence of ``doc`` (what ingestion embeds ahead of questions)."""
    return sentences_in(doc, 1, len(doc.lines))


def sentences_in(doc: Document, first_line: int, last_line: int) -> list[Sentence]:
    """Sentences of the non-excluded lines ``first_line..last_line`` (1-based)."""
    start, end = max(first_line, 1), min(last_line, len(doc.lines))
    offsets = _line_offsets(doc)
    text = doc.text
    found: list[Sentence] = []
    for first, last in _units(doc, start, end):
        unit_start = offsets[first - 1]
        unit = text[unit_start : offsets[last - 1] + len(doc.lines[last - 1])]
        cursor = 0
        for piece in segment("en", unit):
            stripped = piece.strip()
            at = unit.find(stripped, cursor) if stripped else -1
            if at < 0 or not _WORD.search(stripped):
                continue
            cursor = at + len(stripped)
            char_start = unit_start + at
            char_end = char_start + len(stripped)
            found.append(
                Sentence(
                    doc_id=doc.doc_id,
                    source=doc.source,
                    title=doc.title,
                    url=doc.url,
                    line_start=bisect.bisect_right(offsets, char_start),
                    line_end=bisect.bisect_right(offsets, char_end - 1),
                    text=stripped,
                    char_start=char_start,
                    char_end=char_end,
                )
            )
    return found


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


def build_sources(hits: Sequence[Hit], documents: DocumentLookup) -> list[Source]:
    """Number the hits 1.. as sources, merging overlaps; hits whose document is gone drop."""
    sources: list[Source] = []
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
            Source(
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
