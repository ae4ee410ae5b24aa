"""Domain types shared by every layer (frozen pydantic models)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MetaValue = str | int | float | bool


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DocumentChanges(_Frozen):
    """What changed in a store since some moment: ``doc_id`` -> ``content_hash`` of the
    documents written, and the ids of the documents deleted (and not written again)."""

    written: dict[str, str]
    deleted: frozenset[str]


class SentenceVectors(_Frozen):
    """Embeddings of a document's sentences, made at ingest so answers need not embed them.

    ``spans[i]`` is sentence i's ``(char_start, char_end)`` in ``Document.text`` and row i of
    ``data`` (int8, ``round(unit vector * 127)``, ``dimension`` bytes a row) its vector.
    Stored apart from the document (its own collection); ``content_hash`` names the version
    of the document they were made from.
    """

    doc_id: str
    content_hash: str
    dimension: int
    spans: tuple[tuple[int, int], ...]
    data: bytes
    #: Each sentence's token states (the evidence ranker's token alignment), in span order:
    #: ``token_counts[i]`` tokens of sentence i, their WordPiece ids (uint16) in
    #: ``token_ids`` and their rows (int8, ``token_dimension`` bytes each) in ``token_rows``.
    #: Empty when the embedder gives none, and in stores written before they were made.
    token_counts: tuple[int, ...] = ()
    token_dimension: int = 0
    token_ids: bytes = b""
    token_rows: bytes = b""


class Document(_Frozen):
    """One article with its ORIGINAL lines (index i holds line i+1, newline removed).

    ``excluded`` holds 1-based numbers of lines kept for quoting but never chunked
    (front matter, boilerplate such as "Share this story", bare timestamps).
    """

    doc_id: str
    source: str
    title: str
    url: str | None = None
    publisher: str | None = None
    published_at: datetime | None = None
    metadata: dict[str, MetaValue] = Field(default_factory=dict)
    lines: tuple[str, ...]
    excluded: frozenset[int] = frozenset()
    content_hash: str
    #: The resolved absolute path of the file it was read from; None for documents posted
    #: through the API (and for those stored before qa kept it). Prune and collision
    #: checks go by it.
    location: str | None = None

    @property
    def text(self) -> str:
        """The original text; character offsets of chunks index into this string."""
        return "\n".join(self.lines)

    def line_text(self, start: int, end: int) -> list[tuple[int, str]]:
        """Original lines ``start..end`` (1-based, inclusive) with their numbers."""
        start = max(start, 1)
        end = min(end, len(self.lines))
        return [(n, self.lines[n - 1]) for n in range(start, end + 1)]


@dataclass(frozen=True)
class DocumentWrite:
    """One document as ingestion hands it to the store: the document, its chunks, one
    vector per chunk, and (optionally) its sentence vectors."""

    document: Document
    chunks: tuple[Chunk, ...]
    vectors: npt.NDArray[np.float32]
    sentences: SentenceVectors | None = None


class DocumentInfo(_Frozen):
    """A stored document without its text (listings)."""

    doc_id: str
    source: str
    title: str
    url: str | None = None
    publisher: str | None = None
    published_at: datetime | None = None
    content_hash: str
    line_count: int
    chunk_count: int
    location: str | None = None  # as in Document
    written_at: datetime | None = None  # when this version was stored


class Chunk(_Frozen):
    """A retrievable span of a document.

    ``char_start``/``char_end`` index ``Document.text``; ``text`` equals that slice with
    the excluded lines removed. ``line_start``/``line_end`` are the 1-based lines it spans.
    """

    chunk_id: str
    doc_id: str
    index: int
    text: str
    line_start: int
    line_end: int
    char_start: int
    char_end: int


def _no_number(value: object) -> object:
    # pydantic reads a number as seconds since 1970: `published_before: 0` was 1970-01-01.
    if isinstance(value, int | float):
        raise ValueError("a date-time is an ISO 8601 string (2021-07-05T00:00:00Z), not a number")
    return value


#: A date-time from JSON: an ISO 8601 string (or a datetime from Python), never a number.
DateTime = Annotated[datetime, BeforeValidator(_no_number)]


class Filters(_Frozen):
    """Optional restrictions on retrieval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: list[str] | None = Field(None, description="Only these sources (exact match).")
    doc_id: list[str] | None = Field(None, description="Only these document ids.")
    published_after: DateTime | None = Field(None, description="published_at >= this.")
    published_before: DateTime | None = Field(None, description="published_at <= this.")
    include_undated: bool = Field(
        False,
        strict=True,
        description="With a published_* bound: also keep documents without a date.",
    )


class Hit(_Frozen):
    """A retrieved chunk with its document's identity and a relevance score."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    url: str | None = None
    published_at: datetime | None = None
    line_start: int
    line_end: int
    text: str
    score: float


class Citation(_Frozen):
    """A verified pointer from an answer to lines of a stored document."""

    n: int
    doc_id: str
    source: str
    title: str
    url: str | None = None
    line_start: int
    line_end: int
    quote: str
    page: int | None = Field(
        None, ge=1, description="PDF sources: the page that holds line_start (1-based)."
    )
    link: str | None = Field(
        None,
        description="The source's URL opened on the cited passage: a text fragment "
        "(#:~:text=) for web pages, #page=N for PDFs. None without an http(s) URL.",
    )


@dataclass(frozen=True)
class Feedback:
    """A thumbs up or down on an answer, with what was asked and cited."""

    conversation_id: str | None
    question: str
    answer: str
    citations: list[Citation]
    verdict: Literal["up", "down"]
    user: str | None
    source: str  # where it was given: "slack", "api", ...


class Turn(_Frozen):
    """One question/answer exchange of a conversation."""

    question: str
    answer: str
    standalone_question: str | None = None


class ChatUsage(_Frozen):
    """Tokens one chat-model call used, as the server reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatReply(_Frozen):
    """A chat model's whole reply, with the usage of that call alone."""

    text: str
    usage: ChatUsage | None = None


Mode = Literal["extractive", "llm"]


class Answer(_Frozen):
    """What the service returns for a question."""

    answer: str
    answerable: bool
    citations: list[Citation] = Field(default_factory=list)
    conversation_id: str | None = None
    mode: Mode = "extractive"
    degraded: bool = False
    degraded_reason: str | None = None
    dropped_citations: int = 0
    confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Estimated chance that the first citation supports a correct answer "
        "(the evidence model's calibrated score of the best sentence; below the service's "
        "threshold it abstains). None when nothing was scored.",
    )
    closest: Citation | None = Field(
        None,
        description="With an abstention: the passage that came closest (its best sentence, "
        "verified like a citation). Not an answer: shown so a reader sees what was found.",
    )
    sources_differ: bool = Field(
        False,
        description="True when the cited documents give different figures for what was asked "
        "(the answer then opens with 'Sources differ:' and says who reported which).",
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)
    #: Set when the question is in a language the models cannot read (then nothing is cited).
    unsupported_language: str | None = None
