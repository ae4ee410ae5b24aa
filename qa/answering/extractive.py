"""Offline answers: the retrieved sentences that best answer the question, each cited."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answering.citations import ABSTAIN_TEXT, attach_markers, citation_for
from qa.answering.sentences import DocumentLookup, Source, build_sources, memoize
from qa.embeddings.packing import unpack
from qa.ports import Embedder, SentenceIndex, Vectors
from qa.text import Sentence, numbers, terms
from qa.types import Answer, Citation, Hit, Mode, Turn

# Calibrated with bench/tune_extractive.py on shared/eval (seed questions and wikiqa-dev):
# the threshold sits between the seeds' answerable and unanswerable best-sentence scores,
# with a margin on both sides, and takes most of what a higher bar gains in abstention on
# wikiqa-dev for little false abstention (figures in bench/README.md).
DEFAULT_THRESHOLD = 0.45
# Weight of embedding cosine against idf-weighted lexical coverage in the combined score.
DENSE_WEIGHT = 0.6
# Bonus for a sentence holding a number when the question asks for a quantity or a date...
NUMBER_BONUS = 0.05
# ...and the factor for one that cannot answer it (no new number, no time expression).
ANSWER_TYPE_FACTOR = 0.85
# Headlines, datelines and other fragments without a full stop make poor answers.
FRAGMENT_FACTOR = 0.9
# Extra sentences must score at least this share of the best one and EXTRA_FLOOR...
NEAR_BEST = 0.85
EXTRA_FLOOR = 0.5
# ...or, giving another number from another document, this share for the best sentence of
# their paragraph and CONFLICT_FLOOR for themselves.
CONFLICT_SHARE = 0.6
CONFLICT_FLOOR = 0.5
# Sentences this similar to one already chosen repeat it.
DUPLICATE_COSINE = 0.9
DUPLICATE_JACCARD = 0.6
# Sentences embedded per question (the rest are ranked out by lexical coverage first; on
# shared/eval that scores the same as embedding all of them, for less work: bench/README.md),
# and the lexical handicap per retrieval rank of the passage a sentence comes from.
MAX_EMBEDDED = 8
SOURCE_PRIOR = 0.02

_QUANTITY = re.compile(
    r"\b(how (many|much|long|old|far|big|large|tall|high|often)|when|what (year|date|time)|"
    r"which (year|date)|percentage|number of)\b",
    re.IGNORECASE,
)
_TIME_QUESTION = re.compile(r"\b(when|what (year|date|time|day)|which (year|date|day))\b", re.I)
_TIME_WORDS = re.compile(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sept?(ember)?|"
    r"oct(ober)?|nov(ember)?|dec(ember)?|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday|yesterday|today|tomorrow|week|month|year|spring|summer|autumn|winter|century|"
    r"decade|ago|since|until|before|after|during)\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|twice|once)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<!^)\b[A-Z][\w'-]+")
_FULL_STOP = re.compile(r"[.!?][\"”'’)\]]*$")


@dataclass(frozen=True)
class Scored:
    """A candidate sentence with its source number, combined score and embedding."""

    sentence: Sentence
    source: int
    score: float
    vector: Vectors


def _bag(text: str) -> set[str]:
    return set(terms(text)) | {f"#{n}" for n in numbers(text)}


def _weights(question: str) -> dict[str, float]:
    # Names and numbers carry most of what a question is about.
    names = {t for name in _NAME.findall(question) for t in terms(name)}
    weights = {t: 1.5 if t in names else 1.0 for t in terms(question)}
    weights.update({f"#{n}": 1.5 for n in numbers(question)})
    return weights


def _repeats(candidate: Scored, chosen: Scored) -> bool:
    """Near-duplicates: the same fact worded (almost) the same way."""
    if float(candidate.vector @ chosen.vector) >= DUPLICATE_COSINE:
        return True
    a, b = _bag(candidate.sentence.text), _bag(chosen.sentence.text)
    return len(a & b) / max(len(a | b), 1) >= DUPLICATE_JACCARD


def abstain(mode: Mode = "extractive") -> Answer:
    """The plain "the articles don't say" answer: not answerable, nothing cited."""
    return Answer(answer=ABSTAIN_TEXT, answerable=False, mode=mode)


class ExtractiveAnswerer:
    """Answers with the best 1-3 retrieved sentences; abstains below ``threshold``."""

    def __init__(
        self,
        embedder: Embedder,
        documents: DocumentLookup,
        *,
        sentences: SentenceIndex | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        max_sentences: int = 3,
    ) -> None:
        """``embedder`` embeds the question and any sentence without a stored vector (wiring
        passes the cache that retrieval embedded the question with); ``sentences`` holds the
        vectors made at ingest."""
        self.embedder = embedder
        self.documents = documents
        self.sentences = sentences
        self.threshold = threshold
        self.max_sentences = max_sentences

    def support(self, claim: str, sentences: Sequence[Sentence]) -> list[float]:
        """Cosine between ``claim`` and each sentence (the citations' ``support_fn``)."""
        rows = self.embedder.embed([claim, *(s.text for s in sentences)])
        return [float(x) for x in rows[1:] @ rows[0]]

    def rank(
        self, question: str, sources: Sequence[Source], documents: DocumentLookup | None = None
    ) -> list[Scored]:
        """Every sentence of ``sources`` scored against ``question``, best first.

        score = DENSE_WEIGHT * cosine + (1 - DENSE_WEIGHT) * lexical, where lexical is the
        share of the question's idf mass (BM25 idf over the candidate sentences) that the
        sentence contains; plus NUMBER_BONUS, times FRAGMENT_FACTOR (see the constants).
        """
        pairs = [(s.n, sentence) for s in sources for sentence in s.sentences]
        if not pairs:
            return []
        bags = [_bag(sentence.text) for _, sentence in pairs]
        mass = {}
        for term, weight in _weights(question).items():
            df = sum(term in bag for bag in bags)
            mass[term] = weight * math.log(1 + (len(bags) - df + 0.5) / (df + 0.5))
        total = sum(mass.values())
        lexicals = [
            sum(m for t, m in mass.items() if t in bag) / total if total else 0.0 for bag in bags
        ]
        # Embedding sentences is most of an answer's cost: embed only the likeliest ones, by
        # lexical coverage with a prior for passages retrieval ranked higher.
        if len(pairs) > MAX_EMBEDDED:
            order = sorted(
                range(len(pairs)), key=lambda i: lexicals[i] - SOURCE_PRIOR * pairs[i][0]
            )
            keep = sorted(order[-int(MAX_EMBEDDED) :])
            pairs = [pairs[i] for i in keep]
            bags = [bags[i] for i in keep]
            lexicals = [lexicals[i] for i in keep]
        rows = self._sentence_vectors(question, [s for _, s in pairs], documents)
        dense = np.clip(rows[1:] @ rows[0], 0.0, 1.0)
        wants_number = bool(_QUANTITY.search(question))
        wants_time = bool(_TIME_QUESTION.search(question))
        asked = numbers(question)
        scored = []
        for (n, sentence), lexical, cosine, row in zip(
            pairs, lexicals, dense, rows[1:], strict=True
        ):
            score = DENSE_WEIGHT * float(cosine) + (1 - DENSE_WEIGHT) * lexical
            if wants_number:
                new_number = bool(numbers(sentence.text) - asked)
                if new_number or (wants_time and _TIME_WORDS.search(sentence.text)):
                    score += NUMBER_BONUS if new_number else 0.0
                elif not _NUMBER_WORDS.search(sentence.text):
                    score *= ANSWER_TYPE_FACTOR
            if not _FULL_STOP.search(sentence.text):
                score *= FRAGMENT_FACTOR
            scored.append(Scored(sentence, n, score, row))
        scored.sort(key=lambda s: s.score, reverse=True)
        return scored

    def _sentence_vectors(
        self, question: str, sentences: Sequence[Sentence], documents: DocumentLookup | None
    ) -> Vectors:
        """The question's vector, then each sentence's: made at ingest when the document
        carries them (no model run), embedded now otherwise."""
        known: list[Vectors | None] = [None] * len(sentences)
        if documents is not None and self.sentences is not None:
            packed: dict[str, dict[tuple[int, int], Vectors]] = {}
            for i, s in enumerate(sentences):
                if s.doc_id not in packed:
                    doc = documents(s.doc_id)
                    vectors = (
                        self.sentences.sentence_vectors(s.doc_id, doc.content_hash)
                        if doc is not None
                        else None
                    )
                    packed[s.doc_id] = unpack(vectors) if vectors is not None else {}
                known[i] = packed[s.doc_id].get((s.char_start, s.char_end))
        missing = [s.text for s, row in zip(sentences, known, strict=True) if row is None]
        embedded = iter(self.embedder.embed([question, *missing]))
        rows = [next(embedded)]
        rows.extend(row if row is not None else next(embedded) for row in known)
        return np.stack(rows).astype(np.float32)

    def score_sentences(self, question: str, hits: Sequence[Hit]) -> list[tuple[Sentence, float]]:
        """(sentence, combined score) for the candidate sentences of ``hits``, best first."""
        documents = memoize(self.documents)
        ranked = self.rank(question, build_sources(hits, documents), documents)
        return [(s.sentence, s.score) for s in ranked]

    def _select(self, question: str, ranked: Sequence[Scored]) -> list[Scored]:
        """The best sentence, then others nearly as good or giving a conflicting number."""
        best, asked = ranked[0], numbers(question)
        chosen = [best]
        paragraph: dict[tuple[str, int], float] = {}
        for c in ranked:
            for line in range(c.sentence.line_start, c.sentence.line_end + 1):
                key = (c.sentence.doc_id, line)
                paragraph[key] = max(paragraph.get(key, 0.0), c.score)
        for candidate in ranked[1:]:
            if len(chosen) >= self.max_sentences or candidate.score < self.threshold:
                break
            if any(_repeats(candidate, c) for c in chosen):
                continue
            if candidate.score < EXTRA_FLOOR:
                break
            if candidate.score >= NEAR_BEST * best.score:
                chosen.append(candidate)
                continue
            # Another article giving another figure: show both rather than pick one.
            s = candidate.sentence
            given = set().union(*(numbers(c.sentence.text) for c in chosen)) - asked
            context = max(paragraph[(s.doc_id, n)] for n in range(s.line_start, s.line_end + 1))
            if (
                _QUANTITY.search(question)
                and given
                and numbers(s.text) - asked - given
                and asked <= numbers(s.text)
                and context >= CONFLICT_SHARE * best.score
                and candidate.score >= CONFLICT_FLOOR * best.score
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
            if n is not None:
                pieces.append(attach_markers(" ".join(s.text.split()), [n]))
        return pieces, citations

    def _respond(self, question: str, hits: Sequence[Hit]) -> tuple[list[str], Answer]:
        documents = memoize(self.documents)
        ranked = self.rank(question, build_sources(hits, documents), documents)
        if not ranked or ranked[0].score < self.threshold:
            return [ABSTAIN_TEXT], abstain()
        pieces, citations = self._compose(self._select(question, ranked), documents)
        if not citations:
            return [ABSTAIN_TEXT], abstain()
        return pieces, Answer(answer=" ".join(pieces), answerable=True, citations=citations)

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer:
        """The best sentences with verified citations, or an abstention."""
        del history  # the service condenses a follow-up into ``question`` beforehand
        return self._respond(question, hits)[1]

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        """The answer's sentences as text deltas, then the final Answer."""
        del history
        pieces, final = self._respond(question, hits)
        for i, piece in enumerate(pieces):
            yield piece if i == 0 else f" {piece}"
        yield final
