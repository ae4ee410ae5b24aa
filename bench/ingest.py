"""Ingestion throughput: the full pipeline vs the raw embedder vs a LangChain-tutorial pipeline.

Usage: python bench/ingest.py [--repeat N]
All three embed with the same LocalMiniLMEmbedder; tokens are the embedder's WordPiece tokens
of the chunk texts each pipeline produced (its own chunking), so tokens/s is comparable.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

import common


def pipeline(docs: list[Any], embedder: Any) -> tuple[float, int, list[str]]:
    """QAService.ingest_documents into a fresh embedded Chroma: (seconds, chunks, texts)."""
    with common.temp_dir("ingest") as tmp:
        # The very same ONNX session as the raw measurement.
        svc = common.service(tmp, embedder=embedder)
        seconds, report = common.timed(lambda: svc.ingest_documents(docs))
        texts = [chunk.text for doc in docs for chunk in common.chunk(doc, embedder)]
        return seconds, report.chunks, texts


def raw(embedder: Any, texts: list[str]) -> float:
    return common.timed(lambda: embedder.embed(texts))[0]


def langchain_tutorial(docs: list[Any], embedder: Any) -> tuple[float, list[str]]:
    """What the LangChain + Chroma tutorials do, with our embedder instead of Chroma's."""
    import chromadb
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with common.temp_dir("langchain") as tmp:
        client = chromadb.PersistentClient(
            path=str(tmp), settings=chromadb.config.Settings(anonymized_telemetry=False)
        )
        collection = client.get_or_create_collection("tutorial", embedding_function=None)

        def run() -> list[str]:
            splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
            texts: list[str] = []
            metas: list[Any] = []
            for doc in docs:
                for piece in splitter.split_text(doc.text):
                    texts.append(piece)
                    metas.append({"source": doc.source})
            vectors = embedder.embed(texts)
            batch = client.get_max_batch_size()
            for start in range(0, len(texts), batch):
                part = slice(start, start + batch)
                collection.add(
                    ids=[uuid.uuid4().hex for _ in texts[part]],
                    documents=texts[part],
                    embeddings=vectors[part],
                    metadatas=metas[part],
                )
            return texts

        seconds, texts = common.timed(run)
        return seconds, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best is kept")
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    import qa.ingest.chunking  # noqa: F401  (a one-time import, not per-token cost)
    from qa.embeddings.local import LocalMiniLMEmbedder

    docs = common.load_documents()
    embedder = LocalMiniLMEmbedder()
    embedder.embed(["warm up"])
    # Interleaved, best of N: other work on the machine slows whichever run it overlaps.
    pipe_runs, raw_runs, lc_runs = [], [], []
    texts: list[str] = []
    for _ in range(args.repeat):
        pipe_runs.append(pipeline(docs, embedder))
        texts = pipe_runs[-1][2]
        raw_runs.append(raw(embedder, texts))
        lc_runs.append(langchain_tutorial(docs, embedder))
    pipe_s, chunks, texts = min(pipe_runs, key=lambda r: r[0])
    raw_s = min(raw_runs)
    lc_s, lc_texts = min(lc_runs, key=lambda r: r[0])
    tokens = sum(embedder.count_tokens_batch(texts))
    lc_tokens = sum(embedder.count_tokens_batch(lc_texts))
    rows = [
        ["raw embedder (LocalMiniLMEmbedder.embed)", len(texts), tokens, raw_s, tokens / raw_s],
        ["qa pipeline (QAService.ingest_documents)", chunks, tokens, pipe_s, tokens / pipe_s],
        [
            "LangChain tutorial (1000/200 chars + chromadb)",
            len(lc_texts),
            lc_tokens,
            lc_s,
            lc_tokens / lc_s,
        ],
    ]
    ratio = raw_s / pipe_s
    report = (
        f"Ingestion of {len(docs)} documents (wikiqa-dev corpus + seeds), "
        f"best of {args.repeat}, fresh embedded Chroma\n\n"
        + common.table(["pipeline", "chunks", "tokens", "seconds", "tokens/s"], rows)
        + f"\n\npipeline / raw embedder = {ratio:.2f}x (the pipeline also embeds every sentence "
        "unless QA_SENTENCE_VECTORS=false)"
    )
    common.write_report("ingest", report)
    plt = common.plt()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh([r[0] for r in rows][::-1], [r[4] for r in rows][::-1], color="#4c72b0")
    ax.set_xlabel("tokens / s (higher is better)")
    ax.set_title(f"Ingestion throughput, {len(docs)} documents, 2 CPU cores")
    common.save_plot(fig, "ingest")


if __name__ == "__main__":
    main()
