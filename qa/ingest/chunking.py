"""Split a Document's kept (non-boilerplate) text into chunks with exact line/char ranges."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from qa.ingest.splitting import SpanSplitter
from qa.types import Chunk, Document

# Regexes, tried in order: paragraphs, lines, sentence ends (closing quotes/brackets stay with
# their sentence), then words, then characters as the last resort.
SEPARATORS: Final = ("\n\n", "\n", r"[.?!;][\"'”’)\]]*[ \t]+", " ", "")
# The whole-document fast path only measures texts this many characters per token or less,
# so a long article is not tokenized once for nothing before being split anyway.
_FAST_PATH_CHARS_PER_TOKEN: Final = 8


@dataclass(frozen=True)
class KeptText:
    """The non-excluded lines joined by newlines, and how to map its offsets back."""

    text: str
    kept_starts: list[int]  # offset in ``text`` where each kept line begins
    doc_starts: list[int]  # offset in ``Document.text`` of that same line
    numbers: list[int]  # its 1-based line number

    @classmethod
    def of(cls, doc: Document) -> KeptText:
        parts: list[str] = []
        kept_starts: list[int] = []
        doc_starts: list[int] = []
        numbers: list[int] = []
        kept_at = doc_at = 0
        for number, line in enumerate(doc.lines, start=1):
            if number not in doc.excluded:
                parts.append(line)
                kept_starts.append(kept_at)
                doc_starts.append(doc_at)
                numbers.append(number)
                kept_at += len(line) + 1
            doc_at += len(line) + 1
        return cls("\n".join(parts), kept_starts, doc_starts, numbers)

    def locate(self, offset: int) -> tuple[int, int]:
        """``(offset in Document.text, line number)`` of the kept character at ``offset``."""
        row = bisect.bisect_right(self.kept_starts, offset) - 1
        return self.doc_starts[row] + offset - self.kept_starts[row], self.numbers[row]


def split_document(
    doc: Document,
    *,
    chunk_size: int,
    chunk_overlap: int,
    length_function: Callable[[str], int],
) -> list[Chunk]:
    """Chunks of at most ``chunk_size`` (by ``length_function``) over the kept text.

    ``chunk.text`` equals ``doc.text[char_start:char_end]`` with the excluded lines (and their
    newlines) removed; chunks never start or end with whitespace.
    """
    kept = KeptText.of(doc)
    if not kept.text.strip():
        return []
    measure = _memoized(length_function)
    if len(kept.text) <= chunk_size * _FAST_PATH_CHARS_PER_TOKEN and (
        measure(kept.text) <= chunk_size
    ):
        spans = [(0, len(kept.text))]
    else:
        splitter = SpanSplitter(
            SEPARATORS, chunk_size=chunk_size, chunk_overlap=chunk_overlap, measure=measure
        )
        spans = splitter.split(kept.text)
    chunks: list[Chunk] = []
    last = (-1, -1)
    for raw_start, raw_end in spans:
        start, end = _strip(kept.text, raw_start, raw_end)
        if start >= end or (last[0] <= start and end <= last[1]):
            continue  # whitespace only, or nothing the previous chunk did not already hold
        last = (start, end)
        char_start, line_start = kept.locate(start)
        char_last, line_end = kept.locate(end - 1)
        index = len(chunks)
        chunks.append(
            Chunk(
                chunk_id=f"{doc.doc_id}:{doc.content_hash[:12]}:{index}",
                doc_id=doc.doc_id,
                index=index,
                text=kept.text[start:end],
                line_start=line_start,
                line_end=line_end,
                char_start=char_start,
                char_end=char_last + 1,
            )
        )
    return chunks


def _memoized(length_function: Callable[[str], int]) -> Callable[[str], int]:
    """The splitter measures the same pieces again while merging; tokenize each once."""
    cache: dict[str, int] = {}

    def measure(text: str) -> int:
        if text not in cache:
            cache[text] = length_function(text)
        return cache[text]

    return measure


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
