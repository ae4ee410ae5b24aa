"""Follow-up questions: answered exactly as if asked alone when they stand alone; otherwise
searched with the conversation (rewritten by the LLM when there is one).

Whether a follow-up stands alone is measured, not guessed from its wording: it is searched
alone and together with the previous (standalone) question, and it stands alone when it
retrieves nearly as strongly on its own (``MIN_OWN_STRENGTH``) and has no pronoun pointing
back (``ANAPHORA``). Retrieval scores are comparable across queries in the default hybrid
retrieval (cosine plus BM25 scaled by the query's best score) and in dense retrieval.

A follow-up that needs the conversation is answered, without an LLM, from the passages
found with the previous question (ordered by reciprocal rank fusion with the follow-up's own
search), but read by the answerer as the user wrote it: the previous question finds the
passages, the follow-up's own words pick the sentence (the previous question's words would
pick the sentence that answered it). With an LLM, its rewrite is used when it keeps every
content word and number of the follow-up (and changed something).

Figures behind the constants: bench/README.md ("Follow-up questions").
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from qa.answering.condense import naive_condense
from qa.ports import Condenser, Retriever
from qa.retrieval import rrf
from qa.text import numbers, terms
from qa.types import Filters, Hit, Turn

log = logging.getLogger(__name__)

#: A follow-up stands alone when its best passage scores at least this share of the best
#: passage found with the previous question added (fitted on eval/conversations/seeds.jsonl).
MIN_OWN_STRENGTH = 0.7
#: Words that point back into the conversation; a follow-up holding one needs it.
ANAPHORA = re.compile(
    r"\b(he|she|it|its|they|them|their|theirs|his|him|her|hers|this|that|these|those|there)\b",
    re.IGNORECASE,
)
USE_ANAPHORA = True


@dataclass(frozen=True)
class Resolved:
    """How a question is answered: what was searched (recorded as the turn's standalone
    question), what the answerer reads, and the passages it reads from."""

    standalone: str
    question: str
    hits: list[Hit]
    condense_ms: float | None = None  # the LLM's time, when it was asked to rewrite


def own_strength(alone: Sequence[Hit], with_context: Sequence[Hit]) -> float:
    """The best score of the question's own search over that of the search with context."""
    if not with_context or with_context[0].score <= 0:
        return 1.0 if alone else 0.0
    if not alone:
        return 0.0
    return alone[0].score / with_context[0].score


def refers_back(question: str) -> bool:
    """Whether ``question`` holds a word pointing back into the conversation."""
    return bool(ANAPHORA.search(question))


def stands_alone(question: str, alone: Sequence[Hit], with_context: Sequence[Hit]) -> bool:
    """Whether ``question`` can be answered without the conversation."""
    if USE_ANAPHORA and refers_back(question):
        return False
    return own_strength(alone, with_context) >= MIN_OWN_STRENGTH


def keeps_content(question: str, rewrite: str) -> bool:
    """Whether ``rewrite`` still holds every content word (stemmed) and number of
    ``question``: a rewrite may add the conversation's subject, never drop the question's."""
    return set(terms(question)) <= set(terms(rewrite)) and numbers(question) <= numbers(rewrite)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def fuse(alone: Sequence[Hit], with_context: Sequence[Hit], k: int) -> list[Hit]:
    """The passages found with the context, ordered by reciprocal rank fusion with the
    question's own ranking (passages both searches found come first); the question's own
    passages only fill the places the context search left empty. A follow-up that needs the
    conversation is the one whose own search is not to be trusted alone."""
    by_id = {hit.chunk_id: hit for hit in [*alone, *with_context]}
    found = {hit.chunk_id for hit in with_context}
    ranked = rrf([[h.chunk_id for h in alone], [h.chunk_id for h in with_context]])
    ordered = [r for r in ranked if r.chunk_id in found] + [
        r for r in ranked if r.chunk_id not in found
    ]
    return [by_id[r.chunk_id].model_copy(update={"score": round(r.score, 6)}) for r in ordered[:k]]


class FollowUps:
    """Decides how a question asked inside a conversation is searched and read."""

    def __init__(self, retriever: Retriever, condense: Condenser | None = None) -> None:
        """``condense`` (the LLM's rewrite, None when it fails) is only asked for follow-ups
        that need the conversation."""
        self._retriever = retriever
        self._condense = condense

    def resolve(
        self,
        question: str,
        history: Sequence[Turn],
        k: int,
        filters: Filters | None = None,
        *,
        as_of: date | None = None,
    ) -> Resolved:
        alone = self._retriever.search(question, k, filters, as_of=as_of)
        if not history:
            return Resolved(question, question, alone)
        glued = naive_condense(question, history)
        with_context = self._retriever.search(glued, k, filters, as_of=as_of)
        if stands_alone(question, alone, with_context):
            log.debug("follow-up stands alone: %r", question)
            return Resolved(question, question, alone)
        condense_ms = None
        if self._condense is not None:
            started = time.perf_counter()
            rewrite = self._condense(question, history)
            condense_ms = (time.perf_counter() - started) * 1000
            # An unchanged rewrite adds nothing to what was measured: it needs the context.
            if rewrite and _words(rewrite) != _words(question) and keeps_content(question, rewrite):
                hits = self._retriever.search(rewrite, k, filters, as_of=as_of)
                return Resolved(rewrite, rewrite, hits, condense_ms)
            log.info("rewrite of a follow-up not used (unchanged, or lost its words): %r", rewrite)
        return Resolved(glued, question, fuse(alone, with_context, k), condense_ms)
