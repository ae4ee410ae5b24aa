"""Follow-up questions (qa/answering/followups.py) through QAService on the fakes: one that
stands alone is answered exactly as alone, one that needs the conversation finds its
subject, and the LLM's rewrite is asked for (and used) only when a follow-up needs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.corpus import article, memory_store
from fakes.service import EVIDENCE_MODEL

from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.followups import (
    FollowUps,
    fuse,
    keeps_content,
    own_strength,
    stands_alone,
)
from qa.answering.llm import LLMAnswerer
from qa.config import Settings
from qa.embeddings.hashing import HashingEmbedder
from qa.llm.scripted import ScriptedChatModel
from qa.ports import Condenser
from qa.prompts import load_prompts
from qa.retrieval import HybridRetriever
from qa.service import QAService
from qa.store.conversations import ConversationStore
from qa.store.lexical import LexicalIndex
from qa.types import Answer, Hit, Turn

ROOT = Path(__file__).resolve().parents[2]
EMBEDDER = HashingEmbedder()
# Two articles say something was automated: "it" decides which one a follow-up means.
ARTICLES = {
    "lighthouse": [
        "The Harwick lighthouse",
        "The Harwick lighthouse was built by the engineer Mara Quill in 1874.",
        "The lamp of the lighthouse was automated in 1962.",
        "Its last keeper, Tom Bray, retired the same year.",
    ],
    "bridge": [
        "The Selby bridge",
        "The Selby bridge was opened by the mayor in 1931.",
        "The bridge tolls were automated in 2005.",
        "It was closed for repairs in 1990.",
    ],
    "festival": [
        "The Orrin music festival",
        "The Orrin music festival draws forty thousand visitors every summer.",
        "Tickets are sold at the town hall.",
    ],
}
FIRST = "Who built the Harwick lighthouse?"


@pytest.fixture
def conversations(tmp_path: Path) -> Iterator[ConversationStore]:
    with ConversationStore(tmp_path / "qa.sqlite3") as log:
        yield log


def make_service(
    tmp_path: Path, log: ConversationStore, condense: Condenser | None = None
) -> QAService:
    store = memory_store(
        [article(doc_id, lines) for doc_id, lines in ARTICLES.items()], EMBEDDER, sentences=True
    )
    lexical = LexicalIndex()
    settings = Settings(data_dir=tmp_path, _env_file=None, llm="off", language_check=False)
    return QAService(
        settings,
        store=store,
        embedder=EMBEDDER,
        retriever=HybridRetriever(store, EMBEDDER, lexical, store),
        answerer=ExtractiveAnswerer(
            EMBEDDER,
            store.get_document,
            sentences=store,
            threshold=EVIDENCE_MODEL.confidence(-7.5),  # abstain only on no evidence at all
        ),
        conversations=log,
        lexical=lexical,
        condense=condense,
    )


def cited(answer: Answer) -> list[tuple[str, int]]:
    return [(c.doc_id, c.line_start) for c in answer.citations]


def llm_condenser(tmp_path: Path, chat: ScriptedChatModel) -> Condenser:
    """The LLM answerer's condenser over ``chat`` (only its ``condense`` is used here)."""
    store = memory_store([article(d, lines) for d, lines in ARTICLES.items()], EMBEDDER)
    fallback = ExtractiveAnswerer(EMBEDDER, store.get_document)
    llm = LLMAnswerer(chat, fallback, store.get_document, load_prompts(ROOT / "prompts"))
    return llm.condense


# ------------------------------------------------------------------ through the service


def test_a_self_contained_follow_up_is_answered_exactly_as_alone(
    tmp_path: Path, conversations: ConversationStore
) -> None:
    service = make_service(tmp_path, conversations)
    question = "When were the Selby bridge tolls automated?"
    alone = service.ask(question)
    first = service.ask(FIRST)
    follow = service.ask(question, conversation_id=first.conversation_id)
    assert follow.answer == alone.answer and follow.citations == alone.citations
    assert cited(follow) == [("bridge", 3)]
    assert follow.conversation_id == first.conversation_id
    [_, turn] = service.history(first.conversation_id or "")
    assert turn.standalone_question == question  # searched alone, not with the lighthouse


def test_a_dependent_follow_up_finds_the_earlier_subject(
    tmp_path: Path, conversations: ConversationStore
) -> None:
    service = make_service(tmp_path, conversations)
    first = service.ask(FIRST)
    assert ("lighthouse", 2) in cited(first)
    follow = service.ask("When was it automated?", conversation_id=first.conversation_id)
    assert "1962" in follow.answer
    assert cited(follow)[0] == ("lighthouse", 3)
    [_, turn] = service.history(first.conversation_id or "")
    assert turn.question == "When was it automated?"
    assert turn.standalone_question == f"{FIRST} When was it automated?"
    # The same words in another conversation mean the bridge. (Each article is one passage
    # here: from all three, the lighthouse's sentence, which shares more words with the
    # follow-up, would come first; the best passage found with the context is the bridge.)
    other = service.ask("Who opened the Selby bridge?", top_k=1)
    follow = service.ask("When was it automated?", conversation_id=other.conversation_id, top_k=1)
    assert "2005" in follow.answer and cited(follow)[0] == ("bridge", 3)


def test_a_streamed_follow_up_reads_the_same_question(
    tmp_path: Path, conversations: ConversationStore
) -> None:
    service = make_service(tmp_path, conversations)
    first = service.ask(FIRST)
    *_, last = service.ask_stream("When was it automated?", conversation_id=first.conversation_id)
    assert isinstance(last, Answer) and "1962" in last.answer


