"""Offline answers: the retrieved sentences that best answer the question, each cited.

Sentences are ranked by the learned evidence model (qa/answering/evidence.py); the answerer
abstains when the calibrated confidence of the best one is below ``threshold``."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from qa.answering.citations import ABSTAIN_TEXT, attach_markers, citation_for, inert
from qa.answering.disagreement import sources_differ
from qa.answering.evidence import (
    QUANTITY,
    EvidenceModel,
    bag,
    features,
    gather,
    is_fragment,
    load_model,
    question_tokens,
)
from qa.answering.sentences import (
    DocumentLookup,
    EvidencePassage,
    VectorLookup,
    build_sources,
    memoize,
)
from qa.ports import Embedder, SentenceIndex, Vectors
from qa.text import Sentence, numbers
from qa.types import Answer, Citation, Document, Hit, Mode, SentenceVectors, Turn

# Extra sentences must clear the abstention bar themselves and have a logit within this of
# the best one's (on the cached dev-set candidates, wider margins only lowered citation
# precision on all three sets, and so did headlines and other fragments: bench/README.md)...
NEAR_BEST_LOGIT = 0.25
# ...or, giving another number from another document, a logit within CONFLICT_LOGIT of the
# best one's, and so the best sentence of their paragraph. (In logits, not confidences, so
# that refitting the calibration does not move it: 2.5 is about half the best sentence's
# confidence under the calibration these were measured with, bench/README.md.)
CONFLICT_LOGIT = 2.5
# Sentences this similar to one already chosen repeat it.
DUPLICATE_COSINE = 0.9
DUPLICATE_JACCARD = 0.6


@dataclass(frozen=True)
class Scored:
    """A candidate sentence with its source number, its score (the calibrated confidence
    that it answers: ``Answer.confidence`` when it is cited first), the evidence model's
    logit, and its embedding."""

    sentence: Sentence
    source: int
    score: float
    vector: Vectors
    logit: float = 0.0


def _repeats(candidate: Scored, chosen: Scored) -> bool:
    """Near-duplicates: the same fact worded (almost) the same way."""
    if float(candidate.vector @ chosen.vector) >= DUPLICATE_COSINE:
        return True
    a, b = bag(candidate.sentence.text), bag(chosen.sentence.text)
    return len(a & b) / max(len(a | b), 1) >= DUPLICATE_JACCARD


def abstain(mode: Mode = "extractive", confidence: float | None = None) -> Answer:
    """The plain "the articles don't say" answer: not answerable, nothing cited."""
    return Answer(answer=ABSTAIN_TEXT, answerable=False, mode=mode, confidence=confidence)


class ExtractiveAnswerer:
    """Answers with the best 1-3 retrieved sentences; abstains below ``threshold``."""

    def __init__(
        self,
        embedder: Embedder,
        documents: DocumentLookup,
        *,
        sentences: SentenceIndex | None = None,
        model: EvidenceModel | None = None,
        threshold: float | None = None,
        max_sentences: int = 3,
    ) -> None:
        """``embedder`` embeds the question and any sentence without a stored vector (wiring
        passes the cache that retrieval embedded the question with); ``sentences`` (the same
        store as ``documents``) holds the vectors made at ingest: an answer reads its
        documents and their vectors from it in one batch. ``model`` scores sentences
        (default: the shipped one, read now so that a broken install fails at startup);
        below ``threshold`` confidence (default: the model's) the answerer abstains."""
        self.embedder = embedder
        self.documents = documents
        self.sentences = sentences
        self.model = model if model is not None else load_model()
        self.threshold = self.model.threshold if threshold is None else threshold
        self.max_sentences = max_sentences

    def support(self, claim: str, sentences: Sequence[Sentence]) -> list[float]:
        """Cosine between ``claim`` and each sentence (the citations' ``support_fn``)."""
        rows = self.embedder.embed([claim, *(s.text for s in sentences)])
        return [float(x) for x in rows[1:] @ rows[0]]

    def read(self, hits: Sequence[Hit]) -> tuple[DocumentLookup, VectorLookup | None]:
        """Lookups of the documents of ``hits`` and their sentence vectors, read in one batch
        (others, e.g. a cited document's, are read alone when asked for, each once)."""
        alone = memoize(self.documents)
        if self.sentences is None:
            return alone, None
        read = self.sentences.documents_with_sentences([hit.doc_id for hit in hits])

        def documents(doc_id: str) -> Document | None:
            found = read.get(doc_id)
            return found[0] if found is not None else alone(doc_id)

        def vectors(doc_id: str, content_hash: str) -> SentenceVectors | None:
            found = read.get(doc_id)
            if found is not None and found[0].content_hash == content_hash:
                return found[1]
            assert self.sentences is not None
            return self.sentences.sentence_vectors(doc_id, content_hash)

        return documents, vectors

    def rank(
        self,
        question: str,
        sources: Sequence[EvidencePassage],
        documents: DocumentLookup | None = None,
        vectors: VectorLookup | None = None,
    ) -> list[Scored]:
        """Every candidate sentence of ``sources`` scored by the evidence model, best first
        (``vectors``: else the store's ``sentence_vectors``)."""
        if vectors is None and self.sentences is not None:
            vectors = self.sentences.sentence_vectors
        qvec, candidates = gather(
            question, sources, documents or self.documents, self.embedder, vectors
        )
        if not candidates:
            return []
        rows = features(question, qvec, candidates, question_tokens(self.embedder, question))
        logits = self.model.logits(rows)
        scored = [
            Scored(c.sentence, c.source, self.model.confidence(float(z)), c.vector, float(z))
            for c, z in zip(candidates, logits, strict=True)
        ]
        scored.sort(key=lambda s: s.logit, reverse=True)
        return scored

    def confidence(self, ranked: Sequence[Scored]) -> float:
        """The estimated chance that the best of ``ranked`` supports a correct answer."""
        return ranked[0].score if ranked else 0.0

    def score_sentences(self, question: str, hits: Sequence[Hit]) -> list[tuple[Sentence, float]]:
        """(sentence, combined score) for the candidate sentences of ``hits``, best first."""
        documents, vectors = self.read(hits)
        ranked = self.rank(question, build_sources(hits, documents), documents, vectors)
        return [(s.sentence, s.score) for s in ranked]

    def _select(self, question: str, ranked: Sequence[Scored]) -> list[Scored]:
        """The best sentence, then others nearly as good or giving a conflicting number."""
        best, asked = ranked[0], numbers(question)
        chosen = [best]
        paragraph: dict[tuple[str, int], float] = {}
        for c in ranked:
            for line in range(c.sentence.line_start, c.sentence.line_end + 1):
                key = (c.sentence.doc_id, line)
                paragraph[key] = max(paragraph.get(key, -math.inf), c.logit)
        for candidate in ranked[1:]:
            if len(chosen) >= self.max_sentences or candidate.score < self.threshold:
                break
            if any(_repeats(candidate, c) for c in chosen):
                continue
            if is_fragment(candidate.sentence.text):
                continue  # a headline adds nothing to the sentence it heads
            if candidate.logit >= best.logit - NEAR_BEST_LOGIT:
                chosen.append(candidate)
                continue
            # Another article giving another figure: show both rather than pick one.
            s = candidate.sentence
            given = set().union(*(numbers(c.sentence.text) for c in chosen)) - asked
            context = max(paragraph[(s.doc_id, n)] for n in range(s.line_start, s.line_end + 1))
            if (
                QUANTITY.search(question)
                and given
                and numbers(s.text) - asked - given
                and asked <= numbers(s.text)
                and context >= best.logit - CONFLICT_LOGIT
                and candidate.logit >= best.logit - CONFLICT_LOGIT
                and all(c.sentence.doc_id != s.doc_id for c in chosen)
            ):
                chosen.append(candidate)
        return chosen

    def _compose(
        self, chosen: Sequence[Scored], documents: DocumentLookup
    ) -> tuple[list[str], list[Citation]]:
        """Each sentence followed by its marker; sentences on the same lines share one."""
        groups: dict[tuple[str, int, int], list[Sentence]] = {}
        for c in chosen:
            s = c.sentence
            groups.setdefault((s.doc_id, s.line_start, s.line_end), []).append(s)
        numbering: dict[tuple[str, int, int], int] = {}
        citations = []
        for key, sentences in groups.items():
            doc = documents(key[0])
            citation = citation_for(len(numbering) + 1, sentences, doc) if doc else None
            if citation is not None:
                numbering[key] = citation.n
                citations.append(citation)
        pieces = []
        for c in chosen:
            s = c.sentence
            n = numbering.get((s.doc_id, s.line_start, s.line_end))
            text = inert(s.text)  # a document's own "[2]" or "</source>" is not ours
            if n is not None and text:
                pieces.append(attach_markers(text, [n]))
        return pieces, citations

    def _closest(self, ranked: Sequence[Scored], documents: DocumentLookup) -> Citation | None:
        """The best-ranked full sentence, quoted, for an abstention to show (not an answer)."""
        for c in ranked:
            if not is_fragment(c.sentence.text):
                doc = documents(c.sentence.doc_id)
                return citation_for(1, [c.sentence], doc) if doc is not None else None
        return None

    def respond(
        self, question: str, hits: Sequence[Hit]
    ) -> tuple[list[str], Answer, DocumentLookup]:
        """The answer's pieces (its sentences, each with its marker), the answer, and the
        documents it read (so a decorator need not read them again)."""
        documents, vectors = self.read(hits)
        ranked = self.rank(question, build_sources(hits, documents), documents, vectors)
        confidence = round(self.confidence(ranked), 4)
        if not ranked or confidence < self.threshold:
            closest = self._closest(ranked, documents)
            answer = abstain(confidence=confidence).model_copy(update={"closest": closest})
            return [ABSTAIN_TEXT], answer, documents
        chosen = self._select(question, ranked)
        pieces, citations = self._compose(chosen, documents)
        if not citations:
            return [ABSTAIN_TEXT], abstain(confidence=confidence), documents
        answer = Answer(
            answer=" ".join(pieces),
            answerable=True,
            citations=citations,
            confidence=confidence,
            sources_differ=sources_differ([c.sentence for c in chosen], question),
        )
        return pieces, answer, documents

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer:
        """The best sentences with verified citations, or an abstention."""
        del history  # the service condenses a follow-up into ``question`` beforehand
        return self.respond(question, hits)[1]

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        """The answer's sentences as text deltas, then the final Answer."""
        del history
        pieces, final, _ = self.respond(question, hits)
        for i, piece in enumerate(pieces):
            yield piece if i == 0 else f" {piece}"
        yield final
