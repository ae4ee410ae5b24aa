"""Embedded Chroma written by another process: this process notices, answers without errors
meanwhile, and reloads (ChromaStore.stale / reopen, and the StoreFollower)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakes.corpus import article, document_write

from qa.config import StoreSettings
from qa.embeddings.hashing import HashingEmbedder
from qa.follower import StoreFollower
from qa.store import chroma_connection
from qa.store.chroma import ChromaStore
from qa.store.lexical import LexicalIndex
from qa.types import Filters

ROOT = Path(__file__).resolve().parents[2]
EMBEDDER = HashingEmbedder(64)

FIRST = "The harbour council approved a new ferry timetable for the winter months."
SECOND = "Volcanologists recorded a sharp rise in sulphur emissions near the crater rim."


def write_in_another_process(data_dir: Path, doc_id: str, text: str) -> None:
    """Store one article from a separate Python process (what `qa ingest` does)."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from fakes.corpus import article, document_write
        from qa.config import StoreSettings
        from qa.embeddings.hashing import HashingEmbedder
        from qa.store.chroma import ChromaStore

        embedder = HashingEmbedder(64)
        store = ChromaStore.from_settings(StoreSettings(data_dir=Path({str(data_dir)!r})))
        store.check_embedder(embedder.name, embedder.dimension)
        store.write([document_write(article({doc_id!r}, {text!r}), embedder)])
        """
    )
    env_path = f"{ROOT}:{ROOT / 'tests'}"
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


@pytest.fixture
def store(tmp_path: Path) -> ChromaStore:
    store = ChromaStore.from_settings(StoreSettings(data_dir=tmp_path, revision_poll_s=0))
    store.check_embedder(EMBEDDER.name, EMBEDDER.dimension)
    store.write([document_write(article("first", FIRST), EMBEDDER)])
    return store


def nearest_docs(store: ChromaStore, text: str, filters: Filters | None = None) -> set[str]:
    ids = store.query_ids(EMBEDDER.embed([text])[0], 10, filters)
    return {hit.doc_id for hit in store.get_hits([chunk_id for chunk_id, _ in ids])}


def test_another_process_write_is_noticed_survived_and_loaded(
    store: ChromaStore, tmp_path: Path
) -> None:
    assert nearest_docs(store, FIRST) == {"first"}  # the vector index is loaded now
    assert store.stale() is None
    write_in_another_process(tmp_path, "second", SECOND)

    reason = store.stale()
    assert reason is not None and "another process" in reason
    # Before this change: "Error finding id" (a 503) until the server itself wrote. A filtered
    # query on the lagging index is answered on a fresh client instead.
    assert nearest_docs(store, SECOND, Filters(doc_id=["second"])) == {"second"}

    assert store.reopen() is True
    assert store.stale() is None
    assert nearest_docs(store, SECOND) == {"first", "second"}


def test_own_writes_are_not_mistaken_for_another_process(store: ChromaStore) -> None:
    nearest_docs(store, FIRST)
    store.write([document_write(article("third", SECOND), EMBEDDER)])
    assert store.stale() is None
    store.delete_document("third")
    assert store.stale() is None


def test_a_write_of_another_process_before_an_own_write_still_counts(
    store: ChromaStore, tmp_path: Path
) -> None:
    nearest_docs(store, FIRST)
    write_in_another_process(tmp_path, "second", SECOND)
    store.write([document_write(article("third", "A short note on tides."), EMBEDDER)])
    assert store.stale() is not None  # the other process's write is not in view yet


def test_follower_reloads_the_store_and_the_bm25_index(store: ChromaStore, tmp_path: Path) -> None:
    lexical = LexicalIndex()
    follower = StoreFollower(store, lexical, poll_s=0.05)
    follower.check()
    assert follower.lag() is None
    assert [doc for doc, _ in lexical.search("sulphur crater", 3)] == []

    write_in_another_process(tmp_path, "second", SECOND)
    assert follower.check() is True
    assert follower.reloads == 1 and follower.lag() is None
    assert store.stale() is None
    found = lexical.search("sulphur crater", 3)
    assert found and found[0][0].startswith("second:")
    assert follower.check() is False  # nothing new: nothing reloaded


def test_replaced_clients_are_stopped_so_reloads_do_not_pile_up_file_handles(
    store: ChromaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chroma_connection, "RETIRE_AFTER_S", 0.0)

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    for _ in range(5):
        store.reopen()
    before = open_files()
    for _ in range(30):
        store.reopen()
        assert nearest_docs(store, FIRST) == {"first"}
    # Each client holds ~15 handles (SQLite, index files); unstopped, 30 reloads would keep
    # ~450 open until the garbage collector breaks chromadb's reference cycles.
    assert open_files() - before < 60
