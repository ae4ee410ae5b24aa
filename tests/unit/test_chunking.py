"""split_document: exact offsets and line ranges over the kept text, sizes, coverage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.chunking import split_document
from qa.ingest.loaders import content_hash
from qa.ingest.pipeline import load_paths
from qa.types import Chunk, Document

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def word_count(text: str) -> int:
    return len(text.split())


def make_doc(lines: list[str], excluded: set[int] | frozenset[int] = frozenset()) -> Document:
    fields = {"lines": tuple(lines), "excluded": frozenset(excluded), "title": "t", "source": "s"}
    return Document(doc_id="doc", content_hash=content_hash(fields), **fields)


def line_of_offset(doc: Document) -> list[int]:
    """Line number of every character of doc.text (a line's newline belongs to it)."""
    owner: list[int] = []
    for number, line in enumerate(doc.lines, start=1):
        owner.extend([number] * (len(line) + 1))
    return owner[: len(doc.text)]


def without_excluded(doc: Document, start: int, end: int) -> str:
    """Reference: doc.text[start:end] minus the excluded lines and their newlines."""
    owner = line_of_offset(doc)
    return "".join(doc.text[i] for i in range(start, end) if owner[i] not in doc.excluded)


def check_chunks(doc: Document, chunks: list[Chunk], chunk_size: int) -> None:
    owner = line_of_offset(doc)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.chunk_id == f"doc:{doc.content_hash[:12]}:{chunk.index}"
        assert chunk.text == without_excluded(doc, chunk.char_start, chunk.char_end)
        assert chunk.text.strip() == chunk.text != ""
        assert chunk.line_start == owner[chunk.char_start]
        assert chunk.line_end == owner[chunk.char_end - 1]
        assert chunk.line_start not in doc.excluded
        assert chunk.line_end not in doc.excluded
        assert word_count(chunk.text) <= chunk_size
    ends = [c.char_end for c in chunks]
    assert ends == sorted(set(ends))
    covered = set().union(*(range(c.char_start, c.char_end) for c in chunks))
    for i, char in enumerate(doc.text):
        if owner[i] not in doc.excluded and not char.isspace():
            assert i in covered, f"character {i} ({char!r}, line {owner[i]}) not in any chunk"


# A tiny vocabulary, mostly "a", makes repeated wording (several places a chunk's text could
# match) and every kind of separator common.
WORDS = st.sampled_from(["a", "a", "a", "a", "b", "a.", "b?", "c!", "d;", "x.”", "long-word", ""])
LINES = st.lists(WORDS, max_size=14).map(" ".join) | st.sampled_from(["", "  ", "\t a  b "])


@settings(max_examples=1000, deadline=None)
@given(
    lines=st.lists(LINES, min_size=1, max_size=25),
    data=st.data(),
    chunk_size=st.integers(min_value=1, max_value=30),
)
def test_chunks_map_exactly_onto_the_kept_text(
    lines: list[str], data: st.DataObject, chunk_size: int
) -> None:
    excluded = data.draw(st.sets(st.integers(min_value=1, max_value=len(lines))))
    overlap = data.draw(st.integers(min_value=0, max_value=chunk_size - 1))
    doc = make_doc(lines, excluded)
    chunks = split_document(
        doc, chunk_size=chunk_size, chunk_overlap=overlap, length_function=word_count
    )
    check_chunks(doc, chunks, chunk_size)


def test_repeated_lines_get_their_own_line_numbers() -> None:
    doc = make_doc(["The same sentence again."] * 30)
    chunks = split_document(doc, chunk_size=8, chunk_overlap=4, length_function=word_count)
    check_chunks(doc, chunks, 8)
    # Two lines a chunk, one shared: chunk i covers lines i+1 and i+2.
    assert [(c.line_start, c.line_end) for c in chunks] == [(i, i + 1) for i in range(1, 30)]


def test_prefers_sentence_ends_inside_a_long_paragraph() -> None:
    sentence = "The minister said the talks would resume in May."
    doc = make_doc([" ".join([sentence] * 6)])
    chunks = split_document(doc, chunk_size=20, chunk_overlap=0, length_function=word_count)
    assert len(chunks) >= 3
    assert all(chunk.text.endswith("resume in May.") for chunk in chunks)
    check_chunks(doc, chunks, 20)


def test_excluded_lines_never_reach_chunks_and_keep_their_numbers() -> None:
    doc = make_doc(["Title here", "Share this story", "Body one.", "", "Body two."], {2})
    (chunk,) = split_document(doc, chunk_size=50, chunk_overlap=0, length_function=word_count)
    assert chunk.text == "Title here\nBody one.\n\nBody two."
    assert (chunk.line_start, chunk.line_end) == (1, 5)
    assert (chunk.char_start, chunk.char_end) == (0, len(doc.text))


def test_leading_and_trailing_whitespace_moves_the_offsets() -> None:
    doc = make_doc(["", "   indented words here  ", "", "\t"])
    (chunk,) = split_document(doc, chunk_size=10, chunk_overlap=0, length_function=word_count)
    assert chunk.text == "indented words here"
    assert doc.text[chunk.char_start : chunk.char_end] == "indented words here"
    assert chunk.line_start == chunk.line_end == 2


def test_nothing_kept_gives_no_chunks() -> None:
    doc = make_doc(["Advertisement", "", "  "], {1})
    assert split_document(doc, chunk_size=10, chunk_overlap=0, length_function=word_count) == []


def test_short_document_is_measured_once() -> None:
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return word_count(text)

    doc = make_doc(["One short line.", "", "Another one."])
    chunks = split_document(doc, chunk_size=50, chunk_overlap=5, length_function=counting)
    assert len(chunks) == 1
    assert calls == [doc.text]


def test_long_document_measures_each_piece_once() -> None:
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return word_count(text)

    doc = make_doc([f"Sentence number {i} is here. And a second clause; done." for i in range(60)])
    chunks = split_document(doc, chunk_size=12, chunk_overlap=4, length_function=counting)
    assert len(chunks) > 10
    assert max(Counter(calls).values()) == 1
    check_chunks(doc, chunks, 12)


@pytest.mark.parametrize("chunk_size", [8, 40, 200])
def test_seed_chunks_skip_boilerplate_and_cover_the_articles(chunk_size: int) -> None:
    result = load_paths([SEEDS], max_document_bytes=2_000_000)
    assert len(result.documents) == 2
    for doc in result.documents:
        chunks = split_document(
            doc, chunk_size=chunk_size, chunk_overlap=chunk_size // 8, length_function=word_count
        )
        joined = "\n".join(chunk.text for chunk in chunks)
        for banned in ("Also on rt.com", "Share it with a friend", "6 Jul, 2021", "30/09/2021"):
            assert banned not in joined
        for chunk in chunks:
            assert chunk.chunk_id.startswith(f"{doc.doc_id}:{doc.content_hash[:12]}:")
            assert chunk.text == without_excluded(doc, chunk.char_start, chunk.char_end)
            assert word_count(chunk.text) <= chunk_size
        for number, line in enumerate(doc.lines, start=1):
            if number not in doc.excluded and line.strip():
                assert any(c.line_start <= number <= c.line_end for c in chunks)
