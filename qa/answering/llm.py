"""LLM answers: numbered, delimited sources in; claims checked against them on the way out."""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Iterator, Sequence

from qa.answering.citations import (
    ABSTAIN_TEXT,
    SupportFn,
    is_abstention,
    parse_markers,
    resolve_citations,
)
from qa.answering.extractive import ExtractiveAnswerer, abstain
from qa.answering.sentences import DocumentLookup, EvidencePassage, build_sources, memoize
from qa.errors import LLMError
from qa.ports import Answerer, ChatModel
from qa.prompts import Prompts
from qa.types import Answer, Hit, Turn

logger = logging.getLogger(__name__)

HISTORY_TURNS = 4
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
# Untrusted text must not be able to close (or open) the block it is quoted in.
# "< /source", "</ source", "<\tsource" too: models read those as tags as well.
_TAG = re.compile(r"<\s*(/?)\s*(source|history)", re.IGNORECASE)


def _inert(text: str) -> str:
    return _TAG.sub(r"&lt;\1\2", text)


def render_sources(sources: Sequence[EvidencePassage], documents: DocumentLookup) -> str:
    """Each source as a ``<source n=...>`` block of its kept lines, numbered as in the file."""
    blocks = []
    for source in sources:
        hit = source.hit
        doc = documents(hit.doc_id)
        if doc is None:
            continue
        lines = [
            f"{n}: {_inert(line)}"
            for n, line in doc.line_text(hit.line_start, hit.line_end)
            if n not in doc.excluded and line.strip()
        ]
        title = html.escape(hit.title, quote=True)
        blocks.append(
            f'<source n="{source.n}" title="{title}" lines="{hit.line_start}-{hit.line_end}">\n'
            + "\n".join(lines)
            + "\n</source>"
        )
    return "\n\n".join(blocks)


def render_history(history: Sequence[Turn]) -> str:
    """The last turns as plain User/Assistant lines (old markers removed)."""
    lines = []
    for turn in history[-HISTORY_TURNS:]:
        lines.append(f"User: {_inert(turn.question)}")
        lines.append(f"Assistant: {_inert(_MARKER.sub('', turn.answer))}")
    return "\n".join(lines) or "(none)"


class LLMAnswerer:
    """Answers with a chat model over the retrieved sources; extractive when it fails."""

    def __init__(
        self,
        chat: ChatModel,
        fallback: ExtractiveAnswerer,
        documents: DocumentLookup,
        prompts: Prompts,
        *,
        fallback_answerer: Answerer | None = None,
    ) -> None:
        """``fallback`` ranks the evidence (both modes start from the same ranking), checks
        that claims are supported (with the same embeddings cache), and answers when the
        LLM fails (through ``fallback_answerer`` when given: the same answers, decorated)."""
        self.chat = chat
        self.fallback = fallback
        self.fallback_answerer: Answerer = fallback_answerer or fallback
        self.documents = documents
        self.prompts = prompts

    def _prepare(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> tuple[DocumentLookup, list[EvidencePassage], list[dict[str, str]] | None, float]:
        """Sources, messages and the evidence's confidence; no messages when the evidence
        is too weak to ask at all."""
        documents = memoize(self.documents)
        sources = build_sources(hits, documents)
        ranked = self.fallback.rank(question, sources, documents)
        confidence = self.fallback.confidence(ranked)
        if not ranked or confidence < self.fallback.threshold:
            logger.info("evidence below threshold; not calling the LLM")
            return documents, sources, None, confidence
        system = self.prompts.render_answer(
            sources=render_sources(sources, documents),
            question=question,
            history=render_history(history),
        )
        return (
            documents,
            sources,
            [
                {"role": "system", "content": system},
                {"role": "user", "content": question},
            ],
            confidence,
        )

    def _finish(
        self,
        reply: str,
        sources: Sequence[EvidencePassage],
        documents: DocumentLookup,
        confidence: float,
    ) -> Answer:
        """The reply with only verified claims and citations; ``confidence`` is the
        evidence's (the chance that the best retrieved sentence answers)."""
        confidence = round(confidence, 4)
        if is_abstention(reply) and not any(ns for _, ns in parse_markers(reply)):
            return abstain("llm", confidence)
        support: SupportFn = self.fallback.support
        text, citations, dropped = resolve_citations(reply, sources, documents, support_fn=support)
        if dropped:
            logger.info("dropped %d unverifiable citation(s) or claim(s)", dropped)
        if not citations:
            return abstain("llm", confidence).model_copy(update={"dropped_citations": dropped})
        return Answer(
            answer=text,
            answerable=True,
            citations=citations,
            mode="llm",
            dropped_citations=dropped,
            confidence=confidence,
        )

    def _degraded(self, answer: Answer, exc: LLMError) -> Answer:
        logger.warning("LLM failed (%s); answering extractively", exc)
        reason = f"LLM unavailable ({exc}); answered from the retrieved sentences"
        return answer.model_copy(update={"degraded": True, "degraded_reason": reason})

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer:
        """A cited LLM answer, an abstention, or (LLM failing) a degraded extractive one."""
        documents, sources, messages, confidence = self._prepare(question, hits, history)
        if messages is None:
            return abstain("llm", round(confidence, 4))
        started = time.perf_counter()
        try:
            reply = self.chat.complete(messages)
        except LLMError as exc:
            return self._degraded(self.fallback_answerer.answer(question, hits, history), exc)
        answer = self._finish(reply.text, sources, documents, confidence)
        elapsed = (time.perf_counter() - started) * 1000
        return answer.model_copy(update={"timings_ms": {"llm": elapsed}})

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        """The model's text deltas, then the verified Answer (authoritative: claims that
        failed verification are missing from it though they were streamed)."""
        documents, sources, messages, confidence = self._prepare(question, hits, history)
        if messages is None:
            yield ABSTAIN_TEXT
            yield abstain("llm", round(confidence, 4))
            return
        parts: list[str] = []
        try:
            for delta in self.chat.stream(messages):
                if isinstance(delta, str):  # the last item is the whole reply with usage
                    parts.append(delta)
                    yield delta
        except LLMError as exc:
            for item in self.fallback_answerer.stream(question, hits, history):
                if isinstance(item, Answer):
                    yield self._degraded(item, exc)
                elif not parts:
                    yield item
            return
        yield self._finish("".join(parts), sources, documents, confidence)

    def condense(self, question: str, history: Sequence[Turn]) -> str | None:
        """The follow-up ``question`` rewritten to stand alone, using the conversation; None
        when the model fails or replies with something else than a question's length."""
        if not history:
            return question
        system = self.prompts.render_condense(history=render_history(history), question=question)
        try:
            reply = self.chat.complete(
                [{"role": "system", "content": system}, {"role": "user", "content": question}]
            ).text
        except LLMError as exc:
            logger.warning("condensing failed (%s); searching with the previous question", exc)
            return None
        lines = [line.strip() for line in reply.splitlines() if line.strip()]
        standalone = lines[0].strip("\"'“”") if lines else ""
        standalone = re.sub(r"^(standalone question|question)\s*:\s*", "", standalone, flags=re.I)
        if not standalone or len(standalone) > max(4 * len(question), 500):
            return None
        return standalone
