"""Answering: extractive (offline) or LLM answers, with citations verified against the store."""

from qa.answering.citations import (
    ABSTAIN_TEXT,
    SupportFn,
    parse_markers,
    resolve_citations,
    verify_citation,
)
from qa.answering.condense import naive_condense
from qa.answering.evidence import EvidenceModel, EvidenceModelError, load_model
from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.llm import LLMAnswerer
from qa.answering.sentences import EvidencePassage, build_sources
from qa.text import Sentence, sentences_for_hit

__all__ = [
    "ABSTAIN_TEXT",
    "EvidenceModel",
    "EvidenceModelError",
    "EvidencePassage",
    "ExtractiveAnswerer",
    "LLMAnswerer",
    "Sentence",
    "SupportFn",
    "build_sources",
    "load_model",
    "naive_condense",
    "parse_markers",
    "resolve_citations",
    "sentences_for_hit",
    "verify_citation",
]
