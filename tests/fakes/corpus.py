"""Documents, chunks and DocumentWrites from plain text, made the way ingestion makes them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np

from qa.embeddings.hashing import HashingEmbedder
from qa.embeddings.packing import pack_sentence_vectors
from qa.ingest import content_hash
from qa.ingest.chunking import split_document
from qa.ports import Embedder, Vectors
from qa.store.memory import MemoryStore
from qa.text import document_sentences
from qa.types import Chunk, Document, DocumentWrite, MetaValue, SentenceVectors

#: Small chunks (in the embedder's tokens), so a few lines of text make several chunks.
CHUNK_SIZE = 24
CHUNK_OVERLAP = 4


def article(
    doc_id: str,
    text: str | Sequence[str],
    *,
    source: str | None = None,
    title: str | None = None,
    url: str | None = None,
    publisher: str | None = None,
    published_at: datetime | None = None,
    excluded: Iterable[int] = (),
    metadata: Mapping[str, MetaValue] | None = None,
) -> Document:
    """A Document of ``text`` (a string split on newlines, or its lines), with the content
    hash ingestion would give it. Source defaults to ``<doc_id>.txt``, the title to the
    first line; ``excluded`` are 1-based line numbers."""
    lines = tuple(text.split("\n") if isinstance(text, str) else text)
    fields: dict[str, object] = {
        "doc_id": doc_id,
        "source": source or f"{doc_id}.txt",
        "title": title or (lines[0] if lines else doc_id),
        "url": url,
        "publisher": publisher,
        "published_at": published_at,
        "metadata": dict(metadata or {}),
        "lines": lines,
        "excluded": frozenset(excluded),
    }
    return Document.model_validate({**fields, "content_hash": content_hash(fields)})


def chunk(
    doc: Document,
    embedder: Embedder,
    *,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
) -> list[Chunk]:
    """``doc``'s chunks by qa's own chunker, sized in ``embedder``'s tokens."""
    return split_document(
        doc,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        length_function=embedder.count_tokens,
    )


def pack_sentences(doc: Document, embedder: Embedder) -> SentenceVectors:
    """Every sentence of ``doc`` embedded and packed as int8 rows, as ingestion stores them."""
    sentences = document_sentences(doc)
    vectors = (
        embedder.embed([s.text for s in sentences])
        if sentences
        else np.zeros((0, embedder.dimension), dtype=np.float32)
    )
    return pack_sentence_vectors(doc, sentences, vectors)


def document_write(
    doc: Document,
    embedder: Embedder,
    *,
    sentences: bool = False,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
) -> DocumentWrite:
    """What ingestion hands the store for ``doc``: its chunks, their vectors, and (when
    ``sentences``) its sentence vectors."""
    chunks = chunk(doc, embedder, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    vectors: Vectors = (
        embedder.embed([c.text for c in chunks])
        if chunks
        else np.zeros((0, embedder.dimension), dtype=np.float32)
    )
    return DocumentWrite(
        document=doc,
        chunks=tuple(chunks),
        vectors=vectors,
        sentences=pack_sentences(doc, embedder) if sentences else None,
    )


def memory_store(
    docs: Iterable[Document] = (),
    embedder: Embedder | None = None,
    *,
    sentences: bool = False,
) -> MemoryStore:
    """A MemoryStore holding ``docs`` (embedded with ``embedder``, default HashingEmbedder)."""
    embedder = embedder or HashingEmbedder()
    store = MemoryStore()
    store.check_embedder(embedder.name, embedder.dimension)
    store.write([document_write(doc, embedder, sentences=sentences) for doc in docs])
    return store
