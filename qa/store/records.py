"""The flat metadata schema of stored records, shared by the stores and the lexical index.

Chunk metadata holds doc_id, source, title, url, published_ts (epoch seconds; ``undated:
True`` instead when the document has no date), line/char ranges, index and the document's
content_hash; a document record holds its full text and DocumentInfo fields (``location``
only for documents read from files), with ``excluded`` and extra ``metadata`` as JSON
strings (Chroma metadata is flat); a sentence-vector record holds its spans as JSON and its
int8 rows as base64.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from qa.types import Chunk, Document, DocumentInfo, Hit, SentenceVectors

# Ids that earlier versions used for records of other kinds in the documents collection
# (stores written by them may still hold some): never valid document ids.
RESERVED_PREFIXES = ("__sentences__/", "__deleted__/", "__revision__")
# Deletion markers older than this are removed (``prune_orphans``); an index last synced
# longer ago than this lists every document instead of asking for changes.
MARKER_RETENTION_S = 7 * 24 * 3600.0


def epoch_seconds(moment: datetime) -> int:
    """Whole seconds since the Unix epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def chunk_metadata(doc: Document, chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "title": doc.title,
        "line_start": chunk.line_start,
        "line_end": chunk.line_end,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "index": chunk.index,
        "content_hash": doc.content_hash,
    }
    if doc.url:
        meta["url"] = doc.url
    if doc.published_at is not None:
        meta["published_ts"] = epoch_seconds(doc.published_at)
    else:
        meta["undated"] = True  # what a date filter that keeps undated chunks asks for
    return meta


def document_metadata(doc: Document, chunk_count: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "kind": "document",
        "doc_id": doc.doc_id,
        "source": doc.source,
        "title": doc.title,
        "content_hash": doc.content_hash,
        "line_count": len(doc.lines),
        "chunk_count": chunk_count,
        "excluded": json.dumps(sorted(doc.excluded)),
        "metadata": json.dumps(doc.metadata),
    }
    if doc.url:
        meta["url"] = doc.url
    if doc.location:
        meta["location"] = doc.location
    if doc.publisher:
        meta["publisher"] = doc.publisher
    if doc.published_at is not None:
        meta["published_at"] = doc.published_at.isoformat()
        meta["published_ts"] = epoch_seconds(doc.published_at)
    return meta


def sentences_metadata(vectors: SentenceVectors) -> dict[str, Any]:
    return {
        "doc_id": vectors.doc_id,
        "content_hash": vectors.content_hash,
        "dimension": vectors.dimension,
        "spans": json.dumps([list(span) for span in vectors.spans]),
        "vectors": base64.b64encode(vectors.data).decode("ascii"),
        **(
            {
                "token_counts": json.dumps(list(vectors.token_counts)),
                "token_dimension": vectors.token_dimension,
                "token_ids": base64.b64encode(vectors.token_ids).decode("ascii"),
                "token_rows": base64.b64encode(vectors.token_rows).decode("ascii"),
            }
            if vectors.token_counts
            else {}
        ),
    }


def sentences_from_record(meta: Mapping[str, Any]) -> SentenceVectors:
    return SentenceVectors(
        doc_id=meta["doc_id"],
        content_hash=meta["content_hash"],
        dimension=meta["dimension"],
        spans=tuple((int(a), int(b)) for a, b in json.loads(meta["spans"])),
        data=base64.b64decode(meta["vectors"]),
        token_counts=tuple(int(n) for n in json.loads(meta.get("token_counts", "[]"))),
        token_dimension=int(meta.get("token_dimension", 0)),
        token_ids=base64.b64decode(meta.get("token_ids", "")),
        token_rows=base64.b64decode(meta.get("token_rows", "")),
    )


def document_info(meta: Mapping[str, Any]) -> DocumentInfo:
    published = meta.get("published_at")
    return DocumentInfo(
        doc_id=meta["doc_id"],
        source=meta["source"],
        title=meta["title"],
        url=meta.get("url"),
        publisher=meta.get("publisher"),
        published_at=datetime.fromisoformat(published) if published else None,
        content_hash=meta["content_hash"],
        line_count=meta["line_count"],
        chunk_count=meta["chunk_count"],
        location=meta.get("location"),
        written_at=datetime.fromtimestamp(float(ts), tz=UTC)
        if (ts := meta.get("written_ts")) is not None
        else None,
    )


def chunk_from_record(chunk_id: str, text: str | None, meta: Mapping[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        index=meta["index"],
        text=text or "",
        line_start=meta["line_start"],
        line_end=meta["line_end"],
        char_start=meta["char_start"],
        char_end=meta["char_end"],
    )


def hit_from_record(chunk_id: str, text: str | None, meta: Mapping[str, Any], score: float) -> Hit:
    ts = meta.get("published_ts")
    return Hit(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        source=meta["source"],
        title=meta["title"],
        url=meta.get("url"),
        published_at=datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None,
        line_start=meta["line_start"],
        line_end=meta["line_end"],
        text=text or "",
        score=score,
    )


def document_from_record(text: str | None, meta: Mapping[str, Any]) -> Document:
    info = document_info(meta)
    return Document(
        **info.model_dump(exclude={"line_count", "chunk_count", "written_at"}),
        metadata=json.loads(str(meta.get("metadata") or "{}")),
        # "".split("\n") is [""]: the line count tells a document of no lines apart.
        lines=tuple((text or "").split("\n")) if info.line_count else (),
        excluded=frozenset(json.loads(str(meta.get("excluded") or "[]"))),
    )
