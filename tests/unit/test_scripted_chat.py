"""ScriptedChatModel: scripted replies, usage, recorded calls, streams and failures."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from fakes.articles import make_doc, make_hit

from qa.answering.llm import render_sources
from qa.answering.sentences import build_sources
from qa.errors import LLMError
from qa.llm.scripted import ScriptedChatModel, quote_first_source, split_pieces
from qa.ports import ChatModel, Message
from qa.prompts import load_prompts
from qa.types import ChatReply, ChatUsage

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def ask(text: str) -> list[Message]:
    return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]


def streamed(model: ScriptedChatModel, messages: Sequence[Message]) -> list[str | ChatReply]:
    return list(model.stream(messages))


def until_error(model: ScriptedChatModel) -> tuple[list[str | ChatReply], LLMError | None]:
    """What a stream yielded before it raised, and what it raised (None: it ended)."""
    got: list[str | ChatReply] = []
    try:
        for item in model.stream(ask("a")):
            got.append(item)
    except LLMError as exc:
        return got, exc
    return got, None


def test_it_is_a_chat_model() -> None:
    model: ChatModel = ScriptedChatModel(["hi"])
    assert model.model == "scripted"
    assert ScriptedChatModel(model="gpt-test").model == "gpt-test"


def test_replies_are_consumed_in_order_then_it_says_it_ran_out() -> None:
    model = ScriptedChatModel(["first", ChatReply(text="second")])
    assert model.remaining == 2
    assert model.complete(ask("a")) == ChatReply(text="first")
    assert model.complete(ask("b")).text == "second"
    assert model.remaining == 0
    with pytest.raises(LLMError, match=r"no scripted reply left for call 3 \(2 were scripted\)"):
        model.complete(ask("c"))
    assert [call[-1]["content"] for call in model.calls] == ["a", "b", "c"]


def test_usage_default_and_per_reply() -> None:
    default = ChatUsage(prompt_tokens=10, completion_tokens=2, total_tokens=12)
    own = ChatUsage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
    model = ScriptedChatModel(["plain", ChatReply(text="own", usage=own)], usage=default)
    assert model.complete(ask("a")).usage == default
    assert model.complete(ask("b")).usage == own
    assert ScriptedChatModel(["x"]).complete(ask("a")).usage is None


def test_replies_computed_from_the_messages() -> None:
    model = ScriptedChatModel(lambda messages: messages[-1]["content"].upper())
    assert model.complete(ask("shout")).text == "SHOUT"
    assert model.remaining is None
    assert model.complete(ask("again")).text == "AGAIN"


def test_calls_record_copies_of_the_messages() -> None:
    model = ScriptedChatModel(["ok"])
    messages = ask("question")
    model.complete(messages)
    messages[-1]["content"] = "edited later"
    assert model.calls == [ask("question")]


def test_stream_yields_pieces_then_the_whole_reply() -> None:
    usage = ChatUsage(prompt_tokens=5, completion_tokens=7, total_tokens=12)
    text = "Russia is ready to help Tajikistan [1]. Guards let soldiers in [2]."
    model = ScriptedChatModel([ChatReply(text=text, usage=usage)])
    *pieces, last = streamed(model, ask("q"))
    assert last == ChatReply(text=text, usage=usage)
    assert all(isinstance(p, str) for p in pieces)
    assert len(pieces) == 3
    assert "".join(str(p) for p in pieces) == text
    assert model.calls == [ask("q")]


def test_split_pieces_keeps_every_character() -> None:
    for text in ["", "one", "  leading and trailing  ", "a\nb\n\nc", "x " * 50]:
        pieces = split_pieces(text, 3)
        assert "".join(pieces) == text
        assert len(pieces) <= 3
        assert all(pieces)
    assert split_pieces("one two", 5) == ["one ", "two"]


def test_an_llm_error_in_the_script_is_raised_in_its_turn() -> None:
    model = ScriptedChatModel([LLMError("HTTP 429", retryable=True), "after the retry"])
    with pytest.raises(LLMError, match="429"):
        model.complete(ask("a"))
    assert model.complete(ask("a")).text == "after the retry"


def test_fail_until_recovered() -> None:
    model = ScriptedChatModel(["kept for later"])
    model.fail("chat model timed out")
    for _ in range(2):
        with pytest.raises(LLMError, match="timed out"):
            model.complete(ask("a"))
        with pytest.raises(LLMError, match="timed out"):
            streamed(model, ask("a"))
    assert len(model.calls) == 4
    model.recover()
    assert model.complete(ask("a")).text == "kept for later"  # failures consumed no reply


def test_fail_a_number_of_times() -> None:
    model = ScriptedChatModel(["ok"])
    model.fail(LLMError("HTTP 503", retryable=False), times=1)
    with pytest.raises(LLMError) as info:
        model.complete(ask("a"))
    assert info.value.retryable is False
    assert model.complete(ask("a")).text == "ok"


def test_fail_part_way_through_a_stream() -> None:
    model = ScriptedChatModel(["one two three four five six"])
    model.fail("connection reset", times=1, after_pieces=2)
    got, error = until_error(model)
    assert got == ["one two ", "three four "]
    assert error is not None and "reset" in str(error)
    assert model.remaining == 0  # the interrupted reply was used up


def test_fail_after_the_last_piece_still_raises_before_the_reply() -> None:
    model = ScriptedChatModel(["short"])
    model.fail("lost", after_pieces=10)
    got, error = until_error(model)
    assert got == ["short"]
    assert error is not None and "lost" in str(error)


def test_default_script_quotes_the_first_source_it_is_given() -> None:
    doc = make_doc(
        "a1",
        ["Putin ready to help Tajiks", "Russia is ready to help Tajikistan.", "Share this story"],
        excluded={3},
    )
    documents = {"a1": doc}.get
    sources = build_sources([make_hit(doc, 2, 3)], documents)
    system = load_prompts(PROMPTS).render_answer(
        sources=render_sources(sources, documents), question="Who helps?", history="(none)"
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Who helps?"}]
    model = ScriptedChatModel()
    assert model.complete(messages).text == "Russia is ready to help Tajikistan. [1]"
    assert quote_first_source(messages) == ChatReply(text="Russia is ready to help Tajikistan. [1]")


def test_default_script_repeats_the_question_when_there_are_no_sources() -> None:
    model = ScriptedChatModel()
    condense = [{"role": "system", "content": "Rewrite it."}, ask("And the border?")[-1]]
    assert model.complete(condense).text == "And the border?"
    assert quote_first_source([]).text == ""


def test_concurrent_calls_get_distinct_replies() -> None:
    model = ScriptedChatModel([str(n) for n in range(200)])
    got: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        for _ in range(50):
            text = model.complete(ask("q")).text
            with lock:
                got.append(text)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(got, key=int) == [str(n) for n in range(200)]
    assert len(model.calls) == 200
