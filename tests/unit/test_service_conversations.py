"""QAService conversations, feedback and readiness on the in-memory fakes."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.corpus import article
from fakes.news import FLEET, NEWS, SHIPS_QUESTION
from fakes.service import MemoryService, ServiceFactory

from qa.answering.citations import ABSTAIN_TEXT
from qa.errors import InputError, LLMError, NotFoundError, StoreError
from qa.types import Feedback, Turn

BOATS = "How many boats does the fishing fleet have?"
#: Alone it matches nothing; after BOATS it is about the fleet.
WHY = "Why did they return?"
BOATS_ANSWER = f"{FLEET.lines[1][:-1]} [1]."


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path) as factory:
        yield factory


def rows(built: MemoryService, table: str) -> int:
    """Rows of a table of the conversation database, read through a connection of our own."""
    with sqlite3.connect(built.sqlite_path) as db:
        count: int = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return count


# --------------------------------------------------------------------------- follow-ups


def test_a_follow_up_is_condensed_with_the_previous_question(make: ServiceFactory) -> None:
    service = make(NEWS).service
    assert service.ask(WHY).answer == ABSTAIN_TEXT  # alone, nothing answers it
    first = service.ask(BOATS)
    conversation = first.conversation_id
    assert conversation is not None and first.answer == BOATS_ANSWER

    follow_up = service.ask(f"  {WHY} ", conversation_id=conversation)

    assert follow_up.conversation_id == conversation
    assert follow_up.answerable and follow_up.citations[0].doc_id == "fleet"
    standalone = f"{BOATS} {WHY}"
    assert follow_up.answer == service.ask(standalone).answer
    assert service.history(conversation) == [
        Turn(question=BOATS, answer=first.answer, standalone_question=BOATS),
        Turn(question=WHY, answer=follow_up.answer, standalone_question=standalone),
    ]
    # A follow-up that finds its passage on its own (and points back at nothing) is
    # answered exactly as if asked alone, and recorded as its own standalone question.
    third = service.ask("And the catch?", conversation_id=conversation)
    assert third.answer == service.ask("And the catch?").answer
    assert service.history(conversation)[-1] == Turn(
        question="And the catch?", answer=third.answer, standalone_question="And the catch?"
    )


def test_the_llm_condenses_a_follow_up(make: ServiceFactory) -> None:
    built = make(
        NEWS,
        llm=[
            "The fishing fleet of 40 boats returned to port [1].",  # answers BOATS
            "Why did the fishing fleet return to port?",  # condenses WHY
            "The fishing fleet returned to port after the storm [1].",  # answers that
        ],
    )
    service = built.service
    first = service.ask(BOATS)
    follow_up = service.ask(WHY, conversation_id=first.conversation_id)
    assert follow_up.answer == "The fishing fleet returned to port after the storm [1]."
    assert follow_up.citations[0].doc_id == "fleet"
    assert follow_up.citations[0].quote == FLEET.lines[1]
    assert first.conversation_id is not None
    assert [t.standalone_question for t in service.history(first.conversation_id)] == [
        BOATS,
        "Why did the fishing fleet return to port?",
    ]
    assert built.chat is not None and built.chat.remaining == 0


def test_a_failing_llm_condenser_falls_back_to_the_naive_one(make: ServiceFactory) -> None:
    built = make(
        NEWS,
        llm=[
            "The fishing fleet of 40 boats returned to port [1].",
            LLMError("timeout"),  # condensing fails...
            "The fishing fleet returned to port after the storm [1].",  # ...answering works
        ],
    )
    first = built.service.ask(BOATS)
    assert first.conversation_id is not None
    follow_up = built.service.ask(WHY, conversation_id=first.conversation_id)
    assert not follow_up.degraded  # condensing failed, answering did not
    turn = built.service.history(first.conversation_id)[-1]
    assert turn.standalone_question == f"{BOATS} {WHY}"  # searched with the context


def test_streamed_answers_are_remembered_too(make: ServiceFactory) -> None:
    service = make(NEWS).service
    *_, first = service.ask_stream(BOATS)
    assert not isinstance(first, str) and first.conversation_id is not None
    *_, follow_up = service.ask_stream(WHY, conversation_id=first.conversation_id)
    assert not isinstance(follow_up, str)
    assert [t.answer for t in service.history(first.conversation_id)] == [
        first.answer,
        follow_up.answer,
    ]


def test_history_comes_back_in_order_and_bounded(make: ServiceFactory) -> None:
    service = make(NEWS).service
    conversation = service.ask("Question 0 about the harbour?").conversation_id
    assert conversation is not None
    for i in range(1, 9):
        service.ask(f"Question {i} about the harbour?", conversation_id=conversation)
    questions = [f"Question {i} about the harbour?" for i in range(9)]
    assert [t.question for t in service.history(conversation, limit=100)] == questions
    assert [t.question for t in service.history(conversation)] == questions[-6:]
    assert [t.question for t in service.history(conversation, limit=2)] == questions[-2:]
    assert service.history(conversation, limit=0) == []
    assert service.history("no-such-conversation") == []


def test_separate_conversations_do_not_mix(make: ServiceFactory) -> None:
    service = make(NEWS).service
    a = service.ask(BOATS).conversation_id
    b = service.ask(SHIPS_QUESTION).conversation_id
    assert a and b and a != b
    assert [t.question for t in service.history(a)] == [BOATS]
    assert [t.question for t in service.history(b)] == [SHIPS_QUESTION]


def test_caller_carried_history_condenses_but_stores_nothing(make: ServiceFactory) -> None:
    built = make(NEWS)
    service = built.service
    existing = service.ask(SHIPS_QUESTION).conversation_id
    assert existing is not None
    before = (rows(built, "conversations"), rows(built, "turns"))
    carried = [Turn(question=BOATS, answer=BOATS_ANSWER)]

    answer = service.ask(WHY, history=carried)
    also = service.ask(WHY, history=carried, conversation_id=existing)
    *_, streamed = service.ask_stream(WHY, history=carried)
    alone = service.ask(BOATS, history=[])  # a first message, OpenAI-style
    assert alone.conversation_id is None and alone.answer == BOATS_ANSWER

    for item in (answer, also, streamed):
        assert not isinstance(item, str)
        assert item.conversation_id is None
        assert item.answerable and item.citations[0].doc_id == "fleet"  # condensed
    assert (rows(built, "conversations"), rows(built, "turns")) == before
    assert [t.question for t in service.history(existing)] == [SHIPS_QUESTION]


def test_nothing_is_stored_unless_remembered(make: ServiceFactory) -> None:
    built = make(NEWS)
    for _ in range(3):
        answer = built.service.ask(BOATS, remember=False)
        assert answer.conversation_id is None and answer.answer == BOATS_ANSWER
        *_, streamed = built.service.ask_stream(BOATS, remember=False)
        assert not isinstance(streamed, str) and streamed.conversation_id is None
    assert (rows(built, "conversations"), rows(built, "turns")) == (0, 0)


def test_a_conversation_continues_only_for_its_owner(make: ServiceFactory) -> None:
    built = make(NEWS)
    service = built.service
    mine = service.ask(BOATS, owner="key:a").conversation_id
    assert mine is not None
    follow = service.ask(WHY, conversation_id=mine, owner="key:a", remember=False)
    assert follow.answerable and follow.citations[0].doc_id == "fleet"  # A's topic, for A
    for owner in ("key:b", "anonymous"):
        with pytest.raises(NotFoundError, match="another key"):
            service.ask(WHY, conversation_id=mine, owner=owner, remember=False)
        with pytest.raises(NotFoundError):
            # remember=True must not let a caller take over an existing id either
            service.ask(WHY, conversation_id=mine, owner=owner)
    with pytest.raises(NotFoundError):
        service.ask(BOATS, conversation_id="chosen-by-client", owner="key:a", remember=False)
    assert not service.conversation_exists("chosen-by-client")
    assert [t.question for t in service.history(mine)] == [BOATS, WHY]


def test_refused_questions_leave_no_trace(make: ServiceFactory) -> None:
    built = make(NEWS)
    conversation = built.service.ask(BOATS).conversation_id
    assert conversation is not None
    with pytest.raises(InputError):
        built.service.ask("   ")
    with pytest.raises(InputError):
        built.service.ask("   ", conversation_id=conversation)
    assert (rows(built, "conversations"), rows(built, "turns")) == (1, 1)


def test_conversation_exists(make: ServiceFactory) -> None:
    service = make(NEWS).service
    conversation = service.ask(BOATS).conversation_id
    assert conversation is not None and service.conversation_exists(conversation)
    assert not service.conversation_exists("0" * 32)
    assert not service.conversation_exists("")


# --------------------------------------------------------------------------- feedback


def test_feedback_round_trip(make: ServiceFactory) -> None:
    service = make(NEWS).service
    answer = service.ask(SHIPS_QUESTION)
    up = service.record_feedback(
        Feedback(
            conversation_id=answer.conversation_id,
            question=SHIPS_QUESTION,
            answer=answer.answer,
            citations=answer.citations,
            verdict="up",
            user="U1",
            source="slack",
        )
    )
    down = service.record_feedback(
        Feedback(
            conversation_id=None,
            question="Who?",
            answer=ABSTAIN_TEXT,
            citations=[],
            verdict="down",
            user=None,
            source="api",
        )
    )
    assert down > up
    newest, oldest = service.list_feedback()
    assert (newest["id"], newest["verdict"], newest["citations"]) == (down, "down", [])
    assert (newest["conversation_id"], newest["user"], newest["source"]) == (None, None, "api")
    assert oldest["id"] == up
    assert oldest["conversation_id"] == answer.conversation_id
    assert (oldest["question"], oldest["answer"]) == (SHIPS_QUESTION, answer.answer)
    assert (oldest["verdict"], oldest["user"], oldest["source"]) == ("up", "U1", "slack")
    assert oldest["citations"] == [c.model_dump(mode="json") for c in answer.citations]
    assert [f["id"] for f in service.list_feedback(limit=1)] == [down]


def test_feedback_with_a_bad_verdict_is_refused(make: ServiceFactory) -> None:
    service = make().service
    with pytest.raises(InputError, match="verdict"):
        service.record_feedback(
            Feedback(
                conversation_id=None,
                question="q",
                answer="a",
                citations=[],
                verdict="sideways",  # type: ignore[arg-type]
                user=None,
                source="api",
            )
        )
    assert service.list_feedback() == []


# --------------------------------------------------------------------------- health


def test_readiness_follows_the_store(make: ServiceFactory) -> None:
    built = make(NEWS)
    building = built.service.readiness()["index"]
    assert building == "catching up: the keyword (BM25) index is being built"
    built.service.warm_up(background=False)
    ready = {"chroma": "ok", "llm": "off", "index": "current", "conversations": "ok"}
    assert built.service.readiness() == ready
    built.store.down = True
    with pytest.raises(StoreError):
        built.service.readiness()
    with pytest.raises(StoreError):
        built.service.ask(SHIPS_QUESTION)
    built.store.down = False
    assert built.service.readiness() == ready
    assert built.service.ask(SHIPS_QUESTION).answerable
    built.service.ingest_documents([article("late", "A late story about tugboats.")])
    # Written by this process, but the BM25 index has not synced it yet (a search would).
    assert built.service.readiness()["index"].startswith("catching up: the keyword")
    built.service.search("tugboats")
    assert built.service.readiness() == ready


def test_warm_up_builds_the_bm25_index_and_survives_a_store_that_is_down(
    make: ServiceFactory,
) -> None:
    built = make(NEWS)
    built.store.down = True
    built.service.warm_up(background=False)  # logged, not raised: the first search retries
    assert built.lexical.revision is None
    built.store.down = False
    built.service.warm_up(background=False)
    assert built.lexical.revision == built.store.revision()
    assert len(built.lexical) == built.store.count()


def test_readiness_reports_a_configured_llm(make: ServiceFactory) -> None:
    assert make(NEWS, llm=[]).service.readiness()["llm"] == "configured"


def test_warm_up_warns_about_documents_an_older_qa_embedded(
    make: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    built = make(NEWS)
    with caplog.at_level(logging.WARNING, logger="qa.service"):
        built.service.warm_up(background=False)
    assert built.service.warn_if_outdated() == 0
    assert "older qa" not in caplog.text
    first = built.store.list_documents()[0].doc_id
    built.store._sentences.pop(first)  # as a store written before sentence vectors
    with caplog.at_level(logging.WARNING, logger="qa.service"):
        built.service.warm_up(background=False)
    assert built.service.warn_if_outdated() == 1
    assert "1 of " in caplog.text and "qa check --repair" in caplog.text
