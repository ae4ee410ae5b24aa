"""Follow-up questions made searchable without an LLM: the previous question in front."""

from __future__ import annotations

from collections.abc import Sequence

from qa.types import Turn

#: How much of the previous standalone question is kept (it carries the ones before it when
#: they were follow-ups too): enough for a few questions, not a whole long thread.
CONTEXT_CHARS = 300


def naive_condense(question: str, history: Sequence[Turn]) -> str:
    """The previous (standalone) question, then the follow-up: enough for retrieval to find
    what "it" or "they" refers to."""
    if not history:
        return question
    previous = history[-1].standalone_question or history[-1].question
    if len(previous) > CONTEXT_CHARS:
        tail = previous[-CONTEXT_CHARS:]
        previous = tail.split(" ", 1)[1] if " " in tail else tail
    return f"{previous} {question}"
