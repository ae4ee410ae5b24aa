"""BM25 index over chunks (bm25s, English stemming and stopwords), kept in sync with the store."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer

from qa.store import epoch_seconds
from qa.types import Chunk, Filters

logger = logging.getLogger(__name__)

_LANGUAGE = "english"


class ChunkSource(Protocol):
    """What ``sync`` reads; every ChunkStore is one."""

    def revision(self) -> str: ...

    def iter_chunks(self) -> Iterator[tuple[Chunk, dict[str, object]]]: ...


_local = threading.local()


def _stemmer() -> Any:
    # PyStemmer objects are not thread-safe; one per thread is cheap.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer(_LANGUAGE)
    return stemmer


def _tokenize(texts: list[str], *, ids: bool) -> Any:
    return bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), return_ids=ids, show_progress=False
    )


@dataclass(frozen=True)
class _Snapshot:
    """An immutable built index: searches read one while a rebuild prepares the next."""

    ids: list[str] = field(default_factory=list)
    vocab: dict[str, int] = field(default_factory=dict)
    retriever: bm25s.BM25 | None = None
    sources: npt.NDArray[np.object_] = field(default_factory=lambda: np.array([], dtype=object))
    doc_ids: npt.NDArray[np.object_] = field(default_factory=lambda: np.array([], dtype=object))
    # NaN where a chunk has no date: every comparison with NaN is False, as in Chroma.
    published: npt.NDArray[np.float64] = field(default_factory=lambda: np.array([], dtype=float))

    def mask(self, filters: Filters | None) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(self.ids), dtype=bool)
        if filters is None:
            return keep
        if filters.source is not None:
            keep &= np.isin(self.sources, np.array(filters.source, dtype=object))
        if filters.doc_id is not None:
            keep &= np.isin(self.doc_ids, np.array(filters.doc_id, dtype=object))
        if filters.published_after is not None:
            keep &= self.published >= epoch_seconds(filters.published_after)
        if filters.published_before is not None:
            keep &= self.published <= epoch_seconds(filters.published_before)
        return keep


def _build(items: Iterable[tuple[str, str, Mapping[str, object]]]) -> _Snapshot:
    ids: list[str] = []
    texts: list[str] = []
    sources: list[object] = []
    doc_ids: list[object] = []
    published: list[float] = []
    for chunk_id, text, meta in items:
        ids.append(chunk_id)
        texts.append(text)
        sources.append(meta.get("source"))
        doc_ids.append(meta.get("doc_id"))
        ts = meta.get("published_ts")
        published.append(float(ts) if isinstance(ts, int | float) else float("nan"))
    if not ids:
        return _Snapshot()
    tokens = _tokenize(texts, ids=True)
    retriever = None
    if tokens.vocab:  # a corpus of stopwords only has nothing to index
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
    return _Snapshot(
        ids=ids,
        vocab=dict(tokens.vocab),
        retriever=retriever,
        sources=np.array(sources, dtype=object),
        doc_ids=np.array(doc_ids, dtype=object),
        published=np.array(published, dtype=float),
    )


class LexicalIndex:
    """Keyword search over chunks. Thread-safe: rebuilds swap in a new snapshot at the end,
    so searches running meanwhile keep using the old one."""

    def __init__(self) -> None:
        self._snapshot = _Snapshot()
        self._revision: str | None = None
        self._rebuild_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._snapshot.ids)

    @property
    def revision(self) -> str | None:
        """The store revision the index was last synced at (None: never synced)."""
        return self._revision

    def rebuild(self, items: Iterable[tuple[str, str, Mapping[str, object]]]) -> None:
        """Replace the index with ``(chunk_id, text, metadata)`` items."""
        with self._rebuild_lock:
            self._swap(items, revision=None)

    def sync(self, store: ChunkSource) -> bool:
        """Rebuild from ``store`` when its revision moved; returns whether it rebuilt.

        The revision is read before the chunks, so a write landing during the rebuild
        leaves the index one revision behind and the next sync catches up.
        """
        revision = store.revision()
        if revision == self._revision:
            return False
        # While another thread rebuilds, search the current snapshot instead of queueing
        # behind the rebuild (1.4 s at 10k chunks, ~25 s at 100k); wait only when there
        # is no snapshot yet.
        if not self._rebuild_lock.acquire(blocking=self._revision is None and not self):
            return False
        try:
            if revision == self._revision:  # another thread synced while we waited
                return False
            items = ((chunk.chunk_id, chunk.text, meta) for chunk, meta in store.iter_chunks())
            self._swap(items, revision=revision)
        finally:
            self._rebuild_lock.release()
        return True

    def _swap(
        self, items: Iterable[tuple[str, str, Mapping[str, object]]], revision: str | None
    ) -> None:
        started = time.perf_counter()
        snapshot = _build(items)
        self._snapshot, self._revision = snapshot, revision
        logger.info(
            "lexical index built chunks=%d terms=%d in %.0f ms",
            len(snapshot.ids),
            len(snapshot.vocab),
            (time.perf_counter() - started) * 1000,
        )

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Best ``k`` chunk ids by BM25 score (> 0), highest first."""
        snapshot = self._snapshot
        if k <= 0 or snapshot.retriever is None:
            return []
        terms = _tokenize([query], ids=False)[0]
        token_ids = [snapshot.vocab[term] for term in terms if term in snapshot.vocab]
        if not token_ids:
            return []
        scores = np.asarray(snapshot.retriever.get_scores_from_ids(token_ids), dtype=float)
        candidates = np.flatnonzero((scores > 0) & snapshot.mask(filters))
        best = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
        return [(snapshot.ids[i], float(scores[i])) for i in best]
