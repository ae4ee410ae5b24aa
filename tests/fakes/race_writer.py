"""A process that writes its own version of the same documents as other such processes.

``python -m fakes.race_writer DATA_DIR WRITER DOCS ROUNDS START [CHROMA_URL]``: waits until
the wall clock reaches START (so every writer begins together), then each round writes
version (WRITER, ROUND) of documents ``doc-0`` .. ``doc-{DOCS-1}``, one write per document.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fakes.corpus import article, document_write
from qa.config import Settings
from qa.embeddings.hashing import HashingEmbedder
from qa.store.chroma import ChromaStore
from qa.types import DocumentWrite

EMBEDDER = HashingEmbedder(64)


def version(doc_id: str, writer: int, round_: int) -> DocumentWrite:
    """Writer ``writer``'s version in round ``round_``; the number of chunks differs too."""
    lines = [f"Writer {writer}, round {round_}: {doc_id} reports the council vote."]
    lines += [
        f"Line {n} from writer {writer} counts {n + round_} votes." for n in range(writer + 2)
    ]
    return document_write(article(doc_id, lines), EMBEDDER, sentences=True)


def main(argv: list[str]) -> int:
    data_dir, writer, docs, rounds, start = argv[:5]
    url = argv[5] if len(argv) > 5 else None
    settings = Settings(_env_file=None, data_dir=Path(data_dir), chroma_url=url)
    store = ChromaStore.from_settings(settings.store)
    store.check_embedder(EMBEDDER.name, EMBEDDER.dimension)
    store.count()  # connect before the start line
    time.sleep(max(0.0, float(start) - time.time()))
    for round_ in range(int(rounds)):
        for n in range(int(docs)):
            store.write([version(f"doc-{n}", int(writer), round_)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
