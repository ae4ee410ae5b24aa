"""Shared helpers for the benchmark scripts: data paths, services, tables, plots, timing."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Measure this working tree, whatever checkout the venv's editable install points at.
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
IMG = ROOT / "docs" / "img"
SHARED = Path(os.environ.get("QA_SHARED_DIR", ROOT.parent / "shared"))
WIKIQA = SHARED / "eval" / "wikiqa-dev"
SEED_QUESTIONS = SHARED / "eval" / "seed-questions.jsonl"
SEEDS = ROOT / "seeds"


def require_shared() -> None:
    """Exit with a clear message when ../shared (the eval data) is missing."""
    needed = [WIKIQA / "corpus.jsonl", WIKIQA / "questions.jsonl", SEED_QUESTIONS]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        sys.exit(
            "bench: the evaluation data is missing (" + ", ".join(missing) + "). These scripts "
            "read ../shared/eval next to the repository (or set QA_SHARED_DIR)."
        )


def settings(data_dir: Path, **overrides: Any) -> Any:
    from qa.config import Settings

    return Settings(data_dir=data_dir, _env_file=None, **overrides)


def components(data_dir: Path, embedder: Any = None, **overrides: Any) -> Any:
    """The parts of a service (qa.wiring.Components) on embedded Chroma in ``data_dir``."""
    from qa.wiring import build_components

    return build_components(settings(data_dir, **overrides), embedder=embedder)


def service_of(parts: Any) -> Any:
    """The QAService made of ``parts`` (so a bench can time one part inside it)."""
    from qa.wiring import build_service

    return build_service(parts.settings, parts=parts)


def service(data_dir: Path, embedder: Any = None, **overrides: Any) -> Any:
    """A QAService on embedded Chroma in ``data_dir`` (fresh when the folder is new), with
    ``embedder`` instead of the configured one if given."""
    from qa.wiring import build_service

    return build_service(settings(data_dir, **overrides), embedder=embedder)


def load_documents() -> list[Any]:
    """The wikiqa-dev corpus and the seed articles as Documents."""
    from qa.ingest.pipeline import load_paths

    result = load_paths([WIKIQA / "corpus.jsonl", SEEDS], max_document_bytes=10_000_000)
    if result.errors:
        sys.exit(f"bench: could not load the corpus: {result.errors[0]}")
    return result.documents


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"qa-bench-{prefix}-") as name:
        yield Path(name)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable on a terminal)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "| " + " | ".join("-" * w for w in widths) + " |",
    ]
    lines += [
        "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def write_report(name: str, text: str) -> None:
    """Print ``text`` and keep it in bench/out/NAME.md."""
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.md").write_text(text + "\n", encoding="utf-8")


def plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    return pyplot


def save_plot(fig: Any, name: str) -> Path:
    """Save to bench/out/NAME.png and copy it to docs/img/ (the docs reference those)."""
    OUT.mkdir(parents=True, exist_ok=True)
    IMG.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    (IMG / path.name).write_bytes(path.read_bytes())
    plt().close(fig)
    print(f"plot: {path.relative_to(ROOT)} (copied to docs/img/)")
    return path


def rss_mb(pid: int) -> float:
    """Resident memory of a process from /proc, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    for name in ("chromadb", "qa", "httpx", "bm25s"):
        logging.getLogger(name).setLevel(logging.WARNING)


# ------------------------------------------------------------------ scaled stores
# Bump when what ingestion stores changes: cached stores of another version are rebuilt.
CACHE_VERSION = "3 (sentence vectors and their token states stored at ingest)"
# The same for the scaled stores made of copies (``populate``).
SCALED_VERSION = CACHE_VERSION + "; 3 (copies carry their original's sentence vectors)"


def _cached(path: Path, version: str = CACHE_VERSION) -> bool:
    marker = path / ".done"
    return marker.exists() and marker.read_text(encoding="utf-8") == version


def _mark_cached(path: Path, version: str = CACHE_VERSION) -> None:
    (path / ".done").write_text(version, encoding="utf-8")


def base_data_dir() -> Path:
    """An embedded store holding the real corpus (ingested once, cached in bench/out/cache)."""
    import shutil

    path = OUT / "cache" / "base"
    if not _cached(path):
        shutil.rmtree(path, ignore_errors=True)
        print("ingesting the wikiqa-dev corpus + seeds once (cached in bench/out/cache/base)")
        service(path).ingest_documents(load_documents())
        _mark_cached(path)
    return path


