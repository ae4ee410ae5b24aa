"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    model_validator,
)

from qa.timeframe import AsOf
from qa.types import Filters, Hit

_AS_OF = (
    "The day the question is asked on (YYYY-MM-DD): documents published after the end of "
    "that day (UTC) are not used, undated ones are, and newer passages are preferred."
)


class _Strict(BaseModel):
    # strict: JSON types are not converted (`top_k: true` is not 1, `"stream": "yes"` is no bool).
    model_config = ConfigDict(extra="forbid", strict=True)


#: Text that must hold more than whitespace (the service strips it, then refuses it empty).
_NOT_BLANK = r"\S"


def _json_integer(value: object) -> object:
    # JSON Schema's integer is any number without a fraction (48.0 too), never true/false.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: top_k: a JSON integer; its maximum in the app's schema is QA_MAX_TOP_K (qa/api/contract.py).
TopK = Annotated[StrictInt, Field(ge=1, le=200), BeforeValidator(_json_integer)]


class SearchRequest(_Strict):
    query: str = Field(..., min_length=1, pattern=_NOT_BLANK, description="What to look for.")
    top_k: TopK | None = Field(None, description="Passages to return.")
    filters: Filters | None = None
    as_of: AsOf | None = Field(None, description=_AS_OF)


class SearchResponse(BaseModel):
    hits: list[Hit]


class AskRequest(_Strict):
    question: str = Field(
        ..., min_length=1, pattern=_NOT_BLANK, description="The question, in plain text."
    )
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
    top_k: TopK | None = None
    filters: Filters | None = None
    as_of: AsOf | None = Field(None, description=_AS_OF)


class ArticleIn(BaseModel):
    """One article, as a line of the JSONL format: ``body`` or ``text`` holds its text."""

    # Unknown fields are kept as metadata (scalars as they are, others JSON-encoded).
    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("body", "text")
            ]
        },
    )

    id: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        # No surrounding whitespace, no control characters (a '..' path segment and the
        # reserved prefixes are refused too: 422).
        pattern=r"^[^\s\x00-\x1f\x7f-\x9f\u2028\u2029]([^\x00-\x1f\x7f-\x9f\u2028\u2029]*"
        r"[^\s\x00-\x1f\x7f-\x9f\u2028\u2029])?$",
    )
    body: str | None = Field(None, pattern=_NOT_BLANK, description="Article text (or `text`).")
    text: str | None = Field(None, pattern=_NOT_BLANK)
    title: str | None = None
    source: str | None = None
    url: str | None = None
    publisher: str | None = None
    published_at: str | None = Field(
        None,
        description="When it was published: an ISO 8601 date-time (other spellings of a date "
        "are read too, when unambiguous).",
        json_schema_extra={"format": "date-time"},
    )


class DocumentsRequest(_Strict):
    """Articles to ingest: ``documents`` (records), or ``url`` (one page fetched)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        # Exactly one of the two, given (not null).
        json_schema_extra={
            "oneOf": [
                {"required": ["documents"], "properties": {"documents": {"type": "array"}}},
                {"required": ["url"], "properties": {"url": {"type": "string"}}},
            ]
        },
    )

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


class TextPart(BaseModel):
    """A text part of a message's content; its text is what is read."""

    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["text"]
    text: StrictStr


class OtherPart(BaseModel):
    """Any other part (image_url, input_audio, file...): accepted, not read."""

    model_config = ConfigDict(extra="allow", strict=True)

    # "text" parts are TextParts (the discriminator sends them there).
    type: StrictStr = Field(..., json_schema_extra={"not": {"const": "text"}})


def _part_kind(part: Any) -> str:
    kind = part.get("type") if isinstance(part, dict) else getattr(part, "type", None)
    return "text" if kind == "text" else "other"


ContentPart = Annotated[
    Annotated[TextPart, Tag("text")] | Annotated[OtherPart, Tag("other")],
    Discriminator(_part_kind),
]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """OpenAI chat completions request; unknown fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = "qa"
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    top_k: TopK | None = None
    as_of: AsOf | None = Field(None, description=f"Extension. {_AS_OF}")
