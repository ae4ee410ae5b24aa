"""BM25 index over chunks (bm25s, English stemming and stopwords), kept in sync with the store.

Syncing is incremental by document: the store's document hashes are compared with the ones
the index was built from, and only new or changed documents' chunks are read and tokenized.
After the first sync the store is asked only for the documents written or deleted since the
previous sync began (``document_changes``), instead of for every hash. The BM25 matrix is
then recomputed from the kept flat token ids with array operations (``FlatBM25``; figures in
bench/README.md). With a cache directory, every synced snapshot is saved there, and a
restart loads it (memory-mapped) and syncs the difference instead of reading every chunk
back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt

from qa.ports import ChangeFeed
from qa.store.bm25_flat import FlatBM25
from qa.store.lexical_snapshot import Snapshot, load_snapshot, save_snapshot
from qa.store.records import MARKER_RETENTION_S
from qa.text import stemmer
from qa.types import Filters

logger = logging.getLogger(__name__)

#: How far behind another writer's clock may be: changes stamped this long before the last
#: sync began are read again (a re-read of an unchanged document costs nothing).
CLOCK_SKEW_S = 300.0
#: How long a search waits for another thread's sync of a small index before using the
#: current snapshot (see ``LexicalIndex.sync``).
BUSY_WAIT_S = 5.0

Row = tuple[str, str, Mapping[str, object]]  # chunk_id, text, metadata


def _terms(texts: list[str]) -> list[list[str]]:
    terms: list[list[str]] = bm25s.tokenize(
        texts, stopwords="en", stemmer=stemmer(), return_ids=False, show_progress=False
    )
    return terms


_TOKENIZE_BATCH = 10_000  # term strings are short-lived: ids are kept, not strings


def _token_ids(texts: list[str], vocab: dict[str, int]) -> list[list[int]]:
    """Stemmed term ids of ``texts``, adding unseen terms to ``vocab``."""
    out = []
    for start in range(0, len(texts), _TOKENIZE_BATCH):
        for terms in _terms(texts[start : start + _TOKENIZE_BATCH]):
            out.append([vocab.setdefault(term, len(vocab)) for term in terms])
    return out


def _index(
    tokens: npt.NDArray[np.int32], offsets: npt.NDArray[np.int64], vocab: dict[str, int]
) -> bm25s.BM25 | None:
    if not len(tokens):  # no chunks, or nothing but stopwords: nothing to index
        return None
    retriever = FlatBM25()
    retriever.index_flat(tokens, offsets, vocab)
    return retriever


def _snapshot(
    kept: Snapshot, rows: Sequence[Row], doc_hashes: dict[str, str], revision: str | None
) -> Snapshot:
    """``kept``'s rows plus ``rows``, re-indexed."""
    vocab = dict(kept.vocab)
    new_tokens = _token_ids([text for _, text, _ in rows], vocab)
    new_lengths = np.fromiter(map(len, new_tokens), dtype=np.int64, count=len(new_tokens))
    # The kept rows are flat already: only the new ones are flattened.
    tokens = np.concatenate(
        [
            np.asarray(kept.tokens, dtype=np.int32),
            np.fromiter((t for doc in new_tokens for t in doc), dtype=np.int32),
        ]
    )
    offsets = np.concatenate([kept.offsets, kept.offsets[-1] + np.cumsum(new_lengths)])
    published = [meta.get("published_ts") for _, _, meta in rows]
    return Snapshot(
        ids=np.concatenate([kept.ids, np.array([r[0] for r in rows], dtype=object)]),
        doc_ids=np.concatenate(
            [kept.doc_ids, np.array([r[2].get("doc_id") for r in rows], dtype=object)]
        ),
        sources=np.concatenate(
            [kept.sources, np.array([r[2].get("source") for r in rows], dtype=object)]
        ),
        # NaN where a chunk has no date: every comparison with NaN is False, as in Chroma.
        published=np.concatenate(
            [
                kept.published,
                np.array(
                    [float(p) if isinstance(p, int | float) else np.nan for p in published],
                    dtype=float,
                ),
            ]
        ),
        tokens=tokens,
        offsets=offsets,
        vocab=vocab,
        doc_hashes=doc_hashes,
        revision=revision,
        retriever=_index(tokens, offsets, vocab),
    )


