"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qa.timeframe import AsOf
from qa.types import Filters, Hit

_AS_OF = (
    "The day the question is asked on (YYYY-MM-DD): documents published after the end of "
    "that day (UTC) are not used, undated ones are, and newer passages are preferred."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Strict):
    query: str = Field(..., min_length=1, description="What to look for.")
    top_k: int | None = Field(None, ge=1, le=200, description="Passages to return.")
    filters: Filters | None = None
    as_of: AsOf | None = Field(None, description=_AS_OF)


class SearchResponse(BaseModel):
    hits: list[Hit]


class AskRequest(_Strict):
    question: str = Field(..., min_length=1, description="The question, in plain text.")
    conversation_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Continue this conversation: an id an earlier answer returned to the same "
        "API key (404 when unknown, expired, or another key's).",
    )
    conversation: bool = Field(
        False,
        description="Start a conversation: the answer's conversation_id can then be sent back "
        "with a follow-up. Without it (and without conversation_id) nothing is stored and "
        "conversation_id is null.",
    )
    top_k: int | None = Field(None, ge=1, le=200)
    filters: Filters | None = None
    as_of: AsOf | None = Field(None, description=_AS_OF)


class ArticleIn(BaseModel):
    """One article, as a line of the JSONL format."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, min_length=1, max_length=256)
    body: str | None = Field(None, description="Article text (or `text`).")
    text: str | None = None
    title: str | None = None
    source: str | None = None
    url: str | None = None
    publisher: str | None = None
    published_at: str | None = None


class DocumentsRequest(_Strict):
    """Articles to ingest: ``documents`` (records), or ``url`` (one page fetched)."""

    documents: list[ArticleIn] | None = Field(None, min_length=1, max_length=1000)
    url: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        description="An http(s) URL of an HTML page, PDF or text file, fetched by the server "
        "(size, time and redirect limits; private addresses refused unless "
        "QA_FETCH_ALLOW_PRIVATE). Instead of `documents`.",
    )

    @model_validator(mode="after")
    def _one_of(self) -> DocumentsRequest:
        if (self.documents is None) == (self.url is None):
            raise ValueError("send either 'documents' (a list of articles) or 'url', not both")
        return self


class IngestResponse(BaseModel):
    documents: int
    unchanged: int
    chunks: int
    doc_ids: list[str]


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    title: str
    url: str | None = None
    publisher: str | None = None
    published_at: datetime | None = None
    content_hash: str
    line_count: int
    chunk_count: int | None = None
    metadata: dict[str, Any] | None = None


class DocumentsList(BaseModel):
    documents: list[DocumentOut]


class LineOut(BaseModel):
    n: int
    text: str


class LinesOut(BaseModel):
    doc_id: str
    lines: list[LineOut]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """OpenAI chat completions request; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = "qa"
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    top_k: int | None = Field(None, ge=1, le=200)
    as_of: AsOf | None = Field(None, description=f"Extension. {_AS_OF}")
