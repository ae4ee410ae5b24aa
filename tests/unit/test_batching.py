"""BatchingEmbedder: concurrent calls share model runs, results and errors reach the caller."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from qa.embeddings.batching import BatchingEmbedder
from qa.embeddings.hashing import HashingEmbedder
from qa.ports import Vectors


class Slow:
    """A HashingEmbedder whose runs take a while and can be made to fail."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder(32)
        self.name, self.dimension = self.inner.name, self.inner.dimension
        self.calls: list[int] = []
        self.fail = False
        self.started = threading.Event()
        self.release = threading.Event()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        self.started.set()
        self.release.wait(timeout=10)
        if self.fail:
            raise RuntimeError("model failed")
        return self.inner.embed(texts)


def run_concurrently(
    embedder: BatchingEmbedder, texts: list[str], results: dict[str, object]
) -> list[threading.Thread]:

    def call(text: str) -> None:
        try:
            results[text] = embedder.embed([text])
        except RuntimeError as exc:
            results[text] = exc

    threads = [threading.Thread(target=call, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    return threads


def test_concurrent_calls_are_batched_and_get_their_own_rows() -> None:
    slow = Slow()
    batching = BatchingEmbedder(slow, max_batch=32)
    results: dict[str, object] = {}
    threads = run_concurrently(batching, ["q0"], results)
    assert slow.started.wait(timeout=10)  # q0 is running alone; the rest queue behind it
    threads += run_concurrently(batching, [f"q{i}" for i in range(1, 9)], results)
    while len(batching._queue) < 8:
        threading.Event().wait(0.01)
    slow.release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert slow.calls == [1, 8]  # nine questions, two model runs
    for text, rows in results.items():
        assert np.allclose(np.asarray(rows), slow.inner.embed([text]))


def test_a_failed_run_fails_every_caller_in_it_and_the_next_run_works() -> None:
    slow = Slow()
    slow.fail = True
    batching = BatchingEmbedder(slow)
    results: dict[str, object] = {}
    threads = run_concurrently(batching, ["a"], results)
    assert slow.started.wait(timeout=10)
    threads += run_concurrently(batching, ["b", "c"], results)
    while len(batching._queue) < 2:
        threading.Event().wait(0.01)
    slow.release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 3
    assert all(isinstance(r, RuntimeError) for r in results.values())
    slow.fail = False
    assert np.allclose(batching.embed(["d"]), slow.inner.embed(["d"]))
    slow.fail = True
    with pytest.raises(RuntimeError):
        batching.embed(["e"])


def test_large_calls_pass_straight_through() -> None:
    slow = Slow()
    slow.release.set()
    batching = BatchingEmbedder(slow, max_batch=4)
    texts = [f"t{i}" for i in range(6)]
    assert np.allclose(batching.embed(texts), slow.inner.embed(texts))
    assert batching.embed([]).shape == (0, slow.dimension)
    assert batching.runs == 0 and slow.calls == [6, 0]
