"""QAService.ask and ask_stream on the in-memory fakes: extractive answers, and LLM answers
from a ScriptedChatModel checked against the stored lines."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from fakes.news import HARBOUR, NEWS, SHIPS_LINE, SHIPS_QUESTION, UNANSWERABLE
from fakes.service import ServiceFactory

from qa.answering.citations import ABSTAIN_TEXT, verify_citation
from qa.errors import EmptyStoreError, LLMError
from qa.llm.scripted import ScriptedChatModel, split_pieces
from qa.service import QAService
from qa.types import Answer, Filters

SHIPS_QUOTE = HARBOUR.lines[SHIPS_LINE - 1]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path) as factory:
        yield factory


def split(items: Iterable[str | Answer]) -> tuple[list[str], Answer]:
    """The text deltas of a stream and its final Answer, which must come last and once."""
    items = list(items)
    *deltas, final = items
    assert isinstance(final, Answer)
    assert all(isinstance(delta, str) for delta in deltas)
    return [str(delta) for delta in deltas], final


def same_answer(a: Answer, b: Answer) -> bool:
    """Equal but for what differs between two calls (conversation and timings)."""
    varying = {"conversation_id", "timings_ms"}
    return a.model_dump(exclude=varying) == b.model_dump(exclude=varying)


def assert_cites_the_ships_line(service: QAService, answer: Answer) -> None:
    assert answer.answerable
    assert [(c.n, c.doc_id, c.line_start, c.line_end) for c in answer.citations] == [
        (1, "harbour", SHIPS_LINE, SHIPS_LINE)
    ]
    citation = answer.citations[0]
    assert citation.quote == SHIPS_QUOTE  # the stored line, verbatim
    assert (citation.source, citation.title) == (HARBOUR.source, HARBOUR.title)
    assert verify_citation(citation, service.get_document("harbour"))
    assert "[1]" in answer.answer


# --------------------------------------------------------------------------- extractive


def test_an_answerable_question_cites_the_right_lines(make: ServiceFactory) -> None:
    service = make(NEWS).service
    answer = service.ask(SHIPS_QUESTION)
    assert_cites_the_ships_line(service, answer)
    assert answer.answer == "The dredging will need 12 ships and cost 40 million euros [1]."
    assert (answer.mode, answer.degraded, answer.dropped_citations) == ("extractive", False, 0)
    assert answer.conversation_id is not None
    assert service.conversation_exists(answer.conversation_id)


def test_an_unanswerable_question_abstains_with_no_citations(make: ServiceFactory) -> None:
    service = make(NEWS).service
    assert service.search(UNANSWERABLE)  # retrieval still finds passages...
    answer = service.ask(UNANSWERABLE)  # ...but none of their sentences answers
    assert (answer.answer, answer.answerable, answer.citations) == (ABSTAIN_TEXT, False, [])


def test_an_empty_store_says_so_instead_of_abstaining(make: ServiceFactory) -> None:
    """ "The articles don't say" would hide the real problem (nothing ingested, or another
    data folder): the answer is an EmptyStoreError saying what to run."""
    service = make().service
    assert service.search(SHIPS_QUESTION) == []
    with pytest.raises(EmptyStoreError, match="no documents ingested yet: run qa ingest PATH"):
        service.ask(SHIPS_QUESTION)
    with pytest.raises(EmptyStoreError):
        next(service.ask_stream(SHIPS_QUESTION))


def test_a_store_whose_documents_are_filtered_out_still_abstains(make: ServiceFactory) -> None:
    service = make(NEWS).service
    answer = service.ask(SHIPS_QUESTION, filters=Filters(source=["no-such-source"]))
    assert (answer.answer, answer.answerable, answer.citations) == (ABSTAIN_TEXT, False, [])


@pytest.mark.parametrize("question", [SHIPS_QUESTION, UNANSWERABLE])
def test_streaming_yields_deltas_then_the_answer_ask_gives(
    make: ServiceFactory, question: str
) -> None:
    service = make(NEWS).service
    deltas, final = split(service.ask_stream(question))
    assert deltas and "".join(deltas) == final.answer
    assert same_answer(final, service.ask(question))
    assert final.conversation_id is not None
    assert {"retrieve", "answer", "total"} <= set(final.timings_ms)


def test_timings_are_reported(make: ServiceFactory) -> None:
    timings = make(NEWS).service.ask(SHIPS_QUESTION).timings_ms
    assert {"retrieve", "answer", "total"} <= set(timings)
    assert all(value >= 0 for value in timings.values())
    assert timings["total"] >= max(timings["retrieve"], timings["answer"])


def test_answers_respect_filters(make: ServiceFactory) -> None:
    service = make(NEWS).service
    answer = service.ask(SHIPS_QUESTION, filters=Filters(doc_id=["harbour"]))
    assert_cites_the_ships_line(service, answer)
    answer = service.ask(SHIPS_QUESTION, filters=Filters(doc_id=["fleet", "election"]))
    assert (answer.answer, answer.answerable, answer.citations) == (ABSTAIN_TEXT, False, [])


# --------------------------------------------------------------------------- LLM


def test_an_llm_reply_citing_a_source_is_verified_and_kept(make: ServiceFactory) -> None:
    service = make(NEWS, llm=["The dredging will need 12 ships [1]."]).service
    answer = service.ask(SHIPS_QUESTION)
    assert answer.answer == "The dredging will need 12 ships [1]."
    assert_cites_the_ships_line(service, answer)
    assert (answer.mode, answer.degraded, answer.dropped_citations) == ("llm", False, 0)
    assert {"llm", "retrieve", "answer", "total"} <= set(answer.timings_ms)


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        # an unknown source number
        (
            "The dredging will need 12 ships [1]. It will cost 40 million euros [9].",
            "The dredging will need 12 ships [1].",
        ),
        # a name the source never mentions
        (
            "The dredging will need 12 ships [1]. Mayor Jones opposed the plan [1].",
            "The dredging will need 12 ships [1].",
        ),
        # a number the source never gives
        ("The dredging will need 12 ships [1]. It will take 30 months [1].", None),
        # a fact with no citation at all
        ("The dredging will need 12 ships [1]. The work will be noisy.", None),
    ],
)
def test_unverifiable_claims_are_dropped_and_counted(
    make: ServiceFactory, reply: str, kept: str | None
) -> None:
    service = make(NEWS, llm=[reply]).service
    answer = service.ask(SHIPS_QUESTION)
    assert answer.answer == (kept or "The dredging will need 12 ships [1].")
    assert_cites_the_ships_line(service, answer)
    assert answer.dropped_citations == 1


@pytest.mark.parametrize(
    "reply",
    [
        "The dredging will need 12 ships [9].",  # only an unknown marker
        "The dredging will need 30 ships [1].",  # the source says 12
        "Mayor Anna Berg ordered the dredging [1].",  # source 1 is the harbour article
    ],
)
def test_an_answer_left_without_verified_claims_abstains(make: ServiceFactory, reply: str) -> None:
    answer = make(NEWS, llm=[reply]).service.ask(SHIPS_QUESTION)
    assert (answer.answer, answer.answerable, answer.citations) == (ABSTAIN_TEXT, False, [])
    assert (answer.mode, answer.dropped_citations) == ("llm", 1)


def test_an_abstention_reply_abstains(make: ServiceFactory) -> None:
    answer = make(NEWS, llm=["The articles don't say."]).service.ask(SHIPS_QUESTION)
    assert (answer.answer, answer.answerable, answer.citations) == (ABSTAIN_TEXT, False, [])
    assert (answer.mode, answer.degraded, answer.dropped_citations) == ("llm", False, 0)


def test_weak_evidence_abstains_without_asking_the_llm(make: ServiceFactory) -> None:
    built = make(NEWS, llm=["The dredging will need 12 ships [1]."])
    answer = built.service.ask(UNANSWERABLE)
    assert (answer.answer, answer.answerable, answer.mode) == (ABSTAIN_TEXT, False, "llm")
    assert built.chat is not None and built.chat.remaining == 1  # the reply was not used


def test_an_llm_failure_degrades_to_the_extractive_answer(make: ServiceFactory) -> None:
    extractive = make(NEWS).service.ask(SHIPS_QUESTION)
    built = make(NEWS, llm=[LLMError("upstream 503")])
    answer = built.service.ask(SHIPS_QUESTION)
    assert answer.degraded
    assert answer.degraded_reason is not None and "upstream 503" in answer.degraded_reason
    assert answer.mode == "extractive"
    assert (answer.answer, answer.citations) == (extractive.answer, extractive.citations)
    assert_cites_the_ships_line(built.service, answer)


def test_llm_streaming_yields_the_reply_then_the_verified_answer(make: ServiceFactory) -> None:
    reply = "The dredging will need 12 ships [1]. It will cost 40 million euros [9]."
    built = make(NEWS, llm=[reply, reply])
    deltas, final = split(built.service.ask_stream(SHIPS_QUESTION))
    assert "".join(deltas) == reply  # streamed as the model wrote it...
    assert final.answer == "The dredging will need 12 ships [1]."  # ...verified at the end
    assert final.dropped_citations == 1
    assert same_answer(final, built.service.ask(SHIPS_QUESTION))


def test_llm_stream_failing_before_any_text_streams_the_extractive_answer(
    make: ServiceFactory,
) -> None:
    extractive = make(NEWS).service.ask(SHIPS_QUESTION)
    built = make(NEWS, llm=ScriptedChatModel())
    assert built.chat is not None
    built.chat.fail("connection reset")
    deltas, final = split(built.service.ask_stream(SHIPS_QUESTION))
    assert "".join(deltas) == extractive.answer
    assert final.degraded and final.mode == "extractive"
    assert (final.answer, final.citations) == (extractive.answer, extractive.citations)


def test_llm_stream_failing_midway_ends_with_a_degraded_answer(make: ServiceFactory) -> None:
    extractive = make(NEWS).service.ask(SHIPS_QUESTION)
    reply = "The dredging will need 12 ships [1]."
    chat = ScriptedChatModel([reply], pieces=3)
    chat.fail("connection reset", after_pieces=1)
    deltas, final = split(make(NEWS, llm=chat).service.ask_stream(SHIPS_QUESTION))
    # Only the model's first piece was streamed: the extractive text is not appended to it.
    assert deltas == split_pieces(reply, 3)[:1]
    assert final.degraded and (final.answer, final.citations) == (
        extractive.answer,
        extractive.citations,
    )
