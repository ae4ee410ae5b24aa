"""Language helpers shared by ingestion, BM25 and answering: one stemmer, one stopword list,
terms and numbers of a text, and sentences mapped to their exact original lines."""

from __future__ import annotations

import bisect
import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from sentencex import segment

from qa.types import Document, Hit

_WORD = re.compile(r"\w+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_TERMINAL = tuple('.!?:;"”’)')
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


LANGUAGE = "english"
#: The stopwords of content-word matching (BM25's own tokenizer keeps bm25s' shorter list,
#: which its saved indexes were built with).
STOPWORDS = frozenset(STOPWORDS_EN_PLUS)


def stemmer() -> Stemmer.Stemmer:
    """This thread's English stemmer (PyStemmer objects are not safe to share)."""
    found: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if found is None:
        found = _local.stemmer = Stemmer.Stemmer(LANGUAGE)
    return found


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text`` (stopwords, numbers and single letters removed)."""
    words = [
        w
        for w in _WORD.findall(text.lower())
        if len(w) > 1 and w not in STOPWORDS and not w.isdigit() and "_" not in w
    ]
    return list(stemmer().stemWords(words))


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
    return list(_sentences(doc, first_line, last_line))


def count_sentences(doc: Document, *, stop_after: int) -> int:
    """How many sentences ``document_sentences`` finds, counting no further than
    ``stop_after + 1`` (enough to tell a document over a limit of ``stop_after``)."""
    return sum(1 for _ in itertools.islice(_sentences(doc, 1, len(doc.lines)), stop_after + 1))


def _sentences(doc: Document, first_line: int, last_line: int) -> Iterator[Sentence]:
    start, end = max(first_line, 1), min(last_line, len(doc.lines))
    offsets = _line_offsets(doc)
    text = doc.text
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
            yield Sentence(
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
