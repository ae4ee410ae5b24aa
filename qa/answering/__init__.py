"""Answering: extractive (offline) or LLM answers, with citations verified against the store."""

from qa.answering.citations import (
    ABSTAIN_TEXT,
    SupportFn,
    parse_markers,
    resolve_citations,
    verify_citation,
)
from qa.answering.extractive import DEFAULT_THRESHOLD, ExtractiveAnswerer
from qa.answering.llm import LLMAnswerer, naive_condense
from qa.answering.sentences import Sentence, Source, build_sources, sentences_for_hit

__all__ = [
    "ABSTAIN_TEXT",
    "DEFAULT_THRESHOLD",
    "ExtractiveAnswerer",
    "LLMAnswerer",
    "Sentence",
    "Source",
    "SupportFn",
    "build_sources",
    "naive_condense",
    "parse_markers",
    "resolve_citations",
    "sentences_for_hit",
    "verify_citation",
]
