"""HTTP routes: search, ask (plain and streaming), OpenAI-compatible chat, documents."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from qa.answering.citations import inert
from qa.api.errors import status_for
from qa.api.jobs import JobAccepted, in_background, ingest_in_background
from qa.api.schemas import (
    AskRequest,
    ChatMessage,
    ChatRequest,
    DocumentOut,
    DocumentsList,
    DocumentsRequest,
    IngestResponse,
    LineOut,
    LinesOut,
    SearchRequest,
    SearchResponse,
    TextPart,
)
from qa.api.security import principal_of, require_admin
from qa.errors import InputError, QAError
from qa.service import QAService
from qa.types import Answer, Citation, Turn


def get_service(request: Request) -> QAService:
    service: QAService = request.app.state.service
    return service


Service = Annotated[QAService, Depends(get_service)]

router = APIRouter(prefix="/v1")
#: Routes that change the corpus or export other users' data: admin-scoped keys only.
AdminOnly = [Depends(require_admin)]


@router.post("/search", response_model=SearchResponse, tags=["retrieval"])
def search(body: SearchRequest, service: Service) -> SearchResponse:
    """Passages relevant to a query, with their exact source lines."""
    hits = service.search(body.query, body.top_k, body.filters, as_of=body.as_of)
    return SearchResponse(hits=hits)


def _conversation_args(body: AskRequest, request: Request) -> dict[str, Any]:
    """Continue the caller's own conversation, or start one only when asked to; ids are
    issued by the server, never chosen by the client (see QAService.ask)."""
    return {
        "conversation_id": body.conversation_id,
        "owner": principal_of(request).owner,
        "remember": body.conversation and body.conversation_id is None,
    }


@router.post("/ask", response_model=Answer, tags=["answers"])
def ask(body: AskRequest, service: Service, request: Request) -> Answer:
    """Answer a question with verified line citations."""
    return service.ask(
        body.question,
        top_k=body.top_k,
        filters=body.filters,
        as_of=body.as_of,
        **_conversation_args(body, request),
    )


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _error_data(exc: QAError) -> dict[str, Any]:
    status, kind = status_for(exc)
    return {"error": {"type": kind, "message": str(exc), "status": status}}


async def _primed(stream: Iterator[str | Answer]) -> tuple[str | Answer, Iterator[str | Answer]]:
    """Run the stream up to its first item so bad input still gets a 4xx status."""
    first = await run_in_threadpool(next, stream)
    return first, stream


@router.post("/ask/stream", tags=["answers"], response_class=StreamingResponse)
async def ask_stream(body: AskRequest, request: Request) -> StreamingResponse:
    """Server-Sent Events: `delta` events with text, then `answer` (citations), then `done`."""
    service = get_service(request)
    stream = service.ask_stream(
        body.question,
        top_k=body.top_k,
        filters=body.filters,
        as_of=body.as_of,
        **_conversation_args(body, request),
    )
    first, rest = await _primed(stream)

    def events() -> Iterator[str]:
        try:
            for item in _chain(first, rest):
                if isinstance(item, Answer):
                    yield _sse("answer", item.model_dump(mode="json"))
                else:
                    yield _sse("delta", {"text": item})
        except QAError as exc:
            yield _sse("error", _error_data(exc))
        yield _sse("done", {})

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _chain(first: str | Answer, rest: Iterator[str | Answer]) -> Iterator[str | Answer]:
    yield first
    yield from rest


# ------------------------------------------------------------------ OpenAI-compatible chat
def _text(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return " ".join(p.text for p in parts if isinstance(p, TextPart))


def _conversation(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The last user message is the question; earlier user/assistant pairs are history."""
    dialogue = [m for m in messages if m.role in ("user", "assistant")]
    if not dialogue or dialogue[-1].role != "user":
        raise InputError("messages: the last message must have role 'user'")
    history: list[Turn] = []
    pending: str | None = None
    for message in dialogue[:-1]:
        if message.role == "user":
            pending = _text(message)
        elif pending is not None:
            history.append(Turn(question=pending, answer=_text(message)))
            pending = None
    return _text(dialogue[-1]), history


def closest_note(answer: Answer) -> str:
    """For an abstention: where the closest passage was, marked as not an answer."""
    c = answer.closest
    if c is None or answer.answerable:
        return ""
    return (
        f"\n\nClosest passage found (not an answer): {c.title} ({c.source}, lines "
        f"{c.line_start}-{c.line_end}): “{' '.join(c.quote.split())}”"
    )


def sources_footer(citations: list[Citation]) -> str:
    if not citations:
        return ""
    rows = [
        f"[{c.n}] {inert(c.title)} ({inert(c.source)}, {f'page {c.page}, ' if c.page else ''}"
        f"lines {c.line_start}-{c.line_end}){f' {c.link}' if c.link else ''}"
        for c in citations
    ]
    return "\n\nSources:\n" + "\n".join(rows)


