"""Every Protocol the core depends on. Adapters implement them; only qa/wiring.py names
the concrete classes.

Storage is one backend seen through small ports, each saying what its caller needs:

=====================  ===================================  ==============================
port                   what it offers                       who calls it
=====================  ===================================  ==============================
``ChunkIndex``         nearest chunks, passages by id        retrieval
``DocumentStore``      documents and their original lines    answering, citations, API
``SentenceIndex``      documents with their sentence vectors the extractive answerer
``ChangeFeed``         what changed since revision r         the BM25 index
``CorpusWriter``       writes that keep all of these whole   ingestion, API deletes
``HealthCheck``        is the backend reachable              /readyz
``StoreView``          does this process see every write     the follower, /readyz
=====================  ===================================  ==============================

``Store`` is all of them at once: what one backend (Chroma, or the in-memory fake)
provides, and what wiring passes around.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from qa.types import (
    Answer,
    ChatReply,
    Chunk,
    Document,
    DocumentChanges,
    DocumentInfo,
    DocumentWrite,
    Feedback,
    Filters,
    Hit,
    SentenceVectors,
    Turn,
)

Vectors = npt.NDArray[np.float32]
#: A text's token states, [CLS] and [SEP] left out: WordPiece ids and one int8 row per token
#: (the model's last hidden state projected to a few dimensions, unit length times 127).
TokenStates = tuple[npt.NDArray[np.uint16], npt.NDArray[np.int8]]
#: A chat message as the OpenAI API takes it: ``{"role": ..., "content": ...}``.
Message = dict[str, str]
#: Rewrites a follow-up into a question that can be searched alone (None: it could not).
Condenser = Callable[[str, Sequence[Turn]], str | None]


# --------------------------------------------------------------------------- models


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    @property
    def name(self) -> str:
        """Identity recorded on the collection, e.g. ``local:all-MiniLM-L6-v2-onnx-int8``."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, float32, unit length."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` (used to size chunks)."""
        ...


@runtime_checkable
class TokenEmbedder(Protocol):
    """An embedder that can also give each text's token states (the local MiniLM): the
    evidence ranker aligns question tokens with sentence tokens (qa/answering/evidence.py)."""

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[Vectors, list[TokenStates]]:
        """``embed(texts)`` and, from the same model run, each text's token states."""
        ...

    def text_tokens(self, text: str) -> TokenStates:
        """One text's token states (recently embedded texts are remembered)."""
        ...


def token_source(embedder: object) -> TokenEmbedder | None:
    """The embedder itself when it gives token states, else the one it wraps (the
    ``tokens`` attribute of VectorCache and BatchingEmbedder), else None."""
    if isinstance(embedder, TokenEmbedder):
        return embedder
    inner = getattr(embedder, "tokens", None)
    return inner if isinstance(inner, TokenEmbedder) else None


class ChatModel(Protocol):
    """An OpenAI-compatible chat completion endpoint. Each call returns its own usage, so
    concurrent requests never see each other's token counts."""

    @property
    def model(self) -> str: ...

    def complete(self, messages: Sequence[Message]) -> ChatReply:
        """The assistant's reply and its token usage; raises LLMError after retries."""
        ...

    def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
        """Text deltas of the reply, then the whole reply (with usage) last; LLMError."""
        ...


# --------------------------------------------------------------------------- storage


class ChunkIndex(Protocol):
    """Chunks with their vectors: what retrieval searches."""

    def query_ids(
        self, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks as ``(chunk_id, cosine)``, best first."""
        ...

    def get_hits(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """Passages for chunk ids (score 0), in the order given; unknown ids are skipped."""
        ...

    def count(self) -> int:
        """Number of stored chunks (cheap: no listing)."""
        ...


class DocumentStore(Protocol):
    """Documents with their original lines, so that any line can be quoted back."""

    def get_document(self, doc_id: str) -> Document | None: ...

    def list_documents(self) -> list[DocumentInfo]: ...

    def document_hash(self, doc_id: str) -> str | None:
        """Content hash of the stored document, or None when absent."""
        ...


class SentenceIndex(Protocol):
    """Sentence vectors made at ingest, so that answers look them up instead of embedding."""

    def sentence_vectors(self, doc_id: str, content_hash: str) -> SentenceVectors | None:
        """The vectors made from that version of the document, or None."""
        ...

    def documents_with_sentences(
        self, doc_ids: Sequence[str]
    ) -> dict[str, tuple[Document, SentenceVectors | None]]:
        """The stored documents among ``doc_ids`` (absent ones left out), each with the
        sentence vectors made from its stored version (None when there are none), read in
        one batch: what one answer reads for the documents of its passages."""
        ...


class ChangeFeed(Protocol):
    """What changed in the store: the BM25 index syncs from it."""

    def revision(self) -> str:
        """Changes whenever chunks are added or removed by any process."""
        ...

    def document_hashes(self) -> dict[str, str]:
        """``doc_id`` -> ``content_hash`` of every stored document."""
        ...

    def document_changes(self, since: float) -> DocumentChanges | None:
        """Documents written or deleted at or after ``since`` (Unix seconds, the writer's
        clock), or None when the store cannot tell (then ``document_hashes`` is the way)."""
        ...

    def chunks_of(self, doc_ids: Sequence[str]) -> Iterator[tuple[Chunk, dict[str, object]]]:
        """The stored chunks of these documents, with their metadata."""
        ...


class CorpusWriter(Protocol):
    """Writes that keep chunks, documents and sentence vectors in step."""

    def check_embedder(self, embedder_name: str, dimension: int) -> None:
        """Record the embedder on first use; raise EmbedderMismatchError on a mismatch."""
        ...

    def write(self, items: Sequence[DocumentWrite], *, only_if_stored: bool = False) -> None:
        """Store documents and replace their chunks (and sentence vectors); crash-safe.
        Writers of one document are serialised: the last one wins, whole.

        ``only_if_stored``: write only the documents whose stored record already has their
        content hash (a repair: it never overwrites a newer version or revives a deleted one).
        """
        ...

    def delete_document(self, doc_id: str) -> bool:
        """Remove a document and everything derived from it; False when it was absent."""
        ...

    def prune_orphans(self) -> int:
        """Delete chunks whose document record is missing or newer; returns how many."""
        ...

    def orphan_chunks(self) -> dict[str, str]:
        """``chunk_id -> doc_id`` of the chunks ``prune_orphans`` would delete."""
        ...


class HealthCheck(Protocol):
    def ping(self) -> None:
        """Raise StoreError when the store is unreachable."""
        ...


class StoreView(Protocol):
    """This process's view of a store that other processes write to (``qa ingest`` while
    ``qa serve`` runs)."""

    def stale(self) -> str | None:
        """Why this process's view lags writes made by another process, or None when it
        reflects every write. Asks the store (never a cache)."""
        ...

    def reopen(self) -> bool:
        """Load a view with every write so far and swap it in; calls made meanwhile use the
        old one. False when there was nothing to do, or another call did it meanwhile."""
        ...


class Store(
    ChunkIndex,
    DocumentStore,
    SentenceIndex,
    ChangeFeed,
    CorpusWriter,
    HealthCheck,
    StoreView,
    Protocol,
):
    """Everything one storage backend provides."""


class LexicalSearcher(Protocol):
    """A keyword (BM25) index kept in step with a ChangeFeed."""

    @property
    def revision(self) -> str | None:
        """The feed revision it was last synced at (None: never synced)."""
        ...

    def sync(self, feed: ChangeFeed, *, wait: bool = True) -> object:
        """Catch up with the feed; ``wait=False`` may do it in the background."""
        ...

    def search(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]: ...


class ConversationLog(Protocol):
    """Conversations and feedback. When its database cannot be read, every method raises
    ConversationsUnavailableError and ``unavailable`` says why (and how to recover)."""

    def unavailable(self) -> str | None:
        """Why conversations cannot be used, or None when they can."""
        ...

    def new_id(self, owner: str | None = None) -> str: ...

    def exists(self, conversation_id: str) -> bool: ...

    def belongs_to(self, conversation_id: str, owner: str | None) -> bool: ...

    def append(self, conversation_id: str, turn: Turn, owner: str | None = None) -> None: ...

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]: ...

    def record_feedback(self, feedback: Feedback) -> int: ...

    def list_feedback(self, limit: int = 1000) -> list[dict[str, Any]]: ...


class LanguageCheck(Protocol):
    """Tells a question the models cannot read."""

    @property
    def supported(self) -> list[str]:
        """Names of the supported languages, for messages."""
        ...

    def unsupported_language(self, text: str) -> str | None:
        """The language ``text`` is confidently written in when it is not supported; None
        when it is supported or the check is unsure."""
        ...


# --------------------------------------------------------------------------- core steps


class Retriever(Protocol):
    """Finds passages for a query."""

    def search(
        self, query: str, k: int, filters: Filters | None = None, *, as_of: date | None = None
    ) -> list[Hit]:
        """Best first; with ``as_of``, as known at the end of that day (UTC): nothing
        published later, newer passages preferred."""
        ...


class Answerer(Protocol):
    """Turns a question and retrieved evidence into a cited answer."""

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer: ...

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final verified Answer."""
        ...
