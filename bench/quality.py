"""Retrieval and extractive-answer quality per retrieval mode and fusion, as `qa eval` scores it.

Usage: python bench/quality.py [--k 3,5]
Each question set runs against its own corpus (seeds/ for the seed questions, wikiqa-dev's
corpus.jsonl for its questions); the answerer sees the same k passages that hit@k scores.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("dense", {"mode": "dense"}),
    ("bm25", {"mode": "lexical"}),
    ("hybrid rrf", {"mode": "hybrid", "fusion": "rrf"}),
    ("convex a=0.5", {"mode": "hybrid", "fusion": "convex", "alpha": 0.5}),
    ("convex a=0.7", {"mode": "hybrid", "fusion": "convex", "alpha": 0.7}),
    ("convex a=0.85", {"mode": "hybrid", "fusion": "convex", "alpha": 0.85}),
]


class MemoEmbedder:
    """The service's embedder, remembering query vectors across configurations."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.dimension = inner.name, inner.dimension
        self._memo: dict[str, Any] = {}

    def embed(self, texts: Sequence[str]) -> Any:
        if len(texts) != 1:
            return self.inner.embed(texts)
        if texts[0] not in self._memo:
            self._memo[texts[0]] = self.inner.embed(texts)
        return self._memo[texts[0]]

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))


def corpus_parts(name: str, paths: list[Path]) -> Any:
    path = common.OUT / "cache" / f"corpus-{name}"
    if not (path / ".done").exists():
        shutil.rmtree(path, ignore_errors=True)
        print(f"ingesting {name} once (cached in {path.relative_to(common.ROOT)})")
        common.service(path).ingest_paths(paths)
        (path / ".done").touch()
    return common.components(path)


def evaluate(svc: Any, questions: list[Any], k: int, config: dict[str, Any]) -> Any:
    from qa.eval.scoring import score_question, totals
    from qa.retrieval import HybridRetriever

    parts, query_embedder = svc
    retriever = HybridRetriever(parts.store, query_embedder, parts.lexical, parts.store, **config)
    rows = []
    for q in questions:
        hits = retriever.search(q.question, k)
        rows.append(score_question(q, hits, parts.extractive.answer(q.question, hits, [])))
    return totals(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", default="3,5", help="cut-offs")
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    from qa.eval.scoring import load_questions

    sets = [
        ("seeds", [common.SEEDS], common.SEED_QUESTIONS),
        ("wikiqa-dev", [common.WIKIQA / "corpus.jsonl"], common.WIKIQA / "questions.jsonl"),
    ]
    ks = [int(k) for k in args.k.split(",")]
    rows: list[list[object]] = []
    plotted: dict[str, list[tuple[str, float, float]]] = {}
    for name, paths, qfile in sets:
        parts = corpus_parts(name, paths)
        svc = (parts, MemoEmbedder(parts.embedder))
        questions = load_questions(qfile)
        for k in ks:
            for label, config in CONFIGS:
                t = evaluate(svc, questions, k, config)
                rows.append(
                    [
                        name,
                        k,
                        label,
                        t.hit_at_k,
                        t.first_citation_exact,
                        t.citation_precision,
                        t.abstention,
                        t.false_abstention,
                        t.answer_match,
                    ]
                )
                if k == max(ks):
                    plotted.setdefault(name, []).append(
                        (label, t.hit_at_k or 0.0, t.first_citation_exact or 0.0)
                    )
                print(f"  {name} k={k} {label}: hit {t.hit_at_k:.3f}")
    headers = ["set", "k", "retrieval", "hit@k", "1st exact", "precision", "abstention"]
    headers += ["false abst.", "answer match"]
    text = (
        "Quality by retrieval mode (extractive answerer on the same k passages)\n\n"
        + common.table(headers, [[_pct(v) for v in row] for row in rows])
    )
    common.write_report("quality", text)
    plot(plotted, max(ks))


def _pct(value: object) -> object:
    if isinstance(value, float):
        return f"{value * 100:.1f}%"
    return "n/a" if value is None else value


def plot(plotted: dict[str, list[tuple[str, float, float]]], k: int) -> None:
    plt = common.plt()
    fig, axes = plt.subplots(1, len(plotted), figsize=(5 * len(plotted), 3.6))
    for ax, (name, items) in zip(axes, plotted.items(), strict=True):
        xs = range(len(items))
        ax.bar([x - 0.2 for x in xs], [i[1] for i in items], width=0.4, label=f"hit@{k}")
        ax.bar([x + 0.2 for x in xs], [i[2] for i in items], width=0.4, label="1st exact")
        ax.set_xticks(list(xs), [i[0] for i in items], rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(name)
        ax.legend(fontsize=8, loc="lower right")
    common.save_plot(fig, "quality")


if __name__ == "__main__":
    main()
