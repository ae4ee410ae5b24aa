"""Keeps a long-running process (``qa serve``, the Slack bot) in step with the writes other
processes make to the same store (``qa ingest`` in another terminal).

Why polling the store's revision: it is one read by id, every writer bumps it (qa's own
change feed, in the store itself, so it works for embedded Chroma and a Chroma server alike),
and it needs no second channel that could disagree with the data (a file watch on the data
dir would miss a Chroma server, and see SQLite's own journal churn). Every ``poll_s`` the
follower asks ``StoreView.stale``; when another process wrote, it reloads the store's view
(embedded Chroma: a new client whose vector index is read from disk) and syncs the BM25
index, both off the request path: searches keep the previous state until the new one is
swapped in. ``lag`` says what is still catching up, for /readyz.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from qa.errors import QAError
from qa.ports import ChangeFeed, LexicalSearcher, StoreView

log = logging.getLogger(__name__)


class FollowedStore(StoreView, ChangeFeed, Protocol):
    """What the follower reads: the view to reload and the revision the BM25 index syncs to."""


class StoreFollower:
    """Polls ``store`` every ``poll_s`` seconds in a daemon thread (``start``/``stop``), or
    once per ``check`` call (tests, tools)."""

    def __init__(
        self,
        store: FollowedStore,
        lexical: LexicalSearcher | None = None,
        *,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._lexical = lexical
        self._poll_s = poll_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lag: str | None = None
        self._lag_since: float | None = None
        self.reloads = 0

    def check(self) -> bool:
        """One round: reload the view if another process wrote, then sync the BM25 index.
        Returns whether the view was reloaded. Store errors are raised (``run`` logs them)."""
        reason = self._store.stale()
        reloaded = False
        if reason is not None:
            self._lagging(reason)
            started = time.perf_counter()
            reloaded = self._store.reopen()
            if reloaded:
                self.reloads += 1
                log.info(
                    "store reloaded after another process's write in %.0f ms",
                    (time.perf_counter() - started) * 1000,
                )
        if self._lexical is not None:
            self._lexical.sync(self._store, wait=True)
        if reason is None or self._store.stale() is None:
            self._lag, self._lag_since = None, None
        return reloaded

    def _lagging(self, reason: str) -> None:
        if self._lag_since is None:
            self._lag_since = self._clock()
        self._lag = reason

    def lag(self) -> str | None:
        """What is catching up and for how long, or None when the last round found nothing."""
        if self._lag is None or self._lag_since is None:
            return None
        return f"{self._lag} (for {self._clock() - self._lag_since:.1f} s)"

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="qa-store-follower", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.check()
            except QAError as exc:  # the store may be down: /readyz says so; try again
                log.warning("store follower: %s", exc)
            except Exception:  # a bug must not end the thread: later writes still count
                log.exception("store follower failed")
