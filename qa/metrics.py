"""Prometheus metrics: one registry per app, reached by the lower layers through a contextvar."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar, Token
from typing import Any, Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest

from qa.errors import LLMError
from qa.types import Answer

__all__ = [
    "CONTENT_TYPE_LATEST",
    "Metrics",
    "activate",
    "current_metrics",
    "deactivate",
    "instrument_service",
    "record_ingested",
    "record_llm_error",
    "record_llm_tokens",
]

#: Seconds; retrieval and extractive answers take milliseconds, LLM answers seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_INSTRUMENTED = "_qa_metrics_instrumented"


class Metrics:
    """Every metric the service exports, in a registry of its own (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.http_latency = Histogram(
            "qa_http_request_duration_seconds",
            "HTTP request latency by route template, method and status (streams until done).",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.retrieval_latency = Histogram(
            "qa_retrieval_duration_seconds",
            "Hybrid retrieval time per query (search and ask).",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.answer_latency = Histogram(
            "qa_answer_duration_seconds",
            "Answer generation time after retrieval, by answer mode.",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.answers = Counter(
            "qa_answers", "Answers given.", ["mode", "answerable", "degraded"], registry=reg
        )
        self.llm_tokens = Counter(
            "qa_llm_tokens", "Tokens used by the chat model.", ["kind"], registry=reg
        )
        self.llm_errors = Counter(
            "qa_llm_errors", "Chat model failures, by kind.", ["kind"], registry=reg
        )
        self.ingested_documents = Counter(
            "qa_ingested_documents", "Documents written to the store.", registry=reg
        )
        self.ingested_chunks = Counter(
            "qa_ingested_chunks", "Chunks written to the store.", registry=reg
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return _generate_latest(self.registry)

    def observe_answer(self, answer: Answer, seconds: float) -> None:
        self.answer_latency.labels(answer.mode).observe(seconds)
        self.answers.labels(
            answer.mode, str(answer.answerable).lower(), str(answer.degraded).lower()
        ).inc()


# The app's middleware activates its Metrics for the request; threadpool workers and
# streaming tasks copy the context, so the service layers below report to the right app.
_current: ContextVar[Metrics | None] = ContextVar("qa_metrics", default=None)


def activate(metrics: Metrics) -> Token[Metrics | None]:
    return _current.set(metrics)


def deactivate(token: Token[Metrics | None]) -> None:
    _current.reset(token)


def current_metrics() -> Metrics | None:
    """The Metrics of the app serving this request; None outside requests (CLI)."""
    return _current.get()


def record_llm_tokens(n: int, kind: Literal["prompt", "completion"] = "completion") -> None:
    """Count ``n`` chat-model tokens; the LLM adapter calls this with the API's usage."""
    metrics = _current.get()
    if metrics is not None and n > 0:
        metrics.llm_tokens.labels(kind).inc(n)


def record_llm_error(kind: str) -> None:
    """Count one chat-model failure (e.g. ``timeout``, ``rate_limit``, ``server_error``)."""
    metrics = _current.get()
    if metrics is not None:
        # Labels must stay a small set: a caller passing free text still cannot blow it up.
        metrics.llm_errors.labels(kind[:40] or "unknown").inc()


def record_ingested(documents: int, chunks: int) -> None:
    metrics = _current.get()
    if metrics is not None:
        metrics.ingested_documents.inc(documents)
        metrics.ingested_chunks.inc(chunks)


class _Decorator:
    """Forwards every other attribute, read or written, to the wrapped object."""

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # Tests and benches tune e.g. ``service.retriever.mode``: it must reach the real one.
        setattr(self._inner, name, value)


class _TimedRetriever(_Decorator):
    """Times every retrieval (``/v1/search`` and the retrieval step of ``ask``)."""

    def search(self, query: str, k: int, filters: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return self._inner.search(query, k, filters)
        finally:
            metrics = _current.get()
            if metrics is not None:
                metrics.retrieval_latency.observe(time.perf_counter() - started)


class _TimedAnswerer(_Decorator):
    """Times answer generation and counts answers by mode and degradation."""

    def stream(self, question: str, hits: Sequence[Any], history: Sequence[Any]) -> Iterator[Any]:
        started = time.perf_counter()
        for item in self._inner.stream(question, hits, history):
            if isinstance(item, Answer):
                _observe(item, started)
            yield item

    def answer(self, question: str, hits: Sequence[Any], history: Sequence[Any]) -> Any:
        started = time.perf_counter()
        result = self._inner.answer(question, hits, history)
        if isinstance(result, Answer):
            _observe(result, started)
        return result


class _MeteredChat(_Decorator):
    """Counts the chat model's tokens (its ``last_usage``) and failures, by kind."""

    def complete(self, messages: Sequence[dict[str, str]]) -> Any:
        try:
            reply = self._inner.complete(messages)
        except LLMError as exc:
            record_llm_error(llm_error_kind(exc))
            raise
        self._count_usage(reply)
        return reply

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[Any]:
        try:
            for item in self._inner.stream(messages):
                if not isinstance(item, str):
                    self._count_usage(item)
                yield item
        except LLMError as exc:
            record_llm_error(llm_error_kind(exc))
            raise

    def _count_usage(self, reply: Any) -> None:
        usage = getattr(reply, "usage", None)
        if usage is not None:
            record_llm_tokens(usage.prompt_tokens, "prompt")
            record_llm_tokens(usage.completion_tokens, "completion")


def llm_error_kind(exc: BaseException) -> str:
    """A small label for an LLM failure, from the SDK error it wraps (no SDK import here)."""
    cause = exc.__cause__
    status = getattr(cause, "status_code", None)
    if isinstance(status, int):
        return (
            "rate_limit" if status == 429 else "server_error" if status >= 500 else "client_error"
        )
    name = type(cause).__name__ if cause is not None else ""
    if "Timeout" in name:
        return "timeout"
    if "Connection" in name:
        return "connection"
    return "other"


def _observe(answer: Answer, started: float) -> None:
    metrics = _current.get()
    if metrics is not None:
        metrics.observe_answer(answer, time.perf_counter() - started)


def _counting_ingest(inner: Callable[..., Any]) -> Callable[..., Any]:
    def ingest_documents(docs: Any, report: Any = None, progress: Any = None) -> Any:
        before = (report.documents, report.chunks) if report is not None else (0, 0)
        result = inner(docs, report, progress)
        record_ingested(result.documents - before[0], result.chunks - before[1])
        return result

    return ingest_documents


def instrument_service(service: Any) -> None:
    """Wrap the service's retriever, answerer, chat model and ingestion with observations.

    Decorating the collaborators keeps ``qa/service.py`` free of metrics code; calling this
    twice is harmless.
    """
    if service is None or getattr(service, _INSTRUMENTED, False):
        return
    chat = getattr(service._answerer, "chat", None)  # the LLM answerer's ChatModel
    if chat is not None:
        service._answerer.chat = _MeteredChat(chat)
    service._retriever = _TimedRetriever(service._retriever)
    service._answerer = _TimedAnswerer(service._answerer)
    # An instance attribute shadows the method, so add_records and ingest_paths count too.
    service.ingest_documents = _counting_ingest(service.ingest_documents)
    setattr(service, _INSTRUMENTED, True)
