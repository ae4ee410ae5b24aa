"""Typed decorators that time retrieval and answers and meter the chat model, built once."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import date

from qa.errors import LLMError
from qa.observability.metrics import (
    current_metrics,
    llm_error_kind,
    record_llm_error,
    record_llm_usage,
)
from qa.ports import Answerer, ChatModel, Message, Retriever
from qa.types import Answer, ChatReply, Filters, Hit, Turn

__all__ = ["MeteredChatModel", "TimedAnswerer", "TimedRetriever", "instrument"]

# Each decorator is built once, at wiring, and shared by every app and request: it keeps no
# per-call state and reports to ``current_metrics()``, the Metrics of the app serving the
# request in progress (None outside requests, e.g. the CLI: then nothing is recorded).


class TimedRetriever:
    """A Retriever that times every search (``/v1/search`` and the retrieval step of ask)."""

    def __init__(self, inner: Retriever) -> None:
        self._inner = inner

    def search(
        self, query: str, k: int, filters: Filters | None = None, *, as_of: date | None = None
    ) -> list[Hit]:
        started = time.perf_counter()
        try:
            return self._inner.search(query, k, filters, as_of=as_of)
        finally:
            metrics = current_metrics()
            if metrics is not None:
                metrics.retrieval_latency.observe(time.perf_counter() - started)


class TimedAnswerer:
    """An Answerer that times answer generation and counts answers by mode and degradation."""

    def __init__(self, inner: Answerer) -> None:
        self._inner = inner

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer:
        started = time.perf_counter()
        answer = self._inner.answer(question, hits, history)
        _observe(answer, started)
        return answer

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        """The inner stream unchanged; the final Answer is measured when it arrives."""
        started = time.perf_counter()
        for item in self._inner.stream(question, hits, history):
            if isinstance(item, Answer):
                _observe(item, started)
            yield item


class MeteredChatModel:
    """A ChatModel that counts each call's tokens, from the reply it returns, and failures.

    The usage comes with the call's own ChatReply, never from state shared by the model, so
    concurrent requests each count their own tokens.
    """

    def __init__(self, inner: ChatModel) -> None:
        self._inner = inner

    @property
    def model(self) -> str:
        return self._inner.model

    def complete(self, messages: Sequence[Message]) -> ChatReply:
        try:
            reply = self._inner.complete(messages)
        except LLMError as exc:
            record_llm_error(llm_error_kind(exc))
            raise
        record_llm_usage(reply.usage)
        return reply

    def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
        """The inner stream unchanged; its last item, the whole reply, carries the usage."""
        try:
            for item in self._inner.stream(messages):
                if isinstance(item, ChatReply):
                    record_llm_usage(item.usage)
                yield item
        except LLMError as exc:
            record_llm_error(llm_error_kind(exc))
            raise


def instrument(retriever: Retriever, answerer: Answerer) -> tuple[Retriever, Answerer]:
    """The retriever and answerer with metrics; call once, when wiring the service.

    The chat model is metered apart (``MeteredChatModel``), before the LLM answerer and the
    condenser are built around it, so that condensing a follow-up is counted too.
    """
    return TimedRetriever(retriever), TimedAnswerer(answerer)


def _observe(answer: Answer, started: float) -> None:
    metrics = current_metrics()
    if metrics is not None:
        metrics.observe_answer(answer, time.perf_counter() - started)
