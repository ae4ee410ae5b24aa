"""`qa eval` on labelled conversations (eval/conversations/README.md): loading, each turn
asked in its conversation, each follow-up's rewrite asked alone, and the totals."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from qa.errors import InputError
from qa.eval.conversations import (
    LabelledConversation,
    evaluate_conversations,
    follow_up_totals,
    is_conversation_file,
    load_conversations,
)
from qa.eval.run import run_eval
from qa.types import Answer, Citation, Hit, Turn

ROOT = Path(__file__).resolve().parents[2]


def turn(
    question: str, line: int, standalone: str | None = None, **kw: object
) -> dict[str, object]:
    out: dict[str, object] = {
        "question": question,
        "answerable": True,
        "must_include": [[f"line {line}"]],
        "evidence": [{"source": "a.txt", "lines": [line]}],
    }
    if standalone is not None:
        out["standalone"] = standalone
    out.update(kw)
    return out


CONVERSATION = {
    "id": "c1",
    "turns": [
        turn("Who built the lighthouse?", 1),
        turn("When was it automated?", 2, "When was the lighthouse automated?"),
        turn("Who opened the bridge?", 3, "Who opened the bridge?"),
    ],
}


def write(tmp_path: Path, *records: object) -> Path:
    path = tmp_path / "conversations.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


class FakeService:
    """Answers from a table (question -> line cited); in a conversation, a follow-up is
    looked up as "<previous question> <follow-up>" when the plain question is unknown."""

    def __init__(self, answers: dict[str, int]) -> None:
        self.answers = answers
        self.turns: dict[str, list[Turn]] = {}
        self.asked: list[tuple[str, str | None]] = []
        self.searched: list[str] = []

    def _answer(self, question: str) -> Answer:
        line = self.answers.get(question)
        if line is None:
            return Answer(answer="The articles don't say.", answerable=False)
        citation = Citation(
            n=1, doc_id="a", source="a.txt", title="A", line_start=line, line_end=line, quote="q"
        )
        return Answer(answer=f"It says line {line} [1].", answerable=True, citations=[citation])

    def ask(self, question: str, *, conversation_id: str | None = None) -> Answer:
        self.asked.append((question, conversation_id))
        history = self.turns.setdefault(conversation_id or f"new{len(self.turns)}", [])
        standalone = question
        if history and question not in self.answers:
            standalone = f"{history[-1].standalone_question} {question}"
        answer = self._answer(standalone)
        cid = conversation_id or f"new{len(self.turns) - 1}"
        history.append(
            Turn(question=question, answer=answer.answer, standalone_question=standalone)
        )
        return answer.model_copy(update={"conversation_id": cid})

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]:
        return self.turns.get(conversation_id, [])[-limit:]

    def search(self, query: str, top_k: int | None = None) -> list[Hit]:
        self.searched.append(query)
        line = self.answers.get(query, 9)
        hit = Hit(
            chunk_id="c",
            doc_id="a",
            source="a.txt",
            title="A",
            line_start=line,
            line_end=line,
            text="x",
            score=1.0,
        )
        return [hit]

    def ingest_paths(self, paths: object) -> object:
        raise AssertionError("not asked to ingest")


def test_load_numbers_turns_and_defaults_the_first_rewrite(tmp_path: Path) -> None:
    path = write(tmp_path, CONVERSATION)
    assert is_conversation_file(path)
    [conversation] = load_conversations(path)
    assert [t.id for t in conversation.turns] == ["c1.1", "c1.2", "c1.3"]
    assert conversation.turns[0].standalone == "Who built the lighthouse?"
    assert conversation.turns[1].standalone == "When was the lighthouse automated?"


def test_a_follow_up_without_its_rewrite_is_refused(tmp_path: Path) -> None:
    bad = {"id": "c2", "turns": [turn("Q?", 1), turn("And?", 2)]}
    with pytest.raises(InputError, match=r"conversations\.jsonl:2: .*turn 2 .*standalone"):
        load_conversations(write(tmp_path, CONVERSATION, bad))
    with pytest.raises(InputError, match="at least one turn"):
        load_conversations(write(tmp_path, {"id": "c3", "turns": []}))
    with pytest.raises(InputError, match="no conversations"):
        load_conversations(write(tmp_path))


def test_question_files_are_not_conversation_files(tmp_path: Path) -> None:
    assert not is_conversation_file(ROOT / "tests" / "data" / "seed-questions.jsonl")
    assert not is_conversation_file(tmp_path / "missing.jsonl")


def test_turns_are_asked_in_one_conversation_and_rewrites_alone() -> None:
    service = FakeService(
        {
            "Who built the lighthouse?": 1,
            "Who built the lighthouse? When was it automated?": 2,  # found with context
            "When was the lighthouse automated?": 2,
            "Who opened the bridge?": 5,  # wrong line, alone and in conversation alike
        }
    )
    rows = evaluate_conversations(service, parse(CONVERSATION), k=3)
    assert service.asked[0] == ("Who built the lighthouse?", None)  # a new conversation
    in_conversation = [q for q, c in service.asked if c is not None]
    assert in_conversation == ["When was it automated?", "Who opened the bridge?"]
    assert [r.kind for r in rows] == ["first", "dependent", "self-contained"]
    assert rows[1].searched == "Who built the lighthouse? When was it automated?"
    assert rows[1].in_conversation.hit  # hit@k on what the service searched with
    assert rows[2].same_as_alone is True
    total = follow_up_totals(rows)
    assert (total.follow_ups, total.self_contained, total.dependent) == (2, 1, 1)
    assert (total.in_conversation, total.alone) == (0.5, 0.5)
    assert (total.dependent_in_conversation, total.self_contained_alone) == (1.0, 0.0)
    assert total.same_as_alone == 1.0
    assert total.first_turns == 1.0


def parse(record: dict[str, object]) -> list[LabelledConversation]:
    return [LabelledConversation.model_validate(record)]


def test_an_unanswerable_follow_up_is_correct_when_it_abstains() -> None:
    record = {
        "id": "c9",
        "turns": [
            turn("Who built the lighthouse?", 1),
            {
                "question": "Who painted it?",
                "standalone": "Who painted the lighthouse?",
                "answerable": False,
            },
        ],
    }
    service = FakeService({"Who built the lighthouse?": 1})
    rows = evaluate_conversations(service, parse(record), k=3)
    assert follow_up_totals(rows).in_conversation == 1.0


def test_run_eval_prints_the_follow_up_figures_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CONVERSATION)
    service = FakeService({"Who built the lighthouse?": 1, "When was the lighthouse automated?": 2})
    args = argparse.Namespace(
        file=path,
        ingest=None,
        k=3,
        json=True,
        quiet=False,
        min_hit=None,
        min_answer_match=None,
        min_precision=None,
        min_recall=0.9,
        min_abstention=None,
    )
    assert run_eval(args, service) == 1  # recall 1/3 in conversation < 0.9
    out = capsys.readouterr().out.splitlines()
    report = json.loads(out[0])
    assert [row["id"] for row in report["rows"]] == ["c1.1", "c1.2", "c1.3"]
    assert report["follow_ups"]["alone"] == 0.5
    assert report["follow_ups"]["in_conversation"] == 0.0
    assert [t["kind"] for t in report["turns"]] == ["first", "dependent", "self-contained"]
    assert out[1].startswith("below threshold: recall")


def test_run_eval_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, CONVERSATION)
    service = FakeService({"Who built the lighthouse?": 1})
    args = argparse.Namespace(
        file=path,
        ingest=None,
        k=3,
        json=False,
        quiet=False,
        min_hit=None,
        min_answer_match=None,
        min_precision=None,
        min_recall=None,
        min_abstention=None,
    )
    assert run_eval(args, service) == 0
    out = capsys.readouterr().out
    assert "c1.2     dependent" in out
    assert "follow-ups correct      0.0% in conversation,   0.0% rewritten by hand" in out
    assert "questions             3" in out


def test_the_dev_sets_load() -> None:
    seeds = load_conversations(ROOT / "eval" / "conversations" / "seeds.jsonl")
    wikiqa = load_conversations(ROOT / "bench" / "data" / "wikiqa-conversations.jsonl")
    for conversations in (seeds, wikiqa):
        follow = [t for c in conversations for t in c.turns[1:]]
        dependent = [t for t in follow if t.standalone != t.question]
        assert len(conversations) >= 15
        assert 0 < len(dependent) < len(follow)
        assert all(2 <= len(c.turns) <= 3 for c in conversations)
