"""The store's write lock across real processes: embedded Chroma (a lock file) and a
`chroma run` server (a lease record in Chroma), and the lease's expiry and wait limit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.race_writer import version

from qa.config import Settings
from qa.errors import StoreError
from qa.store.chroma import ChromaStore
from qa.store.chroma_connection import ChromaConnection, CollectionNames, make_chroma_client
from qa.store.write_lock import LOCK_ID, LeaseWriteLock, LocalWriteLock

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
DOCS = 3
ROUNDS = 3
WORKER = [sys.executable, "-m", "fakes.race_writer"]


def run_writers(data_dir: Path, url: str | None) -> None:
    """WRITERS processes write their versions of the same DOCS documents at once."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    env = {k: v for k, v in env.items() if not k.startswith("QA_")}
    start = time.time() + 8.0  # every process imported chromadb and connected by then
    extra = [url] if url else []
    processes = [
        subprocess.Popen(
            [*WORKER, str(data_dir), str(writer), str(DOCS), str(ROUNDS), str(start), *extra],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )
        for writer in range(WRITERS)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-2000:]


def assert_each_document_whole(store: ChromaStore) -> None:
    versions = {
        (n, v.document.content_hash): v
        for n in range(DOCS)
        for writer in range(WRITERS)
        for round_ in range(ROUNDS)
        if (v := version(f"doc-{n}", writer, round_))
    }
    for n in range(DOCS):
        doc = store.get_document(f"doc-{n}")
        assert doc is not None
        winner = versions[(n, doc.content_hash)]
        stored = sorted(chunk.chunk_id for chunk, _ in store.chunks_of([f"doc-{n}"]))
        assert stored == sorted(c.chunk_id for c in winner.chunks)
        assert store.sentence_vectors(doc.doc_id, doc.content_hash) is not None
    assert store.orphan_chunks() == {}


def test_processes_writing_one_embedded_store(tmp_path: Path) -> None:
    store = ChromaStore.from_settings(Settings(_env_file=None, data_dir=tmp_path).store)
    # Created first: chromadb's own first-time schema creation is not safe for several
    # processes at once ("table collections already exists"), whatever qa does.
    assert store.count() == 0
    run_writers(tmp_path, None)
    assert_each_document_whole(store)
    assert (tmp_path / "chroma" / "qa-writes.lock").exists()  # the lock every process took


@pytest.mark.server
def test_processes_writing_one_chroma_server(chroma_server: str, tmp_path: Path) -> None:
    """Each process has its own data dir (as if on its own host): only the lease serialises."""
    run_writers(tmp_path, chroma_server)
    config = Settings(_env_file=None, data_dir=tmp_path, chroma_url=chroma_server).store
    assert_each_document_whole(ChromaStore.from_settings(config))


def lease(url: str, wait_s: float = 60.0, ttl: float = 120.0) -> tuple[LeaseWriteLock, Any]:
    config = Settings(_env_file=None, chroma_url=url).store.model_copy(
        update={"documents_collection": "lease-docs"}
    )
    db = ChromaConnection(
        lambda: make_chroma_client(config), CollectionNames("lease-chunks", "lease-docs")
    )
    return LeaseWriteLock(db, wait_s=wait_s, ttl=ttl), db


@pytest.mark.server
def test_a_held_lease_makes_others_wait_then_fail(chroma_server: str) -> None:
    holder, db = lease(chroma_server)
    other, _ = lease(chroma_server, wait_s=0.5)
    with holder:
        stored = db.run("read", lambda c: c.changes.get(ids=[LOCK_ID])["ids"])
        assert stored == [LOCK_ID]
        began = time.monotonic()
        with pytest.raises(StoreError, match="write lease") as raised, other:
            pass
        assert raised.value.retryable and time.monotonic() - began >= 0.5
    with other:  # released: taken at once
        pass
    assert db.run("read", lambda c: c.changes.get(ids=[LOCK_ID])["ids"]) == []


@pytest.mark.server
def test_a_lease_held_longer_than_its_ttl_is_renewed(chroma_server: str) -> None:
    # A ttl of seconds, not tenths: renewals (every ttl/3) must keep up on a loaded machine.
    holder, db = lease(chroma_server, ttl=3.0)
    other, _ = lease(chroma_server, wait_s=7.5)
    with holder:
        with pytest.raises(StoreError, match="write lease"), other:
            pass  # waited 7.5 s, 2.5 ttls: the lease was renewed, never expired
        owner = db.run("read", lambda c: c.changes.get(ids=[LOCK_ID])["metadatas"])[0]["owner"]
        assert owner == holder._token


@pytest.mark.server
def test_a_dead_holders_lease_expires(chroma_server: str) -> None:
    dead, db = lease(chroma_server, ttl=0.2)
    dead.__enter__()  # and never __exit__: its process died, and its renewals stopped
    assert dead._held is not None and dead._renewer is not None
    dead._held.set()
    dead._renewer.join()
    survivor, _ = lease(chroma_server, wait_s=10)
    began = time.monotonic()
    with survivor:
        owner = db.run("read", lambda c: c.changes.get(ids=[LOCK_ID])["metadatas"])[0]["owner"]
        assert owner == survivor._token
    assert 0.1 < time.monotonic() - began < 5


def test_local_lock_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "qa-writes.lock"
    code = (
        "import sys, time; from filelock import FileLock\n"
        f"with FileLock({str(path)!r}):\n"
        "    print('held', flush=True); time.sleep(3)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with (
            pytest.raises(StoreError, match="another process") as raised,
            LocalWriteLock(path, wait_s=0.5),
        ):
            pass
        assert raised.value.retryable
        began = time.monotonic()
        with LocalWriteLock(path, wait_s=30):  # taken once the holder is done
            assert time.monotonic() - began < 10


def test_pruning_while_another_store_object_ingests_removes_nothing(tmp_path: Path) -> None:
    """``prune_orphans`` (``qa ingest --prune``, ``qa check --repair``) from another store
    object, as another process would, while 120 documents are written in small batches."""
    config = Settings(_env_file=None, data_dir=tmp_path).store
    writer, pruner = ChromaStore.from_settings(config), ChromaStore.from_settings(config)
    assert writer.count() == pruner.count() == 0  # both connected before they race
    writes = [version(f"doc-{n}", n % WRITERS, 0) for n in range(120)]
    done = threading.Event()
    pruned: list[int] = []

    def prune() -> None:
        while not done.is_set():
            pruned.append(pruner.prune_orphans())

    thread = threading.Thread(target=prune)
    thread.start()
    try:
        for start in range(0, len(writes), 4):
            writer.write(writes[start : start + 4])
        # On a loaded machine the writes may outrun the pruner: let it finish a second pass
        # (each pass waits for the lock, so passes interleave with the writes above).
        deadline = time.monotonic() + 60
        while len(pruned) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        done.set()
        thread.join(timeout=120)
    assert len(pruned) > 1 and sum(pruned) == 0
    for item in writes:
        stored = sorted(chunk.chunk_id for chunk, _ in writer.chunks_of([item.document.doc_id]))
        assert stored == sorted(c.chunk_id for c in item.chunks)
