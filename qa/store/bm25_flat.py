"""bm25s's index built from flat token ids with numpy instead of a Python loop per chunk.

``bm25s.BM25.index`` counts terms with a ``Counter`` and a set intersection per document, a
Python loop over every chunk, and every sync re-indexes everything (figures in
bench/README.md). The lexical index already keeps all token ids in one flat array with
offsets, so the same matrix can be built with a few array operations. bm25s documents
``build_index_from_ids`` as the place to build the index differently; the scores still come
from bm25s's own IDF and term-frequency functions, and a test checks the matrix equals the
one bm25s builds.
"""

from __future__ import annotations

from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt
from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer


class FlatBM25(bm25s.BM25):  # type: ignore[misc]  # bm25s ships no type hints
    """``bm25s.BM25`` plus ``index_flat``; searching and saving are bm25s's own."""

    def index_flat(
        self,
        tokens: npt.NDArray[np.integer[Any]],
        offsets: npt.NDArray[np.integer[Any]],
        vocab: dict[str, int],
    ) -> None:
        """Index chunk ``i`` = ``tokens[offsets[i]:offsets[i + 1]]`` (term ids of ``vocab``,
        numbered 0..len(vocab)-1), as ``index((token_lists, vocab))`` would."""
        if self.method in self.methods_requiring_nonoccurrence:
            raise ValueError(f"index_flat does not support method={self.method!r}")
        self.nonoccurrence_array = None
        self.scores = self._flat_scores(
            np.asarray(tokens, dtype=np.int64), np.asarray(offsets, dtype=np.int64), len(vocab)
        )
        self.vocab_dict = vocab
        self.unique_token_ids_set = set(vocab.values())

    def _flat_scores(
        self, tokens: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], n_vocab: int
    ) -> dict[str, Any]:
        lengths = np.diff(offsets)
        n_docs = len(lengths)
        # One key per (chunk, term) occurrence; unique keys give the term frequencies, in
        # chunk order and term order within a chunk.
        chunk_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        keys, tf = np.unique(chunk_of * n_vocab + tokens, return_counts=True)
        chunk, term = np.divmod(keys, n_vocab)
        doc_freq = np.bincount(term, minlength=n_vocab)
        # bm25s's IDF is a scalar function of (df, N): evaluate it once per distinct df.
        idf_of = _select_idf_scorer(self.idf_method)
        distinct, where = np.unique(doc_freq, return_inverse=True)
        idf = np.array([idf_of(int(df), N=n_docs) if df else 0.0 for df in distinct])[where]
        tfc = _select_tfc_scorer(self.method)(
            tf_array=tf.astype(self.dtype),
            l_d=lengths[chunk].astype(self.dtype),
            l_avg=lengths.mean() if n_docs else 0.0,
            k1=self.k1,
            b=self.b,
            delta=self.delta,
        )
        scores = (idf[term] * tfc).astype(self.dtype)
        # Compressed sparse columns over terms, rows (chunks) ascending within each term.
        order = np.argsort(term, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(doc_freq)]).astype(self.int_dtype)
        return {
            "data": scores[order],
            "indices": chunk[order].astype(self.int_dtype),
            "indptr": indptr,
            "num_docs": n_docs,
        }