def _extension(answer: Answer) -> dict[str, Any]:
    """The `qa` extension field of a chat completion: what the content alone does not say."""
    return {
        "answerable": answer.answerable,
        "mode": answer.mode,
        "degraded": answer.degraded,
        "confidence": answer.confidence,
        "sources_differ": answer.sources_differ,
    }


def _completion_base(completion_id: str, created: int, obj: str) -> dict[str, Any]:
    return {"id": completion_id, "object": obj, "created": created, "model": "qa"}


@router.post("/chat/completions", tags=["openai"], response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> Response:
    """OpenAI-compatible chat; `citations` rides along as an extra field, and `as_of`
    (YYYY-MM-DD) may be sent as one."""
    service = get_service(request)
    question, history = _conversation(body.messages)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        answer: Answer = await run_in_threadpool(
            lambda: service.ask(question, history=history, top_k=body.top_k, as_of=body.as_of)
        )
        content = answer.answer + sources_footer(answer.citations) + closest_note(answer)
        payload = _completion_base(completion_id, created, "chat.completion") | {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": [c.model_dump(mode="json") for c in answer.citations],
            "qa": _extension(answer),
        }
        return Response(json.dumps(payload), media_type="application/json")

    stream = service.ask_stream(question, history=history, top_k=body.top_k, as_of=body.as_of)
    first, rest = await _primed(stream)

    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
        data = (
            _completion_base(completion_id, created, "chat.completion.chunk")
            | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            | extra
        )
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""}, None)
        try:
            for item in _chain(first, rest):
                if isinstance(item, Answer):
                    footer = sources_footer(item.citations) + closest_note(item)
                    if footer:
                        yield chunk({"content": footer}, None)
                    yield chunk(
                        {},
                        "stop",
                        citations=[c.model_dump(mode="json") for c in item.citations],
                        qa=_extension(item),
                    )
                else:
                    yield chunk({"content": item}, None)
        except QAError as exc:
            yield f"data: {json.dumps(_error_data(exc))}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


# ------------------------------------------------------------------ documents
@router.post(
    "/documents",
    response_model=IngestResponse,
    status_code=201,
    tags=["documents"],
    dependencies=AdminOnly,
    responses={202: {"model": JobAccepted, "description": "Queued: GET status_url."}},
)
def add_documents(
    body: DocumentsRequest, service: Service, request: Request
) -> IngestResponse | Response:
    """Ingest articles (the JSONL fields: body or text, id, title, source, url, published_at),
    or the page at ``url`` (HTML, PDF or text; its id is the URL). More text than
    QA_ASYNC_INGEST_BYTES, or more than 20 documents, is checked at once, then ingested by a
    background job: 202 with its id (GET /v1/jobs/{id})."""
    if body.url is not None:
        report = service.add_url(body.url)
    else:
        records = [a.model_dump(exclude_none=True) for a in body.documents or []]
        if in_background(records, request.app.state.settings.api.async_ingest_bytes):
            return ingest_in_background(request, service, records)
        report = service.add_records(records)
    return IngestResponse(
        documents=report.documents,
        unchanged=report.unchanged,
        chunks=report.chunks,
        doc_ids=report.doc_ids,
    )


@router.get("/documents", response_model=DocumentsList, tags=["documents"])
def list_documents(service: Service) -> DocumentsList:
    return DocumentsList(
        documents=[DocumentOut(**d.model_dump()) for d in service.list_documents()]
    )


@router.get("/documents/{doc_id:path}/lines", response_model=LinesOut, tags=["documents"])
def document_lines(
    doc_id: str,
    service: Service,
    start: Annotated[int, Query(ge=1, description="First line (1-based).")] = 1,
    end: Annotated[int | None, Query(ge=1, description="Last line (inclusive).")] = None,
) -> LinesOut:
    """Original lines with their numbers (blank lines included)."""
    lines = service.get_lines(doc_id, start, end)
    return LinesOut(doc_id=doc_id, lines=[LineOut(n=n, text=t) for n, t in lines])


@router.get("/documents/{doc_id:path}", response_model=DocumentOut, tags=["documents"])
def get_document(doc_id: str, service: Service) -> DocumentOut:
    doc = service.get_document(doc_id)
    return DocumentOut(
        doc_id=doc.doc_id,
        source=doc.source,
        title=doc.title,
        url=doc.url,
        publisher=doc.publisher,
        published_at=doc.published_at,
        content_hash=doc.content_hash,
        line_count=len(doc.lines),
        metadata=dict(doc.metadata),
    )


@router.delete(
    "/documents/{doc_id:path}", status_code=204, tags=["documents"], dependencies=AdminOnly
)
def delete_document(doc_id: str, service: Service) -> Response:
    service.delete_document(doc_id)
    return Response(status_code=204)


# ------------------------------------------------------------------ feedback
@router.get("/feedback", tags=["feedback"], dependencies=AdminOnly)
def list_feedback(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Newest first.")] = 1000,
) -> dict[str, list[dict[str, Any]]]:
    """Thumbs-up/down verdicts from Slack, with question, answer, citations and user."""
    return {"feedback": service.list_feedback(limit=limit)}
