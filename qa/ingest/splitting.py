"""Recursive text splitting that returns offsets: langchain-text-splitters' algorithm
(RecursiveCharacterTextSplitter with regex separators kept at the end of each piece, no
whitespace stripping), computed on ``(start, end)`` spans instead of strings.

langchain returns bare strings, and finding them again in the text is ambiguous wherever the
wording repeats: a search for a placement that tiles the text took minutes on a document of
70,000 short sentences on one line (issue 16). Working on spans costs one pass per level of
separators, and the spans are the true ones, so line numbers are exact even in repeated
text. tests/unit/test_splitting.py checks that the texts equal langchain's output.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Span = tuple[int, int]


class SpanSplitter:
    """Chunks of at most ``chunk_size`` (by ``measure``), overlapping by up to
    ``chunk_overlap``, cut at the first of ``separators`` (regexes) found in each piece."""

    def __init__(
        self,
        separators: Sequence[str],
        *,
        chunk_size: int,
        chunk_overlap: int,
        measure: Callable[[str], int],
    ) -> None:
        if chunk_overlap > chunk_size:
            raise ValueError("chunk_overlap must not be larger than chunk_size")
        self._separators = [re.compile(s) if s else None for s in separators]
        self._size = chunk_size
        self._overlap = chunk_overlap
        self._measure = measure

    def split(self, text: str) -> list[Span]:
        """``(start, end)`` of every chunk of ``text``, in order."""
        return self._split(text, 0, len(text), 0)

    def _split(self, text: str, start: int, end: int, level: int) -> list[Span]:
        if start >= end:
            return []
        pieces = [(start, end)]  # no separator found: the piece stays whole
        deeper = len(self._separators)  # no finer separator left
        for i in range(level, len(self._separators)):
            pattern = self._separators[i]
            if pattern is None:  # "": single characters
                pieces = [(at, at + 1) for at in range(start, end)]
                break
            if pattern.search(text, start, end):
                pieces, deeper = _pieces(text, start, end, pattern), i + 1
                break
        chunks: list[Span] = []
        good: list[Span] = []
        for piece in pieces:
            if self._length(text, piece) < self._size:
                good.append(piece)
                continue
            if good:
                chunks.extend(self._merge(text, good))
                good = []
            if deeper >= len(self._separators):
                chunks.append(piece)
            else:
                chunks.extend(self._split(text, *piece, deeper))
        if good:
            chunks.extend(self._merge(text, good))
        return chunks

    def _length(self, text: str, span: Span) -> int:
        return self._measure(text[span[0] : span[1]])

    def _merge(self, text: str, pieces: list[Span]) -> list[Span]:
        """Runs of consecutive pieces up to the size, each next run starting with the last
        pieces of the previous one that fit in the overlap (langchain's ``_merge_splits``
        with an empty separator)."""
        joiner = self._measure("")
        chunks: list[Span] = []
        current: list[tuple[Span, int]] = []  # pieces of the chunk being built, with lengths
        first = 0  # index in ``current`` of its first piece still in the chunk
        total = 0
        for piece in pieces:
            size = self._length(text, piece)
            over = total + size + (joiner if len(current) > first else 0) > self._size
            if over and len(current) > first:
                chunks.append((current[first][0][0], current[-1][0][1]))
                while total > self._overlap or (
                    total + size + (joiner if len(current) > first else 0) > self._size
                    and total > 0
                ):
                    total -= current[first][1] + (joiner if len(current) - first > 1 else 0)
                    first += 1
            current.append((piece, size))
            total += size + (joiner if len(current) - first > 1 else 0)
        if len(current) > first:
            chunks.append((current[first][0][0], current[-1][0][1]))
        return chunks


def _pieces(text: str, start: int, end: int, separator: re.Pattern[str]) -> list[Span]:
    """``text[start:end]`` cut after every match of ``separator`` (the match stays with the
    piece before it); no empty pieces."""
    pieces: list[Span] = []
    at = start
    for match in separator.finditer(text, start, end):
        if match.end() > at:
            pieces.append((at, match.end()))
            at = match.end()
    if at < end:
        pieces.append((at, end))
    return pieces
