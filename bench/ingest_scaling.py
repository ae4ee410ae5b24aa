"""Ingestion time against document size: chunking and sentence splitting (every size), and
the whole ingestion with the local embedder into embedded Chroma (sizes up to --full-max).

Usage: python bench/ingest_scaling.py [--sizes 1000,4000,16000,70000] [--full-max 4000]
Documents are N short sentences ("The cat sat." repeated, the worst case for placing chunks
by their text) on one line, or one sentence per line. Linear means seconds/1k sentences
stays flat down a column.
"""

from __future__ import annotations

import argparse
import time

import common

from qa.embeddings.local import LocalMiniLMEmbedder
from qa.ingest.chunking import split_document
from qa.ingest.loaders import document_from_record
from qa.text import document_sentences


def document(sentences: int, layout: str) -> object:
    glue = " " if layout == "one line" else "\n"
    body = glue.join(["The cat sat."] * sentences)
    return document_from_record(
        {"id": f"{layout}-{sentences}", "body": body}, source="bench", default_id="x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,4000,16000,70000")
    parser.add_argument(
        "--full-max",
        type=int,
        default=4000,
        help="largest size ingested end to end (embedding dominates)",
    )
    args = parser.parse_args()
    common.quiet_logs()
    embedder = LocalMiniLMEmbedder()
    rows = []
    for layout in ("one line", "one per line"):
        for n in (int(s) for s in args.sizes.split(",")):
            doc = document(n, layout)
            started = time.perf_counter()
            chunks = split_document(
                doc, chunk_size=200, chunk_overlap=24, length_function=embedder.count_tokens
            )
            chunk_s = time.perf_counter() - started
            started = time.perf_counter()
            sentences = document_sentences(doc)
            sentence_s = time.perf_counter() - started
            full: object = "-"
            if n <= args.full_max:
                with common.temp_dir("scaling") as tmp:
                    svc = common.service(tmp, embedder=embedder)
                    full, _ = common.timed(lambda doc=doc, svc=svc: svc.ingest_documents([doc]))
            rows.append(
                [
                    layout,
                    n,
                    len(chunks),
                    len(sentences),
                    round(chunk_s, 3),
                    round(sentence_s, 3),
                    full if full == "-" else round(full, 1),
                    "-" if full == "-" else round(full / n * 1000, 2),
                ]
            )
    text = common.table(
        [
            "layout",
            "sentences",
            "chunks",
            "sentence spans",
            "chunk s",
            "sentences s",
            "ingest s",
            "ingest s/1k sentences",
        ],
        rows,
    )
    common.write_report("ingest_scaling", text)


if __name__ == "__main__":
    main()