def real_chunks() -> list[tuple[Any, list[Any], Any]]:
    """``(document, chunks, vectors)`` of every stored real document."""
    import numpy as np

    from qa.store.records import chunk_from_record

    store = components(base_data_dir()).store
    conn = store._db.connect()
    got = conn.chunks.get(include=["embeddings", "documents", "metadatas"])
    by_doc: dict[str, list[tuple[Any, Any]]] = {}
    for i, chunk_id in enumerate(got["ids"]):
        chunk = chunk_from_record(chunk_id, got["documents"][i], got["metadatas"][i])
        by_doc.setdefault(chunk.doc_id, []).append((chunk, got["embeddings"][i]))
    out = []
    for doc_id in sorted(by_doc):
        pairs = sorted(by_doc[doc_id], key=lambda p: p[0].index)
        doc = store.get_document(doc_id)
        vectors = np.asarray([v for _, v in pairs], dtype=np.float32)
        out.append((doc, [c for c, _ in pairs], vectors))
    return out


def real_sentences() -> dict[str, Any]:
    """``doc_id -> SentenceVectors`` of every stored real document (made at ingest)."""
    store = components(base_data_dir()).store
    found = {}
    for info in store.list_documents():
        vectors = store.sentence_vectors(info.doc_id, info.content_hash)
        if vectors is not None:
            found[info.doc_id] = vectors
    return found


def populate(store: Any, target: int, *, noise: float = 0.3, batch: int = 4000) -> int:
    """Fill ``store`` with about ``target`` chunks: the real ones, then perturbed copies.

    Copy ``c`` of a document gets doc_id ``ID~c``, the same text, its chunk vectors plus
    Gaussian noise of norm ``noise`` (renormalised; cosine to the original about 0.95), and
    its original's sentence vectors (as ingestion stores them: without them every answer
    from a copy would embed its sentences, which no ingested store makes it do).
    Written straight through ChromaStore.write: no embedding time.
    """
    import numpy as np

    from qa.types import DocumentWrite

    real = real_chunks()
    sentences = real_sentences()
    rng = np.random.default_rng(0)
    written, copy, pending, pending_chunks = 0, 0, [], 0
    started = time.perf_counter()
    while written < target:
        for real_doc, real_chunks_, real_vectors in real:
            if written >= target:
                break
            doc, chunks, vectors = real_doc, real_chunks_, real_vectors
            sentence_vectors = sentences.get(doc.doc_id)
            if copy:
                doc_id = f"{doc.doc_id}~{copy}"
                doc = doc.model_copy(update={"doc_id": doc_id, "title": f"{doc.title} ({copy})"})
                chunks = [
                    c.model_copy(update={"doc_id": doc_id, "chunk_id": f"{doc_id}:{c.index}"})
                    for c in chunks
                ]
                jitter = rng.normal(0, noise / np.sqrt(vectors.shape[1]), vectors.shape)
                vectors = vectors + jitter.astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                if sentence_vectors is not None:
                    sentence_vectors = sentence_vectors.model_copy(update={"doc_id": doc_id})
            pending.append(DocumentWrite(doc, tuple(chunks), vectors, sentence_vectors))
            pending_chunks += len(chunks)
            written += len(chunks)
            if pending_chunks >= batch:
                store.write(pending)
                pending, pending_chunks = [], 0
                print(f"\r  {written:,} chunks written", end="", flush=True)
        copy += 1
    if pending:
        store.write(pending)
    print(f"\r  {written:,} chunks written in {time.perf_counter() - started:.0f} s")
    return written


def scaled_data_dir(chunks: int) -> Path:
    """An embedded store of about ``chunks`` chunks (cached in bench/out/cache)."""
    import shutil

    real = sum(len(c) for _, c, _ in real_chunks())
    if chunks <= real:
        return base_data_dir()
    path = OUT / "cache" / f"embedded-{chunks}"
    if not _cached(path, SCALED_VERSION):
        shutil.rmtree(path, ignore_errors=True)
        print(f"building a {chunks:,}-chunk store (perturbed copies of the real chunks)")
        parts = components(path)
        parts.store.check_embedder(parts.embedder.name, parts.embedder.dimension)
        populate(parts.store, chunks)
        _mark_cached(path, SCALED_VERSION)
    return path


def chunk(doc: Any, embedder: Any) -> list[Any]:
    """``doc``'s chunks as ingestion makes them with the default settings."""
    from qa.config import Settings
    from qa.ingest.chunking import split_document

    defaults = Settings(_env_file=None)
    return split_document(
        doc,
        chunk_size=defaults.ingest.chunk_size,
        chunk_overlap=defaults.ingest.chunk_overlap,
        length_function=embedder.count_tokens,
    )
