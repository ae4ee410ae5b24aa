"""`qa eval`: run a labelled set through the service and print rows and totals."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Protocol

from qa.eval.conversations import (
    ConversationService,
    FollowUpTotals,
    LabelledConversation,
    TurnScore,
    correct,
    evaluate_conversations,
    follow_up_totals,
    is_conversation_file,
    load_conversations,
)
from qa.eval.scoring import (
    LabelledQuestion,
    QuestionScore,
    Totals,
    load_questions,
    score_question,
    totals,
)
from qa.types import Answer, Hit, Turn


class IngestSummary(Protocol):
    """What `qa eval --ingest` prints of an ingestion report."""

    def summary(self) -> str: ...


class EvalService(Protocol):
    """The part of QAService that an evaluation run uses."""

    def search(
        self, query: str, top_k: int | None = None, *, as_of: date | None = None
    ) -> list[Hit]: ...

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        as_of: date | None = None,
    ) -> Answer: ...

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]: ...

    def ingest_paths(self, paths: Sequence[Path]) -> IngestSummary: ...


def _fmt(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 100:5.1f}%"


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


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
    print(
        f"confidence AUC        {_auc(total.confidence_auc)} (answerable vs not), "
        f"{_auc(total.confidence_auc_first)} (first citation exact vs not)"
    )


def print_follow_ups(rows: list[TurnScore], total: FollowUpTotals, quiet: bool) -> None:
    if not quiet:
        print(f"{'turn':<8} {'kind':<14} {'conv':>4} {'alone':>5} {'same':>4}  searched")
        for r in rows:
            alone = None if r.alone is None else correct(r.alone)
            print(
                f"{r.in_conversation.id:<8} {r.kind:<14} "
                f"{_mark(correct(r.in_conversation)):>4} {_mark(alone):>5} "
                f"{_mark(r.same_as_alone):>4}  {r.searched[:90]!r}"
            )
    print(f"conversations         {total.conversations} ({total.turns} turns)")
    print(
        f"follow-ups            {total.follow_ups} "
        f"({total.self_contained} self-contained, {total.dependent} dependent)"
    )
    print(
        f"follow-ups correct    {_fmt(total.in_conversation)} in conversation, "
        f"{_fmt(total.alone)} rewritten by hand and asked alone"
    )
    print(
        f"  self-contained      {_fmt(total.self_contained_in_conversation)} / "
        f"{_fmt(total.self_contained_alone)}   answered exactly as alone "
        f"{_fmt(total.same_as_alone)}"
    )
    print(
        f"  dependent           {_fmt(total.dependent_in_conversation)} / "
        f"{_fmt(total.dependent_alone)}"
    )
    print(f"first turns correct   {_fmt(total.first_turns)}")


def _evaluate_conversations(
    args: argparse.Namespace,
    service: ConversationService,
    conversations: list[LabelledConversation],
) -> tuple[list[QuestionScore], dict[str, object]]:
    """Every turn's score in its conversation, and the follow-up figures."""
    turns = evaluate_conversations(service, conversations, args.k)
    follow = follow_up_totals(turns)
    if not args.json:
        print_follow_ups(turns, follow, args.quiet)
    extra: dict[str, object] = {"turns": [t.row() for t in turns], "follow_ups": asdict(follow)}
    return [t.in_conversation for t in turns], extra


def run_eval(args: argparse.Namespace, service: EvalService) -> int:
    # Read the labelled file before ingesting, so a bad one fails at once.
    conversations = load_conversations(args.file) if is_conversation_file(args.file) else None
    questions = load_questions(args.file) if conversations is None else []
    if args.ingest:
        report = service.ingest_paths(args.ingest)
        if not args.json:
            print(f"ingest: {report.summary()}")
    extra: dict[str, object] = {}
    if conversations is None:
        rows = evaluate(service, questions, args.k)
    else:
        rows, extra = _evaluate_conversations(args, service, conversations)
    total = totals(rows)
    if args.json:
        print(json.dumps({"rows": [r.row() for r in rows], "totals": asdict(total), **extra}))
    else:
        print_report(rows, total, args.k, args.quiet or conversations is not None)
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
