"""QAService.search on the in-memory fakes: hybrid order, filters, deletions, input checks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.corpus import article
from fakes.news import NEWS
from fakes.service import ServiceFactory
from pydantic import ValidationError

from qa.errors import InputError
from qa.types import Filters, Hit

MODES = ["hybrid", "dense", "lexical"]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path) as factory:
        yield factory


def doc_ids(hits: Sequence[Hit]) -> list[str]:
    return [hit.doc_id for hit in hits]


# --------------------------------------------------------------------------- hybrid order
# The hashing embedder matches exact words, stopwords included; BM25 drops stopwords and
# stems. For QUERY, "stopwords" is the dense favourite without a single BM25 term, "stems"
# the BM25 favourite without a single shared word, and "both" second in each ranking.

QUERY = "what is the state of the harbour dredging plan"
DISAGREEING = [
    article(
        "stopwords",
        "It is the end of the day, and the rest of it is the same as the start of it.",
    ),
    article("stems", "Harbours dredged: states plans, dredges harbours, planned dredges."),
    article(
        "both",
        "The harbour dredging plan is in a bad state, officials said after a long meeting.",
    ),
    article("football", "Football results from the weekend league games."),
    article("weather", "Weather forecast: rain in the north, sun in the south."),
]


def test_a_passage_found_by_both_rankings_beats_one_found_by_one(make: ServiceFactory) -> None:
    dense = make(DISAGREEING, retrieval_mode="dense").service.search(QUERY, top_k=3)
    bm25 = make(DISAGREEING, retrieval_mode="lexical").service.search(QUERY, top_k=3)
    hybrid = make(DISAGREEING).service.search(QUERY, top_k=3)
    assert doc_ids(dense)[:2] == ["stopwords", "both"]
    assert doc_ids(bm25)[:2] == ["stems", "both"]
    assert doc_ids(hybrid)[0] == "both"
    assert {"stopwords", "stems"} <= set(doc_ids(hybrid))
    scores = [hit.score for hit in hybrid]
    assert scores == sorted(scores, reverse=True)


def test_hits_carry_their_exact_source_lines(make: ServiceFactory) -> None:
    service = make(NEWS).service
    for hit in service.search("dredging ships cost euros", top_k=5):
        doc = service.get_document(hit.doc_id)
        assert hit.source == doc.source and hit.title == doc.title
        assert hit.published_at == doc.published_at
        assert 1 <= hit.line_start <= hit.line_end <= len(doc.lines)
        assert hit.text in doc.text


# --------------------------------------------------------------------------- filters

UNDATED = article("notice", "Harbour notice: the ferry to the port is cancelled.", source="notice")
FILTER_QUERY = "harbour port fleet mayor vote dredging"
FILTERS = [
    (Filters(source=["coast/fleet.txt"]), {"fleet"}),
    (Filters(source=["city/harbour.txt", "city/election.txt"]), {"harbour", "election"}),
    (Filters(doc_id=["election", "notice"]), {"election", "notice"}),
    (Filters(published_after=datetime(2024, 1, 1, tzinfo=UTC)), {"harbour", "fleet"}),
    (Filters(published_before=datetime(2024, 1, 1, tzinfo=UTC)), {"election"}),
    (
        Filters(
            published_after=datetime(2024, 2, 1, tzinfo=UTC),  # inclusive bounds
            published_before=datetime(2024, 3, 1),  # naive: taken as UTC
        ),
        {"fleet"},
    ),
    (Filters(source=["coast/fleet.txt"], doc_id=["harbour"]), set()),
    (Filters(source=["nowhere"]), set()),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("filters", "expected"), FILTERS)
def test_filters_reach_the_results(
    make: ServiceFactory, mode: str, filters: Filters, expected: set[str]
) -> None:
    service = make([*NEWS, UNDATED], retrieval_mode=mode).service
    unfiltered = set(doc_ids(service.search(FILTER_QUERY, top_k=20)))
    assert unfiltered == {"harbour", "fleet", "election", "notice"}
    assert set(doc_ids(service.search(FILTER_QUERY, top_k=20, filters=filters))) == expected


# --------------------------------------------------------------------------- deletions


@pytest.mark.parametrize("mode", MODES)
def test_a_deleted_document_never_comes_back(make: ServiceFactory, mode: str) -> None:
    service = make(NEWS, retrieval_mode=mode).service
    query = "harbour dredging plan ships"
    assert doc_ids(service.search(query, top_k=10))[0] == "harbour"  # BM25 index built
    service.delete_document("harbour")
    for _ in range(2):  # the second search reuses the index synced by the first
        assert "harbour" not in doc_ids(service.search(query, top_k=10))
        assert "harbour" not in doc_ids(
            service.search(query, top_k=10, filters=Filters(doc_id=["harbour"]))
        )
    answer = service.ask("How many ships will the dredging need?")
    assert all(c.doc_id != "harbour" for c in answer.citations)


def test_a_document_deleted_by_another_writer_is_gone_too(make: ServiceFactory) -> None:
    """The BM25 index follows the store's change feed, not this service's own calls."""
    built = make(NEWS, retrieval_mode="lexical")
    assert "harbour" in doc_ids(built.service.search("dredging", top_k=10))
    assert built.store.delete_document("harbour")  # straight to the store
    assert built.service.search("dredging", top_k=10) == []


# --------------------------------------------------------------------------- input checks


def test_top_k_bounds(make: ServiceFactory) -> None:
    service = make(NEWS, top_k=2, max_top_k=6).service
    assert len(service.search("harbour fleet mayor")) == 2  # the configured default
    assert len(service.search("harbour fleet mayor", top_k=1)) == 1
    assert len(service.search("harbour fleet mayor", top_k=6)) == 6
    for bad in (0, -1, 7):
        with pytest.raises(InputError, match="top_k must be between 1 and 6"):
            service.search("harbour fleet mayor", top_k=bad)
        with pytest.raises(InputError, match="top_k"):
            service.ask("How many ships will the dredging need?", top_k=bad)


def test_a_default_top_k_above_the_maximum_is_refused_at_start(make: ServiceFactory) -> None:
    """Found by these tests: it was accepted, and then every request without top_k failed
    with an InputError blaming the caller."""
    with pytest.raises(ValidationError, match="QA_TOP_K must not be larger than QA_MAX_TOP_K"):
        make(top_k=8, max_top_k=6)


def test_empty_or_too_long_questions_are_refused(make: ServiceFactory) -> None:
    built = make(NEWS, max_question_chars=40)
    service = built.service
    for bad, message in [("", "empty"), (" \n\t ", "empty"), ("x" * 41, "longer than 40")]:
        with pytest.raises(InputError, match=message):
            service.search(bad)
        with pytest.raises(InputError, match=message):
            service.ask(bad)
        with pytest.raises(InputError, match=message):
            next(iter(service.ask_stream(bad)))
    # Surrounding whitespace does not count.
    assert service.search(f"  {'harbour ' * 4}harbour  ")[0].doc_id == "harbour"
