"""Evidence sentences: gather the candidates of the retrieved sources with their vectors, turn
each into a row of general features, and score them with a small learned model.

The model (``evidence_model.json`` beside this file, model card in ``evidence_model.md``) is
a logistic regression over the features named in the file: the estimated chance that a
sentence is the one that answers the question. Its ``calibration`` maps the best sentence's
logit to the chance that the first citation of an answer is right (``Answer.confidence``).
It was fitted with ``bench/evidence.py`` (figures in bench/README.md); applying it needs
numpy only.

Every feature is general: similarities from vectors made at ingest, lexical overlap with
IDF over the candidates, whether the sentence holds the kind of thing the question asks for
(a number, a time, a name), the retrieval rank and score of the passage, and the shape of
the line. None is keyed to a word of a particular question.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.answering.sentences import DocumentLookup, EvidencePassage, VectorLookup
from qa.embeddings.packing import unpack_rows, unpack_tokens
from qa.errors import ConfigError
from qa.ports import Embedder, TokenStates, Vectors, token_source
from qa.text import Sentence, numbers, terms

Matrix = npt.NDArray[np.float64]

#: Sentences embedded per question when the store holds no vectors for them (the rest are
#: ranked out by lexical coverage first); with vectors made at ingest every sentence counts.
MAX_EMBEDDED = 8
#: The lexical handicap per retrieval rank of the passage, for that pre-selection only.
SOURCE_PRIOR = 0.02

#: A question asking for a figure: how many/much..., when, or what a measure of something is
#: ("What is the population of X", "What was the cost of ...").
_MEASURE_QUESTION = (
    r"what(?:'s| is| was| are| were| will be)? (?:the )?(?:total |average |current )?"
    r"(population|area|size|length|height|width|depth|weight|price|cost|value|rate|speed|"
    r"distance|temperature|age|budget|revenue|salary|capacity|score|share|amount)\b"
)
QUANTITY = re.compile(
    r"\b(how (many|much|long|old|far|big|large|tall|high|often)|when|what (year|date|time)|"
    r"which (year|date)|percentage|number of|" + _MEASURE_QUESTION + ")",
    re.IGNORECASE,
)
#: What a "how many/much X" or "what is the <measure> of" question counts: X (up to four words,
#: cut at the verb) or the measure noun. A figure answers it only near those words.
_FOCUS_COUNT = re.compile(r"\bhow (?:many|much) ((?:[\w'-]+ ){0,3}[\w'-]+)", re.IGNORECASE)
_FOCUS_MEASURE = re.compile(r"\b" + _MEASURE_QUESTION, re.IGNORECASE)
_FOCUS_STOP = frozenset(
    [
        "did",
        "does",
        "do",
        "is",
        "was",
        "are",
        "were",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "of",
        "the",
        "a",
        "an",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "that",
        "who",
        "which",
        "there",
    ]
)
_FIGURE = re.compile(r"\d[\d,.]*|million|billion|thousand|hundred", re.IGNORECASE)
_WORD_OR_MARK = re.compile(r"[\w'-]+|\S")
#: Words either side of a figure that it is taken to quantify.
FIGURE_WINDOW = 4
_TIME_QUESTION = re.compile(r"\b(when|what (year|date|time|day)|which (year|date|day))\b", re.I)
_PERSON_QUESTION = re.compile(r"\b(who|whom|whose)\b", re.IGNORECASE)
_PLACE_QUESTION = re.compile(r"\bwhere\b|\b(what|which) (country|city|state|town|place)\b", re.I)
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
NAME = re.compile(r"(?<!^)\b[A-Z][\w'-]+")
_FULL_STOP = re.compile(r"[.!?][\"”'’)\]]*$")
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Candidate:
    """A sentence of a numbered source, with its vector and its neighbours' in the document
    (``None`` at the document's edges), and the centroid of the document's sentences."""

    sentence: Sentence
    source: int
    passage_score: float
    vector: Vectors
    previous: Vectors | None
    following: Vectors | None
    document: Vectors
    position: int
    tokens: TokenStates | None = None  # made at ingest (None: an older store, or embedded now)


# --------------------------------------------------------------------------- gathering


@dataclass(frozen=True)
class Facts:
    """What the features read from a sentence's text alone, worked out once per text (the
    same sentences come back in every answer from their passage, and the answerer asks for
    them again when it picks and words the answer)."""

    terms: frozenset[str]  # stemmed content words
    numbers: frozenset[str]
    bag: frozenset[str]  # terms and numbers (``#1037``)
    name_terms: tuple[str, ...]  # terms of its capitalised names (not the first word)
    has_time: bool  # a month, weekday, season... (_TIME_WORDS)
    has_number_word: bool  # "two", "thousands", "twice"...
    fragment: bool  # no full stop at the end
    length: float  # log(1 + words)


@functools.lru_cache(maxsize=4096)  # ~3 KB each (13 MB): the sentences of ~80 answers
def facts(text: str) -> Facts:
    """The ``Facts`` of ``text`` (cached: a pure function of the text)."""
    found = frozenset(numbers(text))
    words = frozenset(terms(text))
    return Facts(
        terms=words,
        numbers=found,
        bag=words | {f"#{n}" for n in found},
        name_terms=tuple(t for name in NAME.findall(text) for t in terms(name)),
        has_time=bool(_TIME_WORDS.search(text)),
        has_number_word=bool(_NUMBER_WORDS.search(text)),
        fragment=not _FULL_STOP.search(text),
        length=math.log1p(len(_WORDS.findall(text))),
    )


def bag(text: str) -> frozenset[str]:
    """Stemmed content words and numbers (``#1037``) of ``text``."""
    return facts(text).bag


def term_weights(question: str) -> dict[str, float]:
    """The question's terms; names and numbers weigh 1.5 (they carry most of what it asks)."""
    names = {t for name in NAME.findall(question) for t in terms(name)}
    weights = {t: 1.5 if t in names else 1.0 for t in terms(question)}
    weights.update({f"#{n}": 1.5 for n in numbers(question)})
    return weights


def coverage(question: str, bags: Sequence[AbstractSet[str]]) -> list[float]:
    """Each bag's share of the question's IDF mass (BM25 IDF over ``bags``)."""
    mass = {}
    for term, weight in term_weights(question).items():
        df = sum(term in b for b in bags)
        mass[term] = weight * math.log(1 + (len(bags) - df + 0.5) / (df + 0.5))
    total = sum(mass.values())
    return [sum(m for t, m in mass.items() if t in b) / total if total else 0.0 for b in bags]


def focus_terms(question: str) -> frozenset[str]:
    """The terms of what a counting or measuring question counts ("How many Afghan soldiers
    did ..." -> afghan, soldier; "What is the population of ..." -> popul); empty for any
    other question."""
    measure = _FOCUS_MEASURE.search(question)
    if measure:
        return frozenset(terms(measure.group(1)))
    count = _FOCUS_COUNT.search(question)
    if not count:
        return frozenset()
    words = []
    for word in count.group(1).split():
        if word.lower() in _FOCUS_STOP:
            break
        words.append(word)
    return frozenset(terms(" ".join(words)))


@functools.lru_cache(maxsize=4096)
def figure_near(text: str, focus: frozenset[str]) -> bool:
    """Some figure of ``text`` has a term of ``focus`` within FIGURE_WINDOW words: "1,037
    Afghan soldiers" quantifies soldiers, not a population."""
    words = _WORD_OR_MARK.findall(text)
    for i, word in enumerate(words):
        if _FIGURE.fullmatch(word):
            near = " ".join(words[max(0, i - FIGURE_WINDOW) : i + FIGURE_WINDOW + 1])
            if focus & set(terms(near)):
                return True
    return False


def is_fragment(text: str) -> bool:
    """No full stop at the end: a headline, dateline or caption rather than a sentence."""
    return facts(text).fragment


def _unit(vector: Vectors) -> Vectors:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class _Stored:
    """One document's vectors made at ingest, in document order."""

    def __init__(
        self,
        spans: Sequence[tuple[int, int]],
        rows: Vectors,
        tokens: Sequence[TokenStates] | None = None,
    ) -> None:
        self.rows = rows
        self.tokens = tokens
        self.index = {span: i for i, span in enumerate(spans)}
        self.centroid = _unit(rows.mean(axis=0)) if len(rows) else rows.sum(axis=0)

    def neighbours(self, i: int) -> tuple[Vectors | None, Vectors | None]:
        before = self.rows[i - 1] if i > 0 else None
        after = self.rows[i + 1] if i + 1 < len(self.rows) else None
        return before, after


def gather(
    question: str,
    sources: Sequence[EvidencePassage],
    documents: DocumentLookup,
    embedder: Embedder,
    vectors_of: VectorLookup | None,
) -> tuple[Vectors, list[Candidate]]:
    """The question's vector and every candidate sentence of ``sources`` with its vectors.

    Vectors come from the store (made at ingest) when it has them; sentences without one are
    embedded now, at most MAX_EMBEDDED of them (the likeliest by lexical coverage), and then
    take their neighbours and centroid from the other embedded sentences of their source.
    """
    stored: dict[str, _Stored | None] = {}
    pairs = [(s, sentence) for s in sources for sentence in s.sentences]
    # Each sentence's position in its source (``sentences.index`` compares whole records).
    positions = [i for s in sources for i in range(len(s.sentences))]
    found: list[tuple[_Stored, int] | None] = []
    for _, sentence in pairs:
        doc_id = sentence.doc_id
        if doc_id not in stored:
            stored[doc_id] = None
            doc = documents(doc_id)
            packed = (
                vectors_of(doc_id, doc.content_hash)
                if vectors_of is not None and doc is not None
                else None
            )
            if packed is not None and packed.spans:
                stored[doc_id] = _Stored(packed.spans, unpack_rows(packed), unpack_tokens(packed))
        vectors = stored[doc_id]
        row = vectors.index.get((sentence.char_start, sentence.char_end)) if vectors else None
        found.append((vectors, row) if vectors is not None and row is not None else None)
    missing = [i for i, f in enumerate(found) if f is None]
    if len(missing) > MAX_EMBEDDED:
        lexical = coverage(question, [bag(pairs[i][1].text) for i in missing])
        order = sorted(
            range(len(missing)), key=lambda j: lexical[j] - SOURCE_PRIOR * pairs[missing[j]][0].n
        )
        dropped = {missing[j] for j in order[: len(missing) - MAX_EMBEDDED]}
        keep = [i for i in range(len(pairs)) if i not in dropped]
        pairs = [pairs[i] for i in keep]
        positions = [positions[i] for i in keep]
        found = [found[i] for i in keep]
        missing = [i for i, f in enumerate(found) if f is None]
    embedded = embedder.embed([question, *(pairs[i][1].text for i in missing)])
    qvec = np.asarray(embedded[0], dtype=np.float32)
    fresh = {i: np.asarray(embedded[j + 1], dtype=np.float32) for j, i in enumerate(missing)}
    # Neighbours of embedded sentences: the adjacent candidates of the same source.
    by_source: dict[int, list[int]] = {}
    for i in missing:
        by_source.setdefault(pairs[i][0].n, []).append(i)
    candidates = []
    for i, (source, sentence) in enumerate(pairs):
        hit_score = float(source.hit.score)
        position = positions[i]
        location = found[i]
        if location is not None:
            vectors, row = location
            before, after = vectors.neighbours(row)
            candidates.append(
                Candidate(
                    sentence,
                    source.n,
                    hit_score,
                    vectors.rows[row],
                    before,
                    after,
                    vectors.centroid,
                    row,
                    vectors.tokens[row] if vectors.tokens is not None else None,
                )
            )
            continue
        group = by_source[source.n]
        at = group.index(i)
        before = fresh[group[at - 1]] if at > 0 else None
        after = fresh[group[at + 1]] if at + 1 < len(group) else None
        centroid = _unit(np.mean([fresh[j] for j in group], axis=0).astype(np.float32))
        candidates.append(
            Candidate(sentence, source.n, hit_score, fresh[i], before, after, centroid, position)
        )
    return qvec, candidates


def question_tokens(embedder: Embedder, question: str) -> TokenStates | None:
    """The question's token states when the embedder (or the one it wraps) gives them: the
    local MiniLM remembers them from embedding the question for retrieval."""
    source = token_source(embedder)
    if source is None:
        return None
    found = source.text_tokens(question)
    return found if len(found[0]) else None


def token_recall(question: TokenStates, candidates: Sequence[TokenStates | None]) -> Matrix:
    """Token alignment (BERTScore's recall): for each question token the best cosine with a
    token of the sentence, averaged with the token's IDF over the candidates (BM25's, on
    WordPiece ids). NaN for a candidate without token states (the model then counts the
    feature as average)."""
    q_ids, q_rows = question
    qv = _unit_rows(q_rows)
    bags = [frozenset(t[0].tolist()) if t is not None else frozenset() for t in candidates]
    n = len(bags)
    df = np.array([sum(t in b for b in bags) for t in q_ids.tolist()], dtype=np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    out = np.full(n, np.nan)
    for i, tokens in enumerate(candidates):
        if tokens is None or not len(tokens[0]) or not len(qv):
            continue
        best = (qv @ _unit_rows(tokens[1]).T).max(axis=1)
        out[i] = float((best * idf).sum() / max(float(idf.sum()), 1e-9))
    return out


def _unit_rows(rows: npt.NDArray[np.int8]) -> Matrix:
    matrix = rows.astype(np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: Matrix = matrix / np.clip(norms, 1e-12, None)
    return result


# --------------------------------------------------------------------------- features

#: Every feature ``features`` computes, in column order. A model uses a subset by name.
FEATURES: tuple[str, ...] = (
    "cos",  # cosine(question, sentence)
    "cos_prev",  # cosine(question, sentence + previous sentence), vectors summed
    "cos_next",  # cosine(question, sentence + next sentence)
    "cos_context",  # the mean of the three above
    "cos_doc",  # cosine(question, centroid of the document's sentences)
    "cos_gap",  # cos_context minus the best cos_context among the candidates
    "lexical",  # share of the question's IDF mass in the sentence
    "lexical_gap",  # lexical minus the best lexical among the candidates
    "names",  # share of the question's capitalised names found in the sentence
    "wants_number_has",  # the question asks how many/when, the sentence has a new figure
    "wants_number_lacks",  # ... and the sentence has no figure, number word or time word
    "wants_person_has",  # who/whom/whose, and the sentence names someone not in the question
    "wants_place_has",  # where/which country..., and a name not in the question
    "fragment",  # no full stop at the end (headline, dateline, caption)
    "length",  # log(1 + words)
    "source_rank",  # 1 / retrieval rank of the passage
    "passage_score",  # the passage's fused retrieval score
    "first_sentence",  # the first sentence of its document
    "tok_recall",  # token alignment with the question (token_recall); NaN without tokens
)


def _cos_with(q: Matrix, base: Matrix, other: Sequence[Vectors | None]) -> Matrix:
    """Cosine between ``q`` and each row of ``base`` plus its ``other`` (a missing one adds
    nothing), for all rows at once."""
    zero = np.zeros(base.shape[1], dtype=np.float32)
    rows = base + np.stack([zero if v is None else v for v in other]).astype(np.float64)
    norms = np.linalg.norm(rows, axis=1)
    norms[norms == 0] = 1.0
    result: Matrix = (rows @ q) / norms
    return result


def features(
    question: str,
    qvec: Vectors,
    candidates: Sequence[Candidate],
    qtokens: TokenStates | None = None,
) -> Matrix:
    """One row per candidate, one column per name of FEATURES (``tok_recall`` needs the
    question's token states, ``qtokens``, and the candidates')."""
    n = len(candidates)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if not n:
        return out
    q = np.asarray(qvec, dtype=np.float64)
    base = np.stack([c.vector for c in candidates]).astype(np.float64)
    cos = base @ q
    cos_prev = _cos_with(q, base, [c.previous for c in candidates])
    cos_next = _cos_with(q, base, [c.following for c in candidates])
    context = (cos + cos_prev + cos_next) / 3
    cos_doc = np.stack([c.document for c in candidates]).astype(np.float64) @ q
    known = [facts(c.sentence.text) for c in candidates]
    lexical = np.asarray(coverage(question, [f.bag for f in known]))
    names = {t for name in NAME.findall(question) for t in terms(name)}
    asked_numbers = numbers(question)
    wants_number = bool(QUANTITY.search(question))
    wants_time = bool(_TIME_QUESTION.search(question))
    wants_person = bool(_PERSON_QUESTION.search(question))
    wants_place = bool(_PLACE_QUESTION.search(question))
    question_terms = set(terms(question))

    def column(values: Sequence[float | bool]) -> Matrix:
        return np.asarray(values, dtype=np.float64)

    new_number = column([bool(f.numbers - asked_numbers) for f in known])
    has_time = column([f.has_time for f in known])
    has_figure = np.maximum(new_number, has_time * wants_time)
    # A figure that counts something else than what is asked does not fit the question.
    focus = focus_terms(question)
    unbound = (
        has_figure * column([not figure_near(c.sentence.text, focus) for c in candidates])
        if focus
        else np.zeros(n)
    )
    new_name = column([any(t not in question_terms for t in f.name_terms) for f in known])
    columns: dict[str, Matrix] = {
        "cos": cos,
        "cos_prev": cos_prev,
        "cos_next": cos_next,
        "cos_context": context,
        "cos_doc": cos_doc,
        "cos_gap": context - context.max(),
        "lexical": lexical,
        "lexical_gap": lexical - lexical.max(),
        "names": column([len(names & f.terms) / len(names) for f in known])
        if names
        else np.zeros(n),
        "wants_number_has": has_figure * (1 - unbound) * wants_number,
        "wants_number_lacks": np.maximum(
            (1 - has_figure) * (1 - column([f.has_number_word for f in known])), unbound
        )
        * wants_number,
        "wants_person_has": new_name * wants_person,
        "wants_place_has": new_name * wants_place,
        "fragment": column([f.fragment for f in known]),
        "length": column([f.length for f in known]),
        "source_rank": 1.0 / column([c.source for c in candidates]),
        "passage_score": column([c.passage_score for c in candidates]),
        "first_sentence": column([c.position == 0 for c in candidates]),
        "tok_recall": token_recall(qtokens, [c.tokens for c in candidates])
        if qtokens is not None
        else np.full(n, np.nan),
    }
    for j, name in enumerate(FEATURES):
        out[:, j] = columns[name]
    return out


# --------------------------------------------------------------------------- the model


class EvidenceModelError(ConfigError):
    """The shipped evidence model is missing or unreadable (a broken install)."""


def _sigmoid(x: Matrix | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


@dataclass(frozen=True)
class EvidenceModel:
    """A logistic regression over named features, with its confidence calibration.

    ``logit(x) = ((x - mean) / scale) @ coef + intercept`` for the features in ``names``;
    ``confidence = sigmoid(a * best_logit + b)`` (``calibration``).
    """

    names: tuple[str, ...]
    mean: Matrix
    scale: Matrix
    coef: Matrix
    intercept: float
    calibration: tuple[float, float]
    threshold: float
    columns: tuple[int, ...]
    info: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvidenceModel:
        names = tuple(data["features"])
        unknown = [n for n in names if n not in FEATURES]
        if unknown:
            raise ValueError(f"unknown features {unknown}")
        mean = np.asarray(data["mean"], dtype=np.float64)
        scale = np.asarray(data["scale"], dtype=np.float64)
        coef = np.asarray(data["coef"], dtype=np.float64)
        if not (mean.shape == scale.shape == coef.shape == (len(names),)):
            raise ValueError("features, mean, scale and coef differ in length")
        if not np.all(np.isfinite(np.concatenate([mean, scale, coef]))) or np.any(scale <= 0):
            raise ValueError("non-finite coefficients or a scale <= 0")
        a, b = (float(x) for x in data["calibration"])
        threshold = float(data["threshold"])
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold outside 0..1")
        return cls(
            names=names,
            mean=mean,
            scale=scale,
            coef=coef,
            intercept=float(data["intercept"]),
            calibration=(a, b),
            threshold=threshold,
            columns=tuple(FEATURES.index(n) for n in names),
            info={k: v for k, v in data.items() if k in ("trained_on", "version")},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.info,
            "features": list(self.names),
            "mean": [round(float(x), 6) for x in self.mean],
            "scale": [round(float(x), 6) for x in self.scale],
            "coef": [round(float(x), 6) for x in self.coef],
            "intercept": round(self.intercept, 6),
            "calibration": [round(x, 6) for x in self.calibration],
            "threshold": round(self.threshold, 4),
        }

    def logits(self, rows: Matrix) -> Matrix:
        """One logit per row of ``features`` output (all of FEATURES' columns)."""
        if not len(rows):
            return np.zeros(0)
        x = (rows[:, list(self.columns)] - self.mean) / self.scale
        # A feature that could not be computed (no token states in an older store) counts
        # as average, which is what a standardised 0 means.
        x = np.nan_to_num(x, nan=0.0)
        result: Matrix = x @ self.coef + self.intercept
        return result

    def confidence(self, best_logit: float) -> float:
        """Estimated chance that the best sentence (logit ``best_logit``) answers."""
        a, b = self.calibration
        return float(_sigmoid(a * best_logit + b))


MODEL_FILE = "evidence_model.json"


def load_model(path: Path | None = None) -> EvidenceModel:
    """The shipped model (or the one at ``path``); EvidenceModelError when it is missing or
    corrupt, so a broken install fails at startup, not at the first question."""
    where = str(path) if path else f"qa/answering/{MODEL_FILE}"
    try:
        if path is None:
            text = resources.files("qa.answering").joinpath(MODEL_FILE).read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        return EvidenceModel.from_dict(json.loads(text))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise EvidenceModelError(
            f"evidence model {where} is missing or corrupt ({exc}); reinstall qa"
        ) from exc
