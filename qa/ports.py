"""Protocols the service depends on; adapters implement them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from qa.types import (
    Answer,
    ChatReply,
    Chunk,
    Document,
    DocumentChanges,
    DocumentInfo,
    Filters,
    Hit,
    Turn,
)

Vectors = npt.NDArray[np.float32]
#: A chat message as the OpenAI API takes it: ``{"role": ..., "content": ...}``.
Message = dict[str, str]


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


class ChunkStore(Protocol):
    """Chunks with vectors, plus full documents so any line can be quoted back."""

    def check_embedder(self, embedder_name: str, dimension: int) -> None:
        """Record the embedder on first use; raise EmbedderMismatchError on a mismatch."""
        ...

    def document_hash(self, doc_id: str) -> str | None:
        """Content hash of the stored document, or None when absent."""
        ...

    def upsert_document(self, doc: Document, chunks: Sequence[Chunk], vectors: Vectors) -> None:
        """Store a document and replace its chunks; crash-safe (see adapter docstring)."""
        ...

    def upsert_documents(self, items: Sequence[tuple[Document, Sequence[Chunk], Vectors]]) -> None:
        """``upsert_document`` for many documents in one batched write."""
        ...

    def prune_orphans(self) -> int:
        """Delete chunks whose document record is missing or newer; returns how many."""
        ...

    def delete_document(self, doc_id: str) -> bool: ...

    def get_document(self, doc_id: str) -> Document | None: ...

    def list_documents(self) -> list[DocumentInfo]: ...

    def query(self, vector: Vectors, k: int, filters: Filters | None = None) -> list[Hit]:
        """Nearest chunks by cosine similarity (``score`` in [-1, 1], higher is closer)."""
        ...

    def query_ids(
        self, vector: Vectors, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """``query`` as ``(chunk_id, cosine)`` pairs only, best first."""
        ...

    def iter_chunks(self) -> Iterator[tuple[Chunk, dict[str, object]]]:
        """Every stored chunk with its metadata, orphans included (inspection, pruning)."""
        ...

    def document_hashes(self) -> dict[str, str]:
        """``doc_id`` → ``content_hash`` of every stored document."""
        ...

    def chunks_of(self, doc_ids: Sequence[str]) -> Iterator[tuple[Chunk, dict[str, object]]]:
        """The stored chunks of these documents, with their metadata."""
        ...

    def document_changes(self, since: float) -> DocumentChanges | None:
        """Documents written or deleted at or after ``since`` (Unix seconds, the writer's
        clock), or None when the store cannot tell (then ``document_hashes`` is the way)."""
        ...

    def get_hits(self, chunk_ids: Sequence[str]) -> list[Hit]:
        """Hits for chunk ids (score 0), in the order given; unknown ids are skipped."""
        ...

    def revision(self) -> str:
        """Changes whenever chunks are added or removed by any process."""
        ...

    def ping(self) -> None:
        """Raise StoreError when the store is unreachable."""
        ...

    def sources(self) -> list[str]: ...


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


class Answerer(Protocol):
    """Turns a question and retrieved evidence into a cited answer."""

    def answer(self, question: str, hits: Sequence[Hit], history: Sequence[Turn]) -> Answer: ...

    def stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[Turn]
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final verified Answer."""
        ...


class Retriever(Protocol):
    """Finds passages for a query."""

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[Hit]: ...
