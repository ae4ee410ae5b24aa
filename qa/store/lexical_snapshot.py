"""An immutable BM25 snapshot and its on-disk form.

A snapshot is what ``LexicalIndex`` searches: chunk ids and filter columns, the stemmed token
ids of every chunk (flat, with offsets), the vocabulary, the document hashes it was built
from, the store revision, and the bm25s matrix. Saved snapshots live in versioned
directories under the cache directory; a ``current.json`` pointer is replaced atomically, so
a reader (another process, or a restart) never sees a half-written one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt

from qa.store.records import epoch_seconds
from qa.types import Filters

logger = logging.getLogger(__name__)

FORMAT = 1
_POINTER = "current.json"
ObjArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Snapshot:
    ids: ObjArray
    doc_ids: ObjArray
    sources: ObjArray
    published: npt.NDArray[np.float64]  # NaN: no date
    tokens: npt.NDArray[np.int32]  # every chunk's term ids, concatenated
    offsets: npt.NDArray[np.int64]  # chunk i's terms are tokens[offsets[i]:offsets[i + 1]]
    vocab: dict[str, int]
    doc_hashes: dict[str, str]
    revision: str | None
    retriever: bm25s.BM25 | None
    #: Unix time at which the sync that made it started (None: not from a sync): the next
    #: sync asks the store for the documents written since then.
    synced_at: float | None = None

    @classmethod
    def empty(cls) -> Snapshot:
        none = np.array([], dtype=object)
        return cls(
            ids=none,
            doc_ids=none,
            sources=none,
            published=np.array([], dtype=float),
            tokens=np.array([], dtype=np.int32),
            offsets=np.zeros(1, dtype=np.int64),
            vocab={},
            doc_hashes={},
            revision=None,
            retriever=None,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, rows: npt.NDArray[np.bool_]) -> Snapshot:
        """The snapshot restricted to ``rows`` (index, hashes and revision left as they are)."""
        if rows.all():
            return self
        lengths = np.diff(self.offsets)[rows]
        token_rows = np.repeat(rows, np.diff(self.offsets))
        return replace(
            self,
            ids=self.ids[rows],
            doc_ids=self.doc_ids[rows],
            sources=self.sources[rows],
            published=self.published[rows],
            tokens=np.asarray(self.tokens)[token_rows],
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        )

    def with_revision(
        self, revision: str, doc_hashes: dict[str, str], synced_at: float | None
    ) -> Snapshot:
        return replace(self, revision=revision, doc_hashes=doc_hashes, synced_at=synced_at)

    def mask(self, filters: Filters | None) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(self), dtype=bool)
        if filters is None:
            return keep
        if filters.source is not None:
            keep &= np.isin(self.sources, np.array(filters.source, dtype=object))
        if filters.doc_id is not None:
            keep &= np.isin(self.doc_ids, np.array(filters.doc_id, dtype=object))
        dated = np.ones(len(self.published), dtype=bool)
        if filters.published_after is not None:
            dated &= self.published >= epoch_seconds(filters.published_after)
        if filters.published_before is not None:
            dated &= self.published <= epoch_seconds(filters.published_before)
        if filters.include_undated:
            dated |= np.isnan(self.published)
        keep &= dated
        return keep


def save_snapshot(snapshot: Snapshot, root: Path, key: str) -> Path:
    """Write ``snapshot`` under ``root`` and point ``current.json`` at it; returns its dir.

    ``key`` names what the snapshot indexes (Chroma location and collection): a snapshot
    saved for another key is never loaded.
    """
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"snapshot-{uuid.uuid4().hex[:12]}"
    target.mkdir()
    try:
        np.save(target / "tokens.npy", np.asarray(snapshot.tokens))
        np.save(target / "offsets.npy", snapshot.offsets)
        np.save(target / "published.npy", snapshot.published)
        columns = {
            "ids": snapshot.ids.tolist(),
            "doc_ids": snapshot.doc_ids.tolist(),
            "sources": snapshot.sources.tolist(),
            "vocab": snapshot.vocab,
            "doc_hashes": snapshot.doc_hashes,
        }
        (target / "columns.json").write_text(json.dumps(columns), encoding="utf-8")
        if snapshot.retriever is not None:
            snapshot.retriever.save(target / "bm25", show_progress=False)
        manifest = {
            "format": FORMAT,
            "key": key,
            "revision": snapshot.revision,
            "synced_at": snapshot.synced_at,
        }
        (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        pointer = root / f".{_POINTER}.{uuid.uuid4().hex[:8]}"
        pointer.write_text(json.dumps({"dir": target.name}), encoding="utf-8")
        os.replace(pointer, root / _POINTER)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    for old in root.glob("snapshot-*"):  # a reader mid-load falls back to a full sync
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def load_snapshot(root: Path, key: str) -> Snapshot | None:
    """The snapshot ``current.json`` points at, memory-mapped; None when there is none, it
    was saved for another key or format, or it cannot be read (logged)."""
    try:
        pointer = json.loads((root / _POINTER).read_text(encoding="utf-8"))
        source = root / str(pointer["dir"])
        manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("key") != key:
            return None
        columns: dict[str, Any] = json.loads((source / "columns.json").read_text("utf-8"))
        retriever = None
        if (source / "bm25").is_dir():
            retriever = bm25s.BM25.load(source / "bm25", mmap=True, show_progress=False)
        return Snapshot(
            ids=np.array(columns["ids"], dtype=object),
            doc_ids=np.array(columns["doc_ids"], dtype=object),
            sources=np.array(columns["sources"], dtype=object),
            published=np.load(source / "published.npy"),
            tokens=np.load(source / "tokens.npy", mmap_mode="r"),
            offsets=np.load(source / "offsets.npy"),
            vocab={str(k): int(v) for k, v in columns["vocab"].items()},
            doc_hashes={str(k): str(v) for k, v in columns["doc_hashes"].items()},
            revision=manifest.get("revision"),
            retriever=retriever,
            synced_at=manifest.get("synced_at"),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("lexical index cache in %s not loaded: %s", root, exc)
        return None
