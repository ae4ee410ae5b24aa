"""The lock that serialises a Chroma store's writes across threads, processes and hosts.

Every write of a document is three Chroma calls (new chunks, the record, deleting the chunks
that are not the new version's): two writers of one id interleaving them each delete the
other's chunks, and the document is left with none. So writes, deletions and pruning hold
this lock for all three steps; the last writer to take it wins, whole.

One lock per store, not per document: embedded Chroma commits one write at a time anyway
(SQLite), chunking and embedding happen before the lock is taken, and a write of a batch of
documents needs no ordering of many locks (no deadlock to avoid). Two kinds:

- ``LocalWriteLock``: embedded Chroma (one data directory, one host). A ``filelock`` file
  beside the data; the OS drops it when a process dies, so a crash never blocks writers.
- ``LeaseWriteLock``: a Chroma server shared by processes on any number of hosts, where a
  lock file cannot reach. A lease record in the store itself: Chroma's ``add`` ignores an id
  that exists, so the first ``add`` wins and reading the record back says who holds it. A
  lease is renewed every ``ttl``/3 while held; one whose holder died expires after ``ttl``
  seconds and is removed by compare-and-delete (``delete`` of the id *where* the owner is
  the stale one).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from qa.errors import StoreError
from qa.store.chroma_connection import ChromaCollections, ChromaConnection

__all__ = ["LOCK_ID", "LeaseWriteLock", "LocalWriteLock", "WriteLock"]

logger = logging.getLogger(__name__)

LOCK_ID = "lock/writes"  # in the changes collection
WAIT_S = 300.0  # a writer waits this long for the lock, then fails (retryable)
LEASE_TTL_S = 120.0  # a lease older than this was left by a dead process


def _delete_lease(conn: ChromaCollections, owner: str) -> None:
    """Compare-and-delete: the lease goes only if ``owner`` still holds it."""
    conn.changes.delete(ids=[LOCK_ID], where={"owner": owner})


class WriteLock:
    """A re-usable, non re-entrant context manager; the base holds the in-process part."""

    def __init__(self, wait_s: float = WAIT_S) -> None:
        self._threads = threading.Lock()
        self._wait_s = wait_s

    def __enter__(self) -> None:
        if not self._threads.acquire(timeout=self._wait_s):
            raise StoreError(f"no write lock after {self._wait_s:.0f}s", retryable=True)
        try:
            self._acquire()
        except BaseException:
            self._threads.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._release()
        finally:
            self._threads.release()

    def _acquire(self) -> None:
        """Take the cross-process part (the base has none)."""

    def _release(self) -> None:
        """Give the cross-process part back."""


class LocalWriteLock(WriteLock):
    """A lock file (``filelock``) for every process writing one embedded Chroma directory."""

    def __init__(self, path: Path, wait_s: float = WAIT_S) -> None:
        super().__init__(wait_s)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = FileLock(path, thread_local=False)

    def _acquire(self) -> None:
        try:
            self._file.acquire(timeout=self._wait_s)
        except Timeout as exc:
            raise StoreError(
                f"another process has held {self.path} for over {self._wait_s:.0f}s",
                retryable=True,
            ) from exc

    def _release(self) -> None:
        self._file.release()


class LeaseWriteLock(WriteLock):
    """A lease record in the store's changes collection: for a Chroma server on any host."""

    def __init__(
        self,
        db: ChromaConnection,
        *,
        ttl: float = LEASE_TTL_S,
        wait_s: float = WAIT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(wait_s)
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._token = ""
        self._held: threading.Event | None = None
        self._renewer: threading.Thread | None = None

    def _acquire(self) -> None:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self._wait_s
        pause = 0.005
        while True:
            holder = self._db.run("write_lock", lambda c: self._try(c, token))
            if holder is None:
                self._token = token
                self._held = threading.Event()
                self._renewer = threading.Thread(
                    target=self._renew, args=(token, self._held), daemon=True
                )
                self._renewer.start()
                return
            if not holder:
                continue
            if float(holder.get("expires_ts", 0.0)) < self._clock():
                stale = str(holder.get("owner", ""))
                logger.warning("removing an expired write lease (owner %s)", stale[:8])
                self._db.run("write_lock", partial(_delete_lease, owner=stale))
                continue
            if time.monotonic() > deadline:
                raise StoreError(
                    f"another writer has held the store's write lease for over {self._wait_s:.0f}s",
                    retryable=True,
                )
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.2)

    def _try(self, conn: ChromaCollections, token: str) -> dict[str, Any] | None:
        """Add our lease (ignored if one exists); None when ours is the one stored."""
        conn.changes.add(
            ids=[LOCK_ID],
            embeddings=np.ones((1, 1), dtype=np.float32),
            metadatas=[{"kind": "lock", "owner": token, "expires_ts": self._clock() + self._ttl}],
        )
        metas = conn.changes.get(ids=[LOCK_ID], include=["metadatas"])["metadatas"] or []
        if not metas:
            return {}  # removed between our add and our read: try again at once
        holder = dict(metas[0])
        return None if holder.get("owner") == token else holder

    def _renew(self, token: str, released: threading.Event) -> None:
        """While held, push the lease's expiry on every ttl/3 (a long prune outlives ttl)."""
        while not released.wait(self._ttl / 3):

            def extend(conn: ChromaCollections) -> None:
                metas = conn.changes.get(ids=[LOCK_ID], include=["metadatas"])["metadatas"]
                if metas and metas[0].get("owner") == token:
                    expires = self._clock() + self._ttl
                    conn.changes.update(
                        ids=[LOCK_ID],
                        metadatas=[{"kind": "lock", "owner": token, "expires_ts": expires}],
                    )

            try:
                self._db.run("write_lock_renew", extend)
            except StoreError:
                logger.warning("could not renew the write lease; retrying")

    def _release(self) -> None:
        if self._held is not None and self._renewer is not None:
            self._held.set()
            self._renewer.join()
        token, self._token = self._token, ""
        self._db.run("write_unlock", partial(_delete_lease, owner=token))
