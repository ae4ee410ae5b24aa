"""Dynamic batching: concurrent small ``embed`` calls share one model run.

Under load, each search embeds one short question, and a model run on a batch of eight costs
far less than eight runs. No timer, no extra thread: the first caller runs a batch with
whatever is queued; callers arriving meanwhile queue up and the next free one runs them all
together. A single caller is never delayed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.ports import Embedder, TokenEmbedder, Vectors, token_source


@dataclass(eq=False)
class _Request:
    texts: list[str]
    result: Vectors | None = None
    error: BaseException | None = None
    done: bool = False


class BatchingEmbedder:
    """An Embedder that coalesces concurrent calls of fewer than ``max_batch`` texts."""

    def __init__(self, inner: Embedder, max_batch: int = 32) -> None:
        self.inner = inner
        self.name = inner.name
        # The local MiniLM's token states, reached through this wrapper (evidence ranking).
        self.tokens: TokenEmbedder | None = token_source(inner)
        self.dimension = inner.dimension
        self._max_batch = max_batch
        self._queue: deque[_Request] = deque()
        self._busy = False
        self._cond = threading.Condition()
        self.runs = 0  # batched model runs made

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) >= self._max_batch or not texts:  # big enough alone (ingestion)
            return self.inner.embed(texts)
        request = _Request(list(texts))
        with self._cond:
            self._queue.append(request)
            while not request.done:
                if self._busy:
                    self._cond.wait()
                    continue
                self._busy = True
                batch = self._take()
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _take(self) -> list[_Request]:
        first = self._queue.popleft()
        batch, size = [first], len(first.texts)
        while self._queue and size + len(self._queue[0].texts) <= self._max_batch:
            size += len(self._queue[0].texts)
            batch.append(self._queue.popleft())
        return batch

    def _run(self, batch: list[_Request]) -> None:
        try:
            self.runs += 1
            vectors = np.asarray(self.inner.embed([t for r in batch for t in r.texts]))
        except BaseException as exc:  # every caller in the batch sees the failure
            for request in batch:
                request.error, request.done = exc, True
            return
        at = 0
        for request in batch:
            request.result = vectors[at : at + len(request.texts)]
            request.done = True
            at += len(request.texts)
