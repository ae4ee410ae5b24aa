"""The metrics decorators: built once, shared, each call counted by its own request's Metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from fakes.articles import make_doc, make_hit

from qa.errors import LLMError
from qa.observability.instrument import (
    MeteredChatModel,
    TimedAnswerer,
    TimedRetriever,
    instrument,
)
from qa.observability.metrics import Metrics, activate, deactivate
from qa.ports import Message
from qa.types import Answer, ChatReply, ChatUsage, Filters, Hit, Turn

DOC = make_doc("d", ["Title", "A line."])
HIT = make_hit(DOC, 1, 2)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def in_request(metrics: Metrics, call: Callable[[], object]) -> object:
    """``call`` with ``metrics`` active, as the API middleware does for a request."""
    token = activate(metrics)
    try:
        return call()
    finally:
        deactivate(token)


class RacingChat:
    """A ChatModel whose calls overlap: each waits for the other before returning, and
    (as the old adapter did) each leaves its usage on the shared instance too, so counting
    from shared state would give both calls the usage of whichever wrote last."""

    model = "fake-model"

    def __init__(self, calls: int) -> None:
        self._barrier = threading.Barrier(calls)
        self.last_usage: ChatUsage | None = None

    def _reply(self, messages: Sequence[Message]) -> ChatReply:
        n = int(messages[-1]["content"])
        usage = ChatUsage(prompt_tokens=n, completion_tokens=n + 1, total_tokens=2 * n + 1)
        self.last_usage = usage
        self._barrier.wait(timeout=10)  # the other call overwrites last_usage meanwhile
        return ChatReply(text=f"reply {n}", usage=usage)

    def complete(self, messages: Sequence[Message]) -> ChatReply:
        return self._reply(messages)

    def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
        reply = self._reply(messages)
        yield reply.text
        yield reply


@pytest.mark.parametrize("streaming", [False, True])
def test_concurrent_calls_each_count_their_own_usage(streaming: bool) -> None:
    chat = MeteredChatModel(RacingChat(calls=2))
    apps = {100: Metrics(), 200: Metrics()}

    def call(n: int) -> object:
        messages = [{"role": "user", "content": str(n)}]
        if streaming:
            return in_request(apps[n], lambda: list(chat.stream(messages)))
        return in_request(apps[n], lambda: chat.complete(messages))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(apps, pool.map(call, apps), strict=True))
    for n, metrics in apps.items():
        reply = results[n][-1] if streaming else results[n]  # type: ignore[index]
        assert reply == ChatReply(
            text=f"reply {n}",
            usage=ChatUsage(prompt_tokens=n, completion_tokens=n + 1, total_tokens=2 * n + 1),
        )
        assert sample(metrics, "qa_llm_tokens_total", kind="prompt") == n
        assert sample(metrics, "qa_llm_tokens_total", kind="completion") == n + 1


class _RateLimitError(Exception):
    status_code = 429


class FailingChat:
    model = "fake-model"

    def _fail(self) -> LLMError:
        try:
            raise _RateLimitError("slow down")
        except _RateLimitError as cause:
            error = LLMError("chat model returned HTTP 429", retryable=True)
            error.__cause__ = cause
            return error

    def complete(self, messages: Sequence[Message]) -> ChatReply:
        raise self._fail()

    def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
        yield "partial "
        raise self._fail()


def test_failures_are_counted_by_kind_and_reraised() -> None:
    chat = MeteredChatModel(FailingChat())
    metrics = Metrics()
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(LLMError):
        in_request(metrics, lambda: chat.complete(messages))
    with pytest.raises(LLMError):
        in_request(metrics, lambda: list(chat.stream(messages)))
    assert sample(metrics, "qa_llm_errors_total", kind="rate_limit") == 2
    assert chat.model == "fake-model"


def test_replies_without_usage_and_calls_outside_requests_count_nothing() -> None:
    class NoUsage:
        model = "m"

        def complete(self, messages: Sequence[Message]) -> ChatReply:
            return ChatReply(text="hi")

        def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
            yield "hi"
            yield ChatReply(text="hi")

    metrics = Metrics()
    chat = MeteredChatModel(NoUsage())
    assert in_request(metrics, lambda: chat.complete([])) == ChatReply(text="hi")
    assert in_request(metrics, lambda: list(chat.stream([]))) == ["hi", ChatReply(text="hi")]
    assert sample(metrics, "qa_llm_tokens_total", kind="prompt") == 0
    racing = MeteredChatModel(RacingChat(calls=1))
    assert racing.complete([{"role": "user", "content": "5"}]).text == "reply 5"  # no app


class FixedRetriever:
    def search(
        self, query: str, k: int, filters: Filters | None = None, *, as_of: date | None = None
    ) -> list[Hit]:
        return [HIT][:k]


class FixedAnswerer:
    def __init__(self) -> None:
        self.answer_ = Answer(answer="A line. [1]", answerable=True, mode="extractive")

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer:
        return self.answer_

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        yield "A line. "
        yield "[1]"
        yield self.answer_


def test_one_decorated_pair_reports_to_whichever_app_serves_the_request() -> None:
    retriever, answerer = instrument(FixedRetriever(), FixedAnswerer())
    assert isinstance(retriever, TimedRetriever) and isinstance(answerer, TimedAnswerer)
    one, two = Metrics(), Metrics()
    assert in_request(one, lambda: retriever.search("q", 5)) == [HIT]
    in_request(one, lambda: answerer.answer("q", [HIT], []))
    items = in_request(two, lambda: list(answerer.stream("q", [HIT], [])))
    assert items == ["A line. ", "[1]", FixedAnswerer().answer_]
    assert sample(one, "qa_retrieval_duration_seconds_count") == 1
    assert sample(two, "qa_retrieval_duration_seconds_count") == 0
    for metrics in (one, two):
        assert sample(metrics, "qa_answer_duration_seconds_count", mode="extractive") == 1
        labels = {"mode": "extractive", "answerable": "true", "degraded": "false"}
        assert sample(metrics, "qa_answers_total", **labels) == 1
    # Outside any request (the CLI) the decorators only pass calls through.
    assert retriever.search("q", 1) == [HIT]
    assert answerer.answer("q", [HIT], []).answerable