class LexicalIndex:
    """Keyword search over chunks. Thread-safe: a sync builds a new snapshot and swaps it in
    at the end, so searches running meanwhile keep using the old one."""

    def __init__(
        self, cache_dir: Path | None = None, *, cache_key: str = "", inline_max: int = 50_000
    ) -> None:
        """``inline_max``: up to this many chunks a search that notices a write syncs
        before it answers (well under a second); a bigger index syncs in a background
        thread and searches use the previous snapshot until it is swapped in."""
        self._snapshot = Snapshot.empty()
        self._rebuild_lock = threading.Lock()
        self._cache_dir = cache_dir
        self._cache_key = cache_key
        self._cache_tried = cache_dir is None
        self._inline_max = inline_max

    def __len__(self) -> int:
        return len(self._snapshot.ids)

    @property
    def revision(self) -> str | None:
        """The store revision the index was last synced at (None: never synced)."""
        return self._snapshot.revision

    def rebuild(self, items: Iterable[Row]) -> None:
        """Replace the index with ``(chunk_id, text, metadata)`` items (not tied to a store:
        the next ``sync`` reads every document again)."""
        with self._rebuild_lock:
            self._swap(_snapshot(Snapshot.empty(), list(items), {}, None), "rebuilt")

    def sync(self, store: ChangeFeed, *, wait: bool = True) -> bool:
        """Bring the index up to ``store``'s revision; returns whether it changed.

        The revision is read before the documents, so a write landing during the sync
        leaves the index one revision behind and the next sync catches up. While another
        thread syncs, an index of up to ``inline_max`` chunks waits for it (at most BUSY_WAIT_S)
        and then catches up, so that a search after this process's own write sees it; a
        bigger one uses its current snapshot rather than queueing behind the sync.
        ``wait=False`` (searches): an index bigger than ``inline_max`` chunks syncs in a
        background thread and this call returns False.
        """
        revision = store.revision()
        if revision == self.revision:
            return False
        first = self.revision is None and not self
        if not self._rebuild_lock.acquire(blocking=first) and (
            # Another thread is syncing, maybe to a revision before this process's latest
            # write. An index of up to ``inline_max`` chunks syncs in well under a second:
            # wait for it and catch up, so a search right after a write sees it. A bigger
            # one keeps serving its current snapshot.
            len(self) > self._inline_max or not self._rebuild_lock.acquire(timeout=BUSY_WAIT_S)
        ):
            return False
        if not wait and not first and len(self) > self._inline_max:
            threading.Thread(
                target=self._sync_in_background,
                args=(store, revision),
                name="qa-lexical-sync",
                daemon=True,
            ).start()  # it releases the lock
            return False
        try:
            if not self._cache_tried:
                self._cache_tried = True
                self._load_cache()
            if revision == self.revision:  # synced by another thread, or loaded from cache
                return True
            self._sync(store, revision)
        finally:
            self._rebuild_lock.release()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no sync (nor its save) is running; False on timeout."""
        if not self._rebuild_lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        self._rebuild_lock.release()
        return True

    def _sync_in_background(self, store: ChangeFeed, revision: str) -> None:
        try:
            if revision != self.revision:  # another thread may have synced meanwhile
                self._sync(store, revision)
        except Exception as exc:  # the store may be down: the next search tries again
            logger.warning("lexical index sync failed: %s: %s", type(exc).__name__, exc)
        finally:
            self._rebuild_lock.release()

    def _sync(self, store: ChangeFeed, revision: str) -> None:
        started, synced_at = time.perf_counter(), time.time()
        old = self._snapshot
        hashes = self._document_hashes(store, old)
        unchanged = {d for d, h in old.doc_hashes.items() if hashes.get(d) == h}
        fresh = sorted(d for d in hashes if d not in unchanged)
        rows = [(chunk.chunk_id, chunk.text, meta) for chunk, meta in store.chunks_of(fresh)]
        kept = old.keep(np.fromiter((d in unchanged for d in old.doc_ids), bool, len(old)))
        if len(kept) == len(old) and not rows:
            snapshot = old.with_revision(revision, hashes, synced_at)
        else:
            snapshot = replace(_snapshot(kept, rows, hashes, revision), synced_at=synced_at)
        self._swap(
            snapshot,
            f"synced (+{len(rows)} -{len(old) - len(kept)} chunks from {len(fresh)} documents)",
            started,
        )
        if self._cache_dir is not None:
            try:
                save_snapshot(snapshot, self._cache_dir, self._cache_key)
            except OSError as exc:
                logger.warning("lexical index not saved to %s: %s", self._cache_dir, exc)

    @staticmethod
    def _document_hashes(store: ChangeFeed, old: Snapshot) -> dict[str, str]:
        """The store's ``doc_id -> content_hash``: the old snapshot's updated with what was
        written or deleted since its sync began (less a margin for clock skew between
        writers), or a full listing when there is no such snapshot or the store cannot tell.
        The listing grows with the store, the changes only with the writes since the last
        sync (figures at 1M chunks in bench/README.md)."""
        changes = None
        since = old.synced_at
        # Older than the markers' retention: deletions since then may have been pruned.
        if since is not None and time.time() - since < MARKER_RETENTION_S - CLOCK_SKEW_S:
            changes = store.document_changes(since - CLOCK_SKEW_S)
        if changes is None:
            return store.document_hashes()
        hashes = {d: h for d, h in old.doc_hashes.items() if d not in changes.deleted}
        hashes.update(changes.written)
        return hashes

    def _load_cache(self) -> None:
        assert self._cache_dir is not None
        started = time.perf_counter()
        snapshot = load_snapshot(self._cache_dir, self._cache_key)
        if snapshot is not None:
            self._swap(snapshot, f"loaded from {self._cache_dir}", started)

    def _swap(self, snapshot: Snapshot, how: str, started: float | None = None) -> None:
        self._snapshot = snapshot
        took = "" if started is None else f" in {(time.perf_counter() - started) * 1000:.0f} ms"
        logger.info(
            "lexical index %s: chunks=%d terms=%d%s", how, len(snapshot), len(snapshot.vocab), took
        )

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Best ``k`` chunk ids by BM25 score (> 0), highest first."""
        snapshot = self._snapshot
        if k <= 0 or snapshot.retriever is None:
            return []
        token_ids = [snapshot.vocab[t] for t in _terms([query])[0] if t in snapshot.vocab]
        if not token_ids:
            return []
        scores = np.asarray(snapshot.retriever.get_scores_from_ids(token_ids), dtype=float)
        candidates = np.flatnonzero((scores > 0) & snapshot.mask(filters))
        if len(candidates) > k:  # partial sort: at 1M chunks most share some query term
            top = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = np.sort(candidates[top])
        best = candidates[np.argsort(-scores[candidates], kind="stable")[:k]]
        return [(str(snapshot.ids[i]), float(scores[i])) for i in best]
