"""SpanSplitter gives langchain-text-splitters' chunks, as exact offsets, in linear time."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.ingest.chunking import SEPARATORS
from qa.ingest.splitting import SpanSplitter


def word_count(text: str) -> int:
    return len(text.split())


def langchain_chunks(
    text: str, separators: list[str], size: int, overlap: int, measure: object
) -> list[str]:
    splitter = RecursiveCharacterTextSplitter(
        separators=separators,
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=False,
        chunk_size=size,
        chunk_overlap=overlap,
        length_function=measure,  # type: ignore[arg-type]
    )
    return splitter.split_text(text)


# Repeated wording and every kind of separator: the cases where placing langchain's strings
# back in the text was ambiguous.
PIECES = st.sampled_from(
    ["a", "a", "a", "b", "a.", "b?", "c!", "d;", "x.”", "long-word", " ", "  ", "\n", "\n\n", ""]
)
TEXTS = st.lists(PIECES, max_size=60).map(" ".join)


@settings(max_examples=1500, deadline=None)
@given(
    text=TEXTS,
    data=st.data(),
    measure=st.sampled_from([word_count, len]),
    separators=st.sampled_from([list(SEPARATORS), [" "], ["\n", r"\.\s"], ["b", ""]]),
)
def test_chunks_are_langchains(
    text: str, data: st.DataObject, measure: object, separators: list[str]
) -> None:
    size = data.draw(st.integers(min_value=1, max_value=30))
    overlap = data.draw(st.integers(min_value=0, max_value=size - 1))
    spans = SpanSplitter(
        separators,
        chunk_size=size,
        chunk_overlap=overlap,
        measure=measure,  # type: ignore[arg-type]
    ).split(text)
    assert [text[s:e] for s, e in spans] == langchain_chunks(
        text, separators, size, overlap, measure
    )
    # Each chunk starts inside or right after the previous one and ends later.
    assert all(s0 <= s1 <= e0 < e1 for (s0, e0), (s1, e1) in itertools.pairwise(spans))
    if text:
        assert spans[0][0] == 0
        assert spans[-1][1] == len(text)


def test_repeated_wording_keeps_its_true_offsets() -> None:
    text = "\n".join(["Same line here."] * 40)
    spans = SpanSplitter(SEPARATORS, chunk_size=9, chunk_overlap=3, measure=word_count).split(text)
    # Every chunk is three whole lines; consecutive chunks share one.
    step = len("Same line here.\n")
    assert spans[:3] == [(0, 3 * step), (2 * step, 5 * step), (4 * step, 7 * step)]
    assert spans[-1][1] == len(text)


def test_overlap_larger_than_size_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        SpanSplitter(SEPARATORS, chunk_size=4, chunk_overlap=5, measure=len)


def seconds_to_split(sentences: int) -> float:
    text = " ".join(["The cat sat."] * sentences)
    splitter = SpanSplitter(SEPARATORS, chunk_size=200, chunk_overlap=24, measure=word_count)
    started = time.perf_counter()
    spans = splitter.split(text)
    assert spans[-1][1] == len(text)
    return time.perf_counter() - started


def test_time_grows_linearly_with_repeated_sentences_on_one_line() -> None:
    # The old placement search took 1.8 s for 1,000 of these and 37 s for 4,000 (quadratic).
    seconds_to_split(1_000)  # warm up
    small = min(seconds_to_split(5_000) for _ in range(3))
    large = min(seconds_to_split(40_000) for _ in range(3))
    assert large < 2.0
    assert large < 8 * small * 2.5  # 8x the text: linear, with room for a noisy machine
