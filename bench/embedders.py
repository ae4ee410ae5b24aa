"""Embedding models side by side: retrieval hit@k, first-citation-exact and speed.

Usage: python bench/embedders.py [--model NAME=DIR ...] [--k 3,5]
DIR holds model.onnx (output ``last_hidden_state``) and tokenizer.json of a BERT-style
sentence encoder with mean pooling; the default int8 MiniLM always runs as the baseline.
Each model ingests wikiqa-dev + seeds into a fresh embedded Chroma and answers both
question sets (dense-only and hybrid retrieval, extractive answers from the same model).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import common


def build(name: str, directory: Path | None) -> Any:
    from qa.embeddings.local import LocalMiniLMEmbedder

    if directory is None:
        return LocalMiniLMEmbedder()
    return LocalMiniLMEmbedder(directory / "model.onnx", directory / "tokenizer.json")


def measure(label: str, embedder: Any, docs: list[Any], ks: list[int]) -> list[list[object]]:
    from qa.answering.extractive import ExtractiveAnswerer
    from qa.eval.scoring import load_questions, score_question, totals
    from qa.retrieval import HybridRetriever
    from qa.store.chroma import ChromaStore
    from qa.store.lexical import LexicalIndex

    rows: list[list[object]] = []
    with common.temp_dir("embedders") as tmp:
        svc = common.service(tmp, embedder=embedder)
        store = ChromaStore.from_settings(common.settings(tmp).store)
        lexical = LexicalIndex()
        answerer = ExtractiveAnswerer(embedder, store.get_document, sentences=store)
        embedder.embed(["warm up"])
        seconds, report = common.timed(lambda: svc.ingest_documents(docs))
        texts = [chunk.text for doc in docs for chunk in common.chunk(doc, embedder)]
        tokens = sum(embedder.count_tokens_batch(texts))
        query_s, _ = common.timed(lambda: [embedder.embed([t[:200]]) for t in texts[:100]])
        sets = [
            ("seeds", common.SEED_QUESTIONS),
            ("wikiqa-dev", common.WIKIQA / "questions.jsonl"),
        ]
        for set_name, qfile in sets:
            questions = load_questions(qfile)
            for mode in ("dense", "hybrid"):
                retriever = HybridRetriever(store, embedder, lexical, store, mode=mode)
                for k in ks:
                    scored = []
                    for q in questions:
                        hits = retriever.search(q.question, k)
                        answer = answerer.answer(q.question, hits, [])
                        scored.append(score_question(q, hits, answer))
                    t = totals(scored)
                    rows.append(
                        [
                            label,
                            set_name,
                            mode,
                            k,
                            _pct(t.hit_at_k),
                            _pct(t.first_citation_exact),
                            f"{tokens / seconds:,.0f}",
                            f"{query_s * 10:.1f}",
                        ]
                    )
        print(f"  {label}: {report.chunks} chunks, {tokens / seconds:,.0f} tokens/s ingest")
    return rows


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=[], help="NAME=DIR (repeatable)")
    parser.add_argument("--k", default="3,5")
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    ks = [int(k) for k in args.k.split(",")]
    docs = common.load_documents()
    models: list[tuple[str, Path | None]] = [("MiniLM-L6 int8 (default)", None)]
    for spec in args.model:
        name, _, directory = spec.partition("=")
        models.append((name, Path(directory)))
    rows: list[list[object]] = []
    for name, directory in models:
        rows += measure(name, build(name, directory), docs, ks)
    headers = ["model", "set", "retrieval", "k", "hit@k", "1st exact", "ingest tok/s"]
    headers += ["query ms"]
    common.write_report(
        "embedders",
        "Embedding models (each ingests wikiqa-dev + seeds; the extractive answerer uses the "
        "same model)\n\n" + common.table(headers, rows),
    )
    plt = common.plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    picked = [r for r in rows if r[1] == "wikiqa-dev" and r[2] == "hybrid" and r[3] == max(ks)]
    ax.barh([str(r[0]) for r in picked], [float(str(r[4]).rstrip("%")) for r in picked])
    ax.set_xlabel(f"wikiqa-dev hit@{max(ks)} (hybrid), %")
    common.save_plot(fig, "embedders")


if __name__ == "__main__":
    main()
