"""`kill -9` in the middle of a 300-file `qa ingest`, then the same command again: the store
holds exactly what one clean run stores (documents, chunks, sentence vectors)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from e2e.cli import ROOT, run_qa
from qa.config import Settings
from qa.wiring import build_store

FILES = 300
TOWNS = ("Arles", "Bergen", "Cork", "Dijon", "Esbjerg", "Faro", "Ghent", "Haarlem")


def write_corpus(folder: Path) -> None:
    folder.mkdir()
    for i in range(FILES):
        town = TOWNS[i % len(TOWNS)]
        (folder / f"{i:03d}.txt").write_text(
            f"{town} council note {i}\n\nThe {town} council approved budget line {i} "
            f"for {i * 7 % 97} new benches. Work starts in week {i % 52 + 1}.\n"
        )


def snapshot(data_dir: Path) -> tuple[dict[str, str], set[str], int, set[str]]:
    """Documents (id -> hash), chunk ids, the chunk count, documents with sentence vectors."""
    store = build_store(Settings(data_dir=data_dir, _env_file=None))
    documents = {info.doc_id: info.content_hash for info in store.list_documents()}
    chunks = {chunk.chunk_id for chunk, _ in store.chunks_of(sorted(documents))}
    with_sentences = {d for d, h in documents.items() if store.sentence_vectors(d, h) is not None}
    return documents, chunks, store.count(), with_sentences


def test_a_killed_ingest_run_again_equals_one_clean_run(tmp_path: Path) -> None:
    corpus = tmp_path / "news"
    write_corpus(corpus)
    killed = tmp_path / "killed"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env["QA_DATA_DIR"] = str(killed)
    with subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "-v", "ingest", str(corpus)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as run:
        assert run.stderr is not None
        deadline = time.monotonic() + 300
        try:
            for line in run.stderr:  # the first batched write is committed: kill mid-run
                if "stored documents=" in line or time.monotonic() > deadline:
                    break
            os.kill(run.pid, signal.SIGKILL)
        finally:
            run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL
    partial, _, _, _ = snapshot(killed)
    assert 0 < len(partial) < FILES  # it really was interrupted half-way

    again = run_qa(killed, "ingest", str(corpus), "--json", timeout=600)
    assert again.returncode == 0, again.stderr
    clean = tmp_path / "clean"
    assert run_qa(clean, "ingest", str(corpus), timeout=600).returncode == 0

    resumed, expected = snapshot(killed), snapshot(clean)
    assert len(expected[0]) == FILES
    assert resumed[0] == expected[0]  # the same documents, same versions
    assert resumed[1] == expected[1]  # the same chunk ids, no leftovers
    assert resumed[2] == expected[2] == len(expected[1])
    assert resumed[3] == expected[3] == set(expected[0])
