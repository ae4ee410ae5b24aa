"""Follow-up questions made searchable without an LLM (the LLM answerer rewrites them)."""

from __future__ import annotations

from collections.abc import Sequence

from qa.types import Turn


def naive_condense(question: str, history: Sequence[Turn]) -> str:
    """The previous (standalone) question, then the follow-up: enough for retrieval to find
    what "it" or "they" refers to."""
    if not history:
        return question
    previous = history[-1].standalone_question or history[-1].question
    return f"{previous} {question}"
