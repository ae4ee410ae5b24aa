"""POST /v1/feedback: a thumbs up or down on an answer from the web chat, stored like Slack's."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from qa.errors import NotFoundError
from qa.service import QAService
from qa.types import Citation, Feedback

#: How far back in a conversation an answer can still be rated.
MAX_TURNS = 50

router = APIRouter(prefix="/v1")


def _service(request: Request) -> QAService:
    service: QAService = request.app.state.service
    return service


class FeedbackIn(BaseModel):
    """A verdict on one answer of a conversation, as the web chat sends it."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str = Field(..., min_length=1, max_length=100)
    question: str = Field(..., min_length=1, max_length=10_000)
    answer: str = Field(..., min_length=1, max_length=100_000)
    citations: list[Citation] = Field(default_factory=list, max_length=100)
    verdict: Literal["up", "down"]
    user: str | None = Field(None, max_length=200, description="Who gave it, if known.")


class FeedbackOut(BaseModel):
    id: int


def record_web_feedback(service: QAService, body: FeedbackIn) -> int:
    """Store the verdict if the conversation really gave that answer to that question."""
    turns = service.history(body.conversation_id, limit=MAX_TURNS)
    question = body.question.strip()
    if not any(t.question == question and t.answer == body.answer for t in turns):
        raise NotFoundError(
            f"conversation {body.conversation_id!r} has no such question and answer "
            f"among its last {MAX_TURNS} turns: send them as /v1/ask returned them"
        )
    return service.record_feedback(
        Feedback(
            conversation_id=body.conversation_id,
            question=question,
            answer=body.answer,
            citations=body.citations,
            verdict=body.verdict,
            user=body.user,
            source="web",
        )
    )


@router.post("/feedback", response_model=FeedbackOut, status_code=201, tags=["feedback"])
async def post_feedback(
    body: FeedbackIn, service: Annotated[QAService, Depends(_service)]
) -> FeedbackOut:
    """Rate an answer (👍 up / 👎 down); listed by GET /v1/feedback with source "web"."""
    feedback_id = await run_in_threadpool(record_web_feedback, service, body)
    return FeedbackOut(id=feedback_id)
