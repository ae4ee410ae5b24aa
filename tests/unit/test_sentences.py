"""Sentences of hits: exact lines, verbatim text, excluded lines, merged overlapping hits."""

from __future__ import annotations

from fakes.articles import make_doc, make_hit

from qa.answering.sentences import build_sources, memoize
from qa.text import numbers, sentences_for_hit, terms
from qa.types import Document

DOC = make_doc(
    "a",
    [
        "Guards take in fleeing soldiers",
        "",
        "The president spoke by telephone. Russia offered its support.",
        "Share this story",
        "On July 5, guards let 1,037 soldiers in. Mr. Smith said so.",
        "This sentence is wrapped at an odd place and",
        "continues on the next line. Then a short one.",
    ],
    excluded={4},
)


def test_sentences_map_to_their_lines_and_are_verbatim() -> None:
    found = sentences_for_hit(make_hit(DOC, 1, 7), DOC)
    texts = [(s.line_start, s.line_end, s.text) for s in found]
    assert texts == [
        (1, 1, "Guards take in fleeing soldiers"),
        (3, 3, "The president spoke by telephone."),
        (3, 3, "Russia offered its support."),
        (5, 5, "On July 5, guards let 1,037 soldiers in."),
        (5, 5, "Mr. Smith said so."),
        (6, 7, "This sentence is wrapped at an odd place and\ncontinues on the next line."),
        (7, 7, "Then a short one."),
    ]
    for sentence in found:
        assert DOC.text[sentence.char_start : sentence.char_end] == sentence.text


def test_excluded_lines_are_never_part_of_a_sentence() -> None:
    found = sentences_for_hit(make_hit(DOC, 3, 5), DOC)
    assert all("Share" not in s.text for s in found)
    assert {s.line_start for s in found} == {3, 5}


def test_title_without_full_stop_does_not_swallow_the_next_line() -> None:
    doc = make_doc("t", ["A headline without a stop", "The body starts here. It goes on."])
    found = sentences_for_hit(make_hit(doc, 1, 2), doc)
    assert [s.text for s in found] == [
        "A headline without a stop",
        "The body starts here.",
        "It goes on.",
    ]


def test_hit_range_is_clipped_to_the_document() -> None:
    found = sentences_for_hit(make_hit(DOC, 5, 99), DOC)
    assert found[0].line_start == 5
    assert found[-1].line_end == 7


def test_overlapping_hits_of_one_document_merge_into_one_source() -> None:
    other = make_doc("b", ["Other title", "Another article says 134."])
    hits = [make_hit(DOC, 5, 7, "x"), make_hit(other, 2, 2), make_hit(DOC, 3, 5, "y")]
    sources = build_sources(hits, {"a": DOC, "b": other}.get)
    assert [(s.n, s.hit.doc_id, s.hit.line_start, s.hit.line_end) for s in sources] == [
        (1, "a", 3, 7),
        (2, "b", 2, 2),
    ]
    texts = [s.text for s in sources[0].sentences]
    assert len(texts) == len(set(texts))
    assert "Share this story" not in sources[0].hit.text


def test_hits_of_missing_documents_are_skipped_and_numbering_stays_dense() -> None:
    other = make_doc("b", ["Other title", "Another article says 134."])
    hits = [make_hit(DOC, 3, 3), make_hit(other, 2, 2)]
    sources = build_sources(hits, {"b": other}.get)
    assert [(s.n, s.hit.doc_id) for s in sources] == [(1, "b")]


def test_terms_and_numbers() -> None:
    assert terms("The soldiers were fleeing to Russia") == ["soldier", "flee", "russia"]
    assert numbers("1,037 soldiers on July 5 in 1979-1989, 3.5%") == {
        "1037",
        "5",
        "1979",
        "1989",
        "3.5",
    }


def test_memoize_reads_each_document_once() -> None:
    calls: list[str] = []

    def lookup(doc_id: str) -> Document | None:
        calls.append(doc_id)
        return DOC if doc_id == "a" else None

    cached = memoize(lookup)
    assert cached("a") is DOC
    assert cached("a") is DOC
    assert cached("zz") is None
    assert cached("zz") is None
    assert calls == ["a", "zz"]
