"""Score a labelled question set (format of shared/eval/README.md) against the service."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError

from qa.errors import InputError
from qa.timeframe import AsOf
from qa.types import Answer, Citation, Hit

M = TypeVar("M", bound=BaseModel)


class Evidence(BaseModel):
    source: str
    lines: list[int]


class LabelledQuestion(BaseModel):
    id: str
    question: str
    answerable: bool
    must_include: list[list[str]] = []
    evidence: list[Evidence] = []
    evidence_mode: str = "any"
    forbidden_evidence: list[Evidence] = []
    as_of: AsOf | None = None  # the day it is asked on: answer from what was known then


def load_labelled(path: Path, model: type[M], noun: str) -> list[M]:
    """Parse a JSONL file of ``model`` records; a bad line is an InputError naming it."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    out = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(model.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            if isinstance(exc, ValidationError):
                first = "; ".join(str(e["msg"]) for e in exc.errors()) or first
            raise InputError(f"{path}:{number}: not a labelled {noun} ({first})") from exc
    if not out:
        raise InputError(f"{path}: no {noun}s")
    return out


def load_questions(path: Path) -> list[LabelledQuestion]:
    """Parse a JSONL question file; a bad line is an InputError naming it."""
    return load_labelled(path, LabelledQuestion, "question")


def _overlaps(source: str, start: int, end: int, evidence: Iterable[Evidence]) -> bool:
    return any(e.source == source and any(start <= n <= end for n in e.lines) for e in evidence)


def _cites(citations: Sequence[Citation], item: Evidence) -> bool:
    return any(
        c.source == item.source and any(c.line_start <= n <= c.line_end for n in item.lines)
        for c in citations
    )


@dataclass
class QuestionScore:
    """One row of the report."""

    id: str
    answerable: bool
    hit: bool
    answer_match: bool | None
    citations: int
    precise: int
    recalled: bool | None
    abstained: bool
    first_exact: bool | None
    forbidden: int
    answer: str = ""
    confidence: float | None = None

    def row(self) -> dict[str, Any]:
        return self.__dict__.copy()


def score_question(q: LabelledQuestion, hits: Sequence[Hit], answer: Answer) -> QuestionScore:
    """Score one answer (and the passages retrieved for its question)."""
    hit = any(_overlaps(h.source, h.line_start, h.line_end, q.evidence) for h in hits)
    text = answer.answer.lower()
    match: bool | None = None
    if q.answerable and q.must_include:
        match = all(any(s.lower() in text for s in group) for group in q.must_include)
    cits = answer.citations
    precise = sum(_overlaps(c.source, c.line_start, c.line_end, q.evidence) for c in cits)
    recalled: bool | None = None
    first_exact: bool | None = None
    if q.answerable:
        found = [_cites(cits, e) for e in q.evidence]
        recalled = all(found) if q.evidence_mode == "all" else any(found)
        first_exact = bool(cits) and any(
            e.source == cits[0].source
            and cits[0].line_start == cits[0].line_end
            and cits[0].line_start in e.lines
            for e in q.evidence
        )
    forbidden = sum(
        _overlaps(c.source, c.line_start, c.line_end, q.forbidden_evidence) for c in cits
    )
    return QuestionScore(
        id=q.id,
        answerable=q.answerable,
        hit=hit,
        answer_match=match,
        citations=len(cits),
        precise=precise,
        recalled=recalled,
        abstained=not answer.answerable and not cits,
        first_exact=first_exact,
        forbidden=forbidden,
        answer=answer.answer,
        confidence=answer.confidence,
    )


@dataclass
class Totals:
    """Aggregates over a run (fractions in [0, 1]; None when nothing to measure)."""

    questions: int = 0
    hit_at_k: float | None = None
    answer_match: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    first_citation_exact: float | None = None
    abstention: float | None = None
    false_abstention: float | None = None
    forbidden_citations: int = 0
    #: How well ``confidence`` ranks answerable above unanswerable questions (ROC AUC), and
    #: questions whose first citation is exactly right above the rest: None without both.
    confidence_auc: float | None = None
    confidence_auc_first: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


def _share(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def ranking_auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """ROC AUC: the chance that a random positive scores above a random negative (ties
    count half); None when either side is empty."""
    if not positives or not negatives:
        return None
    pos = np.asarray(positives, dtype=np.float64)[:, None]
    neg = np.asarray(negatives, dtype=np.float64)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def _confidence_aucs(rows: Sequence[QuestionScore]) -> tuple[float | None, float | None]:
    conf = [(r, r.confidence) for r in rows if r.confidence is not None]
    answerable = ranking_auc(
        [c for r, c in conf if r.answerable], [c for r, c in conf if not r.answerable]
    )
    right = [c for r, c in conf if r.answerable and r.first_exact]
    rest = [c for r, c in conf if not (r.answerable and r.first_exact)]
    return answerable, ranking_auc(right, rest)


def totals(rows: Sequence[QuestionScore]) -> Totals:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    shown = sum(r.citations for r in rows)
    auc, auc_first = _confidence_aucs(rows)
    return Totals(
        questions=len(rows),
        hit_at_k=_share([r.hit for r in answerable]),
        answer_match=_share([r.answer_match for r in answerable if r.answer_match is not None]),
        citation_precision=(sum(r.precise for r in rows) / shown) if shown else None,
        citation_recall=_share([bool(r.recalled) for r in answerable]),
        first_citation_exact=_share([bool(r.first_exact) for r in answerable]),
        abstention=_share([r.abstained for r in unanswerable]),
        false_abstention=_share([r.abstained for r in answerable]),
        forbidden_citations=sum(r.forbidden for r in rows),
        confidence_auc=auc,
        confidence_auc_first=auc_first,
    )
