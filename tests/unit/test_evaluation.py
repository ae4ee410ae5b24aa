"""Scoring rules of `qa eval` (format of shared/eval/README.md)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from qa.errors import InputError
from qa.eval.run import evaluate
from qa.eval.scoring import (
    LabelledQuestion,
    QuestionScore,
    load_questions,
    ranking_auc,
    score_question,
    totals,
)
from qa.types import Answer, Citation, Hit


def _q(**kw: object) -> LabelledQuestion:
    base: dict[str, object] = {
        "id": "q1",
        "question": "How many?",
        "answerable": True,
        "must_include": [["1,037", "1037"]],
        "evidence": [{"source": "a.txt", "lines": [4]}],
        "evidence_mode": "any",
    }
    base.update(kw)
    return LabelledQuestion.model_validate(base)


def _cite(n: int, source: str, start: int, end: int) -> Citation:
    return Citation(
        n=n, doc_id=source, source=source, title="t", line_start=start, line_end=end, quote="x"
    )


def _hit(source: str, start: int, end: int) -> Hit:
    return Hit(
        chunk_id="c",
        doc_id=source,
        source=source,
        title="t",
        line_start=start,
        line_end=end,
        text="x",
        score=1.0,
    )


def test_correct_answer_scores_everything() -> None:
    answer = Answer(
        answer="They let in 1,037 soldiers [1].",
        answerable=True,
        citations=[_cite(1, "a.txt", 4, 4)],
    )
    row = score_question(_q(), [_hit("a.txt", 2, 6)], answer)
    assert row.hit and row.answer_match and row.recalled and row.first_exact
    assert (row.citations, row.precise) == (1, 1)


def test_wrong_lines_are_imprecise_and_not_recalled() -> None:
    answer = Answer(answer="1037 [1]", answerable=True, citations=[_cite(1, "a.txt", 5, 6)])
    row = score_question(_q(), [_hit("b.txt", 4, 4)], answer)
    assert not row.hit and row.answer_match and not row.recalled and row.precise == 0


def test_range_citation_is_recalled_but_not_exact() -> None:
    answer = Answer(answer="1037 [1]", answerable=True, citations=[_cite(1, "a.txt", 3, 5)])
    row = score_question(_q(), [], answer)
    assert row.recalled and not row.first_exact


def test_mode_all_needs_every_evidence_item() -> None:
    q = _q(
        evidence=[{"source": "a.txt", "lines": [1]}, {"source": "b.txt", "lines": [2]}],
        evidence_mode="all",
    )
    one = Answer(answer="x", answerable=True, citations=[_cite(1, "a.txt", 1, 1)])
    both = Answer(
        answer="x", answerable=True, citations=[_cite(1, "a.txt", 1, 1), _cite(2, "b.txt", 2, 2)]
    )
    assert not score_question(q, [], one).recalled
    assert score_question(q, [], both).recalled


def test_abstention_needs_no_citations() -> None:
    q = _q(answerable=False, must_include=[], evidence=[])
    silent = Answer(answer="The articles don't say.", answerable=False)
    cited = Answer(answer="Something [1]", answerable=True, citations=[_cite(1, "a.txt", 1, 1)])
    assert score_question(q, [], silent).abstained
    assert not score_question(q, [], cited).abstained
    total = totals([score_question(q, [], silent), score_question(q, [], cited)])
    assert total.abstention == 0.5
    assert total.citation_precision == 0.0  # a citation on an unanswerable question is wrong


def test_confidence_auc_ranks_answerable_and_right_first_citations() -> None:
    answerable, unanswerable = _q(), _q(answerable=False, must_include=[], evidence=[])
    right = [_cite(1, "a.txt", 4, 4)]  # the evidence line of _q()
    wrong = [_cite(1, "a.txt", 9, 9)]

    def row(q: LabelledQuestion, confidence: float | None, cites: list[Citation]) -> QuestionScore:
        a = Answer(answer="1037 [1]", answerable=True, citations=cites, confidence=confidence)
        return score_question(q, [], a)

    rows = [
        row(answerable, 0.9, right),
        row(answerable, 0.6, wrong),
        row(unanswerable, 0.7, wrong),
        row(unanswerable, 0.2, wrong),
    ]
    assert rows[0].confidence == 0.9
    total = totals(rows)
    assert total.confidence_auc == 0.75  # 3 of the 4 pairs ordered right
    assert total.confidence_auc_first == 1.0  # the one right first citation is on top
    assert ranking_auc([0.5], [0.5]) == 0.5  # a tie counts half
    assert totals([row(answerable, None, right)]).confidence_auc is None


def test_forbidden_evidence_is_counted() -> None:
    q = _q(forbidden_evidence=[{"source": "a.txt", "lines": [11]}])
    answer = Answer(answer="1037", answerable=True, citations=[_cite(1, "a.txt", 11, 11)])
    assert score_question(q, [], answer).forbidden == 1


def test_load_questions_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "q", "answerable": false}\n{oops\n')
    with pytest.raises(InputError, match=r"q\.jsonl:2"):
        load_questions(path)


def test_load_questions_reads_the_seed_set() -> None:
    questions = load_questions(Path(__file__).parents[1] / "data" / "seed-questions.jsonl")
    assert len(questions) == 17
    assert sum(q.answerable for q in questions) == 15


class AsOfRecorder:
    """An EvalService that records the as_of each question is asked with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, date | None]] = []

    def search(
        self, query: str, top_k: int | None = None, *, as_of: date | None = None
    ) -> list[Hit]:
        self.calls.append(("search", query, as_of))
        return []

    def ask(self, question: str, *, as_of: date | None = None) -> Answer:
        self.calls.append(("ask", question, as_of))
        return Answer(answer="The articles don't say.", answerable=False)

    def ingest_paths(self, paths: object) -> None:
        raise AssertionError("not called")


def test_each_question_is_asked_as_of_its_own_day(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "Then?", "answerable": False, "as_of": "2022-06-16"},
        {"id": "b", "question": "Always?", "answerable": False},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    questions = load_questions(path)
    assert [q.as_of for q in questions] == [date(2022, 6, 16), None]
    service = AsOfRecorder()
    evaluate(service, questions, k=3)
    assert service.calls == [
        ("search", "Then?", date(2022, 6, 16)),
        ("ask", "Then?", date(2022, 6, 16)),
        ("search", "Always?", None),
        ("ask", "Always?", None),
    ]


def test_a_bad_as_of_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Q?", "answerable": false, "as_of": "16/06/2022"}')
    with pytest.raises(InputError, match=r"q.jsonl:1: not a labelled question"):
        load_questions(path)
