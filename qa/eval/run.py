"""`qa eval`: run a labelled set through the service and print rows and totals."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Protocol

from qa.eval.scoring import (
    LabelledQuestion,
    QuestionScore,
    Totals,
    load_questions,
    score_question,
    totals,
)
from qa.types import Answer, Hit


class IngestSummary(Protocol):
    """What `qa eval --ingest` prints of an ingestion report."""

    def summary(self) -> str: ...


class EvalService(Protocol):
    """The part of QAService that an evaluation run uses."""

    def search(
        self, query: str, top_k: int | None = None, *, as_of: date | None = None
    ) -> list[Hit]: ...

    def ask(self, question: str, *, as_of: date | None = None) -> Answer: ...

    def ingest_paths(self, paths: Sequence[Path]) -> IngestSummary: ...


def _fmt(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 100:5.1f}%"


def _mark(value: bool | None) -> str:
    return "-" if value is None else ("y" if value else "n")


def evaluate(
    service: EvalService, questions: list[LabelledQuestion], k: int
) -> list[QuestionScore]:
    rows = []
    for q in questions:
        # A question with an as_of is asked on that day (realtimeqa-dev's all are).
        hits = service.search(q.question, top_k=k, as_of=q.as_of)
        answer = service.ask(q.question, as_of=q.as_of)
        rows.append(score_question(q, hits, answer))
    return rows


def print_report(rows: list[QuestionScore], total: Totals, k: int, quiet: bool) -> None:
    if not quiet:
        print(
            f"{'id':<8} {'ans':>3} {'hit':>3} {'match':>5} {'cites':>5} {'prec':>4} "
            f"{'rec':>3} {'abst':>4} {'1st':>3}  answer"
        )
        for r in rows:
            print(
                f"{r.id:<8} {_mark(r.answerable):>3} {_mark(r.hit if r.answerable else None):>3} "
                f"{_mark(r.answer_match):>5} {r.citations:>5} {r.precise:>4} "
                f"{_mark(r.recalled):>3} {_mark(r.abstained):>4} {_mark(r.first_exact):>3}  "
                f"{r.answer[:70]!r}"
            )
    print(f"questions             {total.questions}")
    print(f"retrieval hit@{k:<7} {_fmt(total.hit_at_k)}")
    print(f"answer match          {_fmt(total.answer_match)}")
    print(f"citation precision    {_fmt(total.citation_precision)}")
    print(f"citation recall       {_fmt(total.citation_recall)}")
    print(f"first citation exact  {_fmt(total.first_citation_exact)}")
    print(f"abstention            {_fmt(total.abstention)}  (unanswerable that abstained)")
    print(f"false abstention      {_fmt(total.false_abstention)}  (answerable that abstained)")
    print(f"forbidden citations   {total.forbidden_citations}")


def run_eval(args: argparse.Namespace, service: EvalService) -> int:
    questions = load_questions(args.file)
    if args.ingest:
        report = service.ingest_paths(args.ingest)
        if not args.json:
            print(f"ingest: {report.summary()}")
    rows = evaluate(service, questions, args.k)
    total = totals(rows)
    if args.json:
        print(json.dumps({"rows": [r.row() for r in rows], "totals": asdict(total)}))
    else:
        print_report(rows, total, args.k, args.quiet)
    checks = {
        "hit": (args.min_hit, total.hit_at_k),
        "answer-match": (args.min_answer_match, total.answer_match),
        "precision": (args.min_precision, total.citation_precision),
        "recall": (args.min_recall, total.citation_recall),
        "abstention": (args.min_abstention, total.abstention),
    }
    failed = [
        f"{name} {value if value is not None else 'n/a'} < {minimum}"
        for name, (minimum, value) in checks.items()
        if minimum is not None and (value is None or value < minimum)
    ]
    if failed:
        print("below threshold: " + ", ".join(failed))
        return 1
    return 0
