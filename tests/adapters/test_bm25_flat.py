"""FlatBM25 builds the same matrix bm25s builds, from flat token ids."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from qa.store.bm25_flat import FlatBM25


def corpus(seed: int, chunks: int, vocab: int) -> tuple[list[list[int]], dict[str, int]]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 40, chunks)  # some chunks are empty (stopwords only)
    lists = [(rng.zipf(1.5, n) % vocab).tolist() for n in lengths]
    used = sorted({t for chunk in lists for t in chunk})
    renumber = {t: i for i, t in enumerate(used)}  # ids 0..V-1, as LexicalIndex numbers them
    return [[renumber[t] for t in chunk] for chunk in lists], {
        f"t{t}": i for t, i in renumber.items()
    }


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire"])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_scores_as_bm25s(method: str, seed: int) -> None:
    lists, vocab = corpus(seed, 300, 500)
    reference = bm25s.BM25(method=method)
    reference.index((lists, vocab), create_empty_token=False, show_progress=False)
    flat = FlatBM25(method=method)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in lists])])
    flat.index_flat(np.array([t for c in lists for t in c], dtype=np.int32), offsets, vocab)

    assert flat.scores["num_docs"] == reference.scores["num_docs"] == 300
    np.testing.assert_array_equal(flat.scores["indptr"], reference.scores["indptr"])
    rng = np.random.default_rng(seed)
    for _ in range(50):
        query = rng.choice(len(vocab), size=3).tolist()
        np.testing.assert_allclose(
            flat.get_scores_from_ids(query), reference.get_scores_from_ids(query), rtol=1e-5
        )


def test_saved_and_loaded_like_any_bm25s_index(tmp_path: object) -> None:
    lists, vocab = corpus(2, 50, 80)
    flat = FlatBM25()
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in lists])])
    flat.index_flat(np.array([t for c in lists for t in c], dtype=np.int32), offsets, vocab)
    flat.save(str(tmp_path), show_progress=False)
    loaded = bm25s.BM25.load(str(tmp_path), show_progress=False)
    np.testing.assert_array_equal(
        loaded.get_scores_from_ids([0, 1]), flat.get_scores_from_ids([0, 1])
    )


def test_methods_needing_non_occurrence_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="bm25l"):
        FlatBM25(method="bm25l").index_flat(np.array([0]), np.array([0, 1]), {"a": 0})
