"""Labelled conversations (eval/conversations/README.md): every turn scored as `qa eval`
scores a question, and each follow-up compared with its hand-written stand-alone rewrite
asked alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, model_validator

from qa.eval.scoring import LabelledQuestion, QuestionScore, load_labelled, score_question
from qa.types import Answer, Hit, Turn

Kind = Literal["first", "self-contained", "dependent"]


class LabelledTurn(LabelledQuestion):
    """A labelled question asked inside a conversation, with ``standalone``: the same
    question rewritten by hand to be understood without the conversation (equal to
    ``question`` when it already is)."""

    standalone: str = ""

    @model_validator(mode="after")
    def _standalone_defaults_to_question(self) -> LabelledTurn:
        if not self.standalone:
            self.standalone = self.question
        return self


class LabelledConversation(BaseModel):
    id: str
    turns: list[LabelledTurn]

    @model_validator(mode="before")
    @classmethod
    def _number_turns(cls, data: Any) -> Any:
        """Turns are ``<id>.<n>`` (1-based); follow-ups must carry their rewrite."""
        if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
            return data
        turns = []
        for n, turn in enumerate(data["turns"], start=1):
            if not isinstance(turn, dict):
                raise ValueError(f"turn {n} is not an object")
            if n > 1 and not turn.get("standalone"):
                raise ValueError(f"turn {n} is a follow-up without its 'standalone' rewrite")
            turns.append({**turn, "id": f"{data.get('id')}.{n}"})
        if not turns:
            raise ValueError("a conversation needs at least one turn")
        return {**data, "turns": turns}


def is_conversation_file(path: Path) -> bool:
    """Whether ``path`` holds conversations (records with ``turns``), not questions."""
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    return isinstance(record, dict) and "turns" in record
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # load_questions reports it
    return False


def load_conversations(path: Path) -> list[LabelledConversation]:
    """Parse a JSONL conversation file; a bad line is an InputError naming it."""
    return load_labelled(path, LabelledConversation, "conversation")


class ConversationService(Protocol):
    """The part of QAService that a conversation run uses."""

    def search(self, query: str, top_k: int | None = None) -> list[Hit]: ...

    def ask(self, question: str, *, conversation_id: str | None = None) -> Answer: ...

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]: ...


def correct(score: QuestionScore) -> bool:
    """A turn is answered correctly when it abstains if and only if it should, and an
    answer matches every ``must_include`` group and cites the gold evidence."""
    if not score.answerable:
        return score.abstained
    return not score.abstained and score.answer_match is not False and bool(score.recalled)


@dataclass
class TurnScore:
    """One turn: scored in its conversation and, for a follow-up, its rewrite asked alone."""

    conversation: str
    turn: int
    kind: Kind
    question: str
    searched: str  # what the service searched with in the conversation
    in_conversation: QuestionScore
    alone: QuestionScore | None = None

    @property
    def same_as_alone(self) -> bool | None:
        """For a self-contained follow-up: the very answer it gets when asked alone."""
        if self.kind != "self-contained" or self.alone is None:
            return None
        return self.in_conversation.answer == self.alone.answer

    def row(self) -> dict[str, Any]:
        return {
            "id": self.in_conversation.id,
            "kind": self.kind,
            "question": self.question,
            "searched": self.searched,
            "correct": correct(self.in_conversation),
            "alone_correct": None if self.alone is None else correct(self.alone),
            "same_as_alone": self.same_as_alone,
            "in_conversation": self.in_conversation.row(),
            "alone": None if self.alone is None else self.alone.row(),
        }


def _kind(n: int, turn: LabelledTurn) -> Kind:
    if n == 1:
        return "first"
    return "self-contained" if turn.standalone.strip() == turn.question.strip() else "dependent"


def evaluate_conversations(
    service: ConversationService, conversations: Sequence[LabelledConversation], k: int
) -> list[TurnScore]:
    """Every conversation asked turn by turn through the service (one conversation id
    each), then every follow-up's rewrite asked alone. hit@k of a turn in its conversation
    is measured on what the service searched with (its recorded standalone question)."""
    rows: list[TurnScore] = []
    for conversation in conversations:
        conversation_id: str | None = None
        for n, turn in enumerate(conversation.turns, start=1):
            answer = service.ask(turn.question, conversation_id=conversation_id)
            conversation_id = answer.conversation_id
            searched = turn.question
            if conversation_id is not None:
                recorded = service.history(conversation_id, limit=1)
                if recorded and recorded[-1].standalone_question:
                    searched = recorded[-1].standalone_question
            in_conversation = score_question(turn, service.search(searched, top_k=k), answer)
            alone = None
            if n > 1:
                alone_answer = service.ask(turn.standalone)
                hits = service.search(turn.standalone, top_k=k)
                alone = score_question(turn, hits, alone_answer)
            rows.append(
                TurnScore(
                    conversation.id,
                    n,
                    _kind(n, turn),
                    turn.question,
                    searched,
                    in_conversation,
                    alone,
                )
            )
    return rows


def _share(values: Sequence[bool]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class FollowUpTotals:
    """The two numbers, overall and per kind of follow-up (fractions in [0, 1])."""

    conversations: int = 0
    turns: int = 0
    follow_ups: int = 0
    self_contained: int = 0
    dependent: int = 0
    in_conversation: float | None = None  # follow-ups answered correctly in their conversation
    alone: float | None = None  # the same follow-ups, rewritten by hand, asked alone
    self_contained_in_conversation: float | None = None
    self_contained_alone: float | None = None
    dependent_in_conversation: float | None = None
    dependent_alone: float | None = None
    same_as_alone: float | None = None  # self-contained follow-ups answered exactly as alone
    first_turns: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


def follow_up_totals(rows: Sequence[TurnScore]) -> FollowUpTotals:
    follow = [r for r in rows if r.kind != "first" and r.alone is not None]
    selfc = [r for r in follow if r.kind == "self-contained"]
    dep = [r for r in follow if r.kind == "dependent"]

    def acc(items: Sequence[TurnScore], alone: bool) -> float | None:
        scores = [r.alone if alone else r.in_conversation for r in items]
        return _share([correct(s) for s in scores if s is not None])

    return FollowUpTotals(
        conversations=len({r.conversation for r in rows}),
        turns=len(rows),
        follow_ups=len(follow),
        self_contained=len(selfc),
        dependent=len(dep),
        in_conversation=acc(follow, False),
        alone=acc(follow, True),
        self_contained_in_conversation=acc(selfc, False),
        self_contained_alone=acc(selfc, True),
        dependent_in_conversation=acc(dep, False),
        dependent_alone=acc(dep, True),
        same_as_alone=_share([bool(r.same_as_alone) for r in selfc]),
        first_turns=_share([correct(r.in_conversation) for r in rows if r.kind == "first"]),
    )
