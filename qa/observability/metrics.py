"""Prometheus metrics: one registry per app, reached by the lower layers through a contextvar."""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest

from qa.types import Answer, ChatUsage

__all__ = [
    "CONTENT_TYPE_LATEST",
    "Metrics",
    "activate",
    "current_metrics",
    "deactivate",
    "llm_error_kind",
    "record_ingested",
    "record_llm_error",
    "record_llm_tokens",
    "record_llm_usage",
]

#: Seconds; retrieval and extractive answers take milliseconds, LLM answers seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


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
        """One answer given after ``seconds`` of generation, by mode and degradation."""
        self.answer_latency.labels(answer.mode).observe(seconds)
        self.answers.labels(
            answer.mode, str(answer.answerable).lower(), str(answer.degraded).lower()
        ).inc()


# The app's middleware activates its Metrics for the request; threadpool workers and
# streaming tasks copy the context, so the decorators of qa/observability/instrument.py,
# built once, and the service layers below report to the right app.
_current: ContextVar[Metrics | None] = ContextVar("qa_metrics", default=None)


def activate(metrics: Metrics) -> Token[Metrics | None]:
    return _current.set(metrics)


def deactivate(token: Token[Metrics | None]) -> None:
    _current.reset(token)


def current_metrics() -> Metrics | None:
    """The Metrics of the app serving this request; None outside requests (CLI)."""
    return _current.get()


def record_llm_tokens(n: int, kind: Literal["prompt", "completion"] = "completion") -> None:
    """Count ``n`` chat-model tokens of one kind."""
    metrics = _current.get()
    if metrics is not None and n > 0:
        metrics.llm_tokens.labels(kind).inc(n)


def record_llm_usage(usage: ChatUsage | None) -> None:
    """Count the tokens of one chat-model call, from the usage its reply carries."""
    if usage is not None:
        record_llm_tokens(usage.prompt_tokens, "prompt")
        record_llm_tokens(usage.completion_tokens, "completion")


def record_llm_error(kind: str) -> None:
    """Count one chat-model failure (e.g. ``timeout``, ``rate_limit``, ``server_error``)."""
    metrics = _current.get()
    if metrics is not None:
        # Labels must stay a small set: a caller passing free text still cannot blow it up.
        metrics.llm_errors.labels(kind[:40] or "unknown").inc()


def record_ingested(documents: int, chunks: int) -> None:
    """Count documents and chunks written to the store (no-op outside requests)."""
    metrics = _current.get()
    if metrics is not None:
        metrics.ingested_documents.inc(documents)
        metrics.ingested_chunks.inc(chunks)


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