def test_history_given_by_the_caller_is_used_the_same_way(
    tmp_path: Path, conversations: ConversationStore
) -> None:
    service = make_service(tmp_path, conversations)
    history = [Turn(question="Who opened the Selby bridge?", answer="The mayor [1].")]
    answer = service.ask("When was it automated?", history=history, top_k=1)
    assert answer.conversation_id is None
    assert "2005" in answer.answer and cited(answer)[0] == ("bridge", 3)


# ------------------------------------------------------------------ with an LLM condenser


def test_the_llm_is_not_asked_to_rewrite_a_self_contained_follow_up(
    tmp_path: Path, conversations: ConversationStore
) -> None:
    chat = ScriptedChatModel([])  # any call would fail: none is scripted
    service = make_service(tmp_path, conversations, llm_condenser(tmp_path, chat))
    question = "When were the Selby bridge tolls automated?"
    alone = service.ask(question)
    first = service.ask(FIRST)
    follow = service.ask(question, conversation_id=first.conversation_id)
    assert chat.calls == []
    assert follow.answer == alone.answer and follow.citations == alone.citations
    assert "condense" not in follow.timings_ms


def test_the_llm_rewrites_a_dependent_follow_up(
    tmp_path: Path, conversations: ConversationStore
) -> None:
    rewrite = "When was the lamp of the Harwick lighthouse automated?"
    chat = ScriptedChatModel([rewrite])
    service = make_service(tmp_path, conversations, llm_condenser(tmp_path, chat))
    first = service.ask(FIRST)
    follow = service.ask("When was it automated?", conversation_id=first.conversation_id)
    assert len(chat.calls) == 1
    assert "User: Who built the Harwick lighthouse?" in chat.calls[0][0]["content"]
    assert "1962" in follow.answer
    assert "condense" in follow.timings_ms
    assert service.history(first.conversation_id or "")[-1].standalone_question == rewrite


@pytest.mark.parametrize(
    "reply",
    [
        "When was the Harwick lighthouse built?",  # lost "automated"
        "",  # nothing usable: condense says it failed
        "when was it automated",  # unchanged: the model thinks it stands alone; it does not
    ],
)
def test_a_rewrite_that_drops_the_question_s_words_or_changes_nothing_is_not_used(
    tmp_path: Path, conversations: ConversationStore, reply: str
) -> None:
    chat = ScriptedChatModel([reply])
    service = make_service(tmp_path, conversations, llm_condenser(tmp_path, chat))
    first = service.ask(FIRST)
    follow = service.ask("When was it automated?", conversation_id=first.conversation_id)
    assert len(chat.calls) == 1
    assert "1962" in follow.answer  # searched with the previous question instead
    assert service.history(first.conversation_id or "")[-1].standalone_question == (
        f"{FIRST} When was it automated?"
    )


def test_a_failing_llm_leaves_the_follow_up_searched_with_the_previous_question(
    tmp_path: Path, conversations: ConversationStore
) -> None:
    chat = ScriptedChatModel()
    chat.fail()
    service = make_service(tmp_path, conversations, llm_condenser(tmp_path, chat))
    first = service.ask(FIRST)
    follow = service.ask("When was it automated?", conversation_id=first.conversation_id)
    assert len(chat.calls) == 1
    assert "1962" in follow.answer


# ------------------------------------------------------------------ the rules


def _hit(chunk_id: str, score: float) -> Hit:
    return Hit(
        chunk_id=chunk_id,
        doc_id=chunk_id[0],
        source=f"{chunk_id[0]}.txt",
        title="t",
        line_start=1,
        line_end=1,
        text=chunk_id,
        score=score,
    )


def test_a_question_stands_alone_when_it_retrieves_nearly_as_well_without_context() -> None:
    strong, weak, context = [_hit("a1", 0.8)], [_hit("b1", 0.3)], [_hit("a1", 0.85)]
    assert own_strength(strong, context) == pytest.approx(0.8 / 0.85)
    assert stands_alone("Where is the Harwick lighthouse?", strong, context)
    assert not stands_alone("And in total?", weak, context)  # ellipsis: weak on its own
    assert not stands_alone("Who built it?", strong, context)  # points back, however strong
    assert own_strength([], []) == 0.0
    assert own_strength(strong, []) == 1.0
    assert own_strength([], context) == 0.0


def test_fusion_keeps_the_passages_found_with_context_first() -> None:
    alone = [_hit("x1", 0.5), _hit("a2", 0.4)]
    context = [_hit("a1", 0.9), _hit("a2", 0.8), _hit("a3", 0.7)]
    assert [h.chunk_id for h in fuse(alone, context, 3)] == ["a2", "a1", "a3"]
    assert [h.chunk_id for h in fuse(alone, context, 5)] == ["a2", "a1", "a3", "x1"]
    assert [h.chunk_id for h in fuse(alone, [], 2)] == ["x1", "a2"]


def test_a_rewrite_must_keep_every_content_word_and_number() -> None:
    assert keeps_content("When was it automated?", "When was the lighthouse lamp automated?")
    assert keeps_content("Who retired?", "Which keeper of the lighthouse retired in 1962?")
    assert not keeps_content("When was it automated?", "When was the lighthouse built?")
    assert not keeps_content("What happened in 1962?", "What happened to the lighthouse?")


def test_without_history_a_question_is_searched_once() -> None:
    class Counting:
        def __init__(self) -> None:
            self.queries: list[str] = []

        def search(
            self, query: str, k: int, filters: object = None, *, as_of: object = None
        ) -> list[Hit]:
            self.queries.append(query)
            return [_hit("a1", 0.5)]

    retriever = Counting()
    resolved = FollowUps(retriever).resolve("Who built it?", [], 3)
    assert (resolved.standalone, resolved.question, retriever.queries) == (
        "Who built it?",
        "Who built it?",
        ["Who built it?"],
    )
