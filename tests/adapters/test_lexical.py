"""LexicalIndex: BM25 ranking with stemming and stopwords, filters, revision-driven resync."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embeddings.hashing import HashingEmbedder
from qa.store.chroma import ChromaStore
from qa.store.lexical import LexicalIndex
from qa.store.records import MARKER_RETENTION_S
from qa.types import Chunk, Document, DocumentChanges, DocumentWrite, Filters

JULY = datetime(2021, 7, 6, tzinfo=UTC)
ITEMS: list[tuple[str, str, dict[str, object]]] = [
    (
        "a:0",
        "Taliban fighters attacked border posts in Badakhshan.",
        {"doc_id": "a", "source": "asianews", "published_ts": int(JULY.timestamp())},
    ),
    (
        "a:1",
        "Putin offered help to Tajikistan in a telephone call.",
        {"doc_id": "a", "source": "asianews", "published_ts": int(JULY.timestamp())},
    ),
    (
        "r:0",
        "Afghan soldiers crossed the border fleeing the attack.",
        {
            "doc_id": "r",
            "source": "rt",
            "published_ts": int((JULY + timedelta(days=2)).timestamp()),
        },
    ),
    (
        "u:0",
        "The border attacks continued; the border stayed closed.",
        {"doc_id": "u", "source": "rt"},
    ),
]


@pytest.fixture
def index() -> LexicalIndex:
    built = LexicalIndex()
    built.rebuild(ITEMS)
    return built


def ids(results: list[tuple[str, float]]) -> list[str]:
    return [chunk_id for chunk_id, _ in results]


def test_ranking_with_stemming(index: LexicalIndex) -> None:
    assert len(index) == 4
    results = index.search("attacks on the borders", k=10)
    # "attacks"/"attacked"/"attack" share a stem; u:0 repeats "border" and "attack".
    assert ids(results)[0] == "u:0"
    assert set(ids(results)) == {"u:0", "a:0", "r:0"}
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    assert ids(index.search("Tajikistan", k=10)) == ["a:1"]
    assert len(index.search("border", k=2)) == 2


def test_no_known_terms_or_stopwords_only(index: LexicalIndex) -> None:
    assert index.search("the of and", k=5) == []
    assert index.search("zyzzyva", k=5) == []
    assert index.search("", k=5) == []
    assert index.search("border", k=0) == []


def test_empty_index() -> None:
    empty = LexicalIndex()
    assert len(empty) == 0
    assert empty.search("border", k=5) == []
    empty.rebuild([("x", "the and of", {"doc_id": "x"})])  # only stopwords
    assert len(empty) == 1
    assert empty.search("the", k=5) == []


def test_filters(index: LexicalIndex) -> None:
    query = "border attack"
    assert set(ids(index.search(query, 10, Filters(source=["rt"])))) == {"r:0", "u:0"}
    assert ids(index.search(query, 10, Filters(doc_id=["a"]))) == ["a:0"]
    later = Filters(published_after=JULY + timedelta(days=1))
    assert ids(index.search(query, 10, later)) == ["r:0"]  # u:0 has no date: excluded
    earlier = Filters(published_before=datetime(2021, 7, 6))  # naive = UTC, inclusive
    assert ids(index.search(query, 10, earlier)) == ["a:0"]
    as_of = earlier.model_copy(update={"include_undated": True})  # a question's as_of
    assert set(ids(index.search(query, 10, as_of))) == {"a:0", "u:0"}
    assert index.search(query, 10, Filters(source=[])) == []
    assert index.search(query, 10, Filters(source=["rt"], doc_id=["a"])) == []


def test_rebuild_replaces_everything(index: LexicalIndex) -> None:
    index.rebuild([("n:0", "A new article about elections.", {"doc_id": "n"})])
    assert len(index) == 1
    assert index.search("border", k=5) == []
    assert ids(index.search("election", k=5)) == ["n:0"]


class FakeStore:
    """The ChangeFeed methods sync uses; counts chunk reads and can block mid-read."""

    def __init__(self, items: list[tuple[str, str, dict[str, object]]]) -> None:
        self.items = items
        self.rev = "r1"
        self.chunks_read = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def revision(self) -> str:
        return self.rev

    def document_hashes(self) -> dict[str, str]:
        texts: dict[str, str] = {}
        for _, text, meta in self.items:
            doc_id = str(meta["doc_id"])
            texts[doc_id] = texts.get(doc_id, "") + text
        return {d: hashlib.sha256(t.encode()).hexdigest() for d, t in texts.items()}

    def document_changes(self, since: float) -> DocumentChanges | None:
        return None  # a store that cannot tell: every sync lists all documents

    def chunks_of(self, doc_ids: Sequence[str]) -> Iterator[tuple[Chunk, dict[str, object]]]:
        self.entered.set()
        self.release.wait(timeout=10)
        for n, (chunk_id, text, meta) in enumerate(self.items):
            if meta["doc_id"] not in doc_ids:
                continue
            self.chunks_read += 1
            chunk = Chunk(
                chunk_id=chunk_id,
                doc_id=str(meta["doc_id"]),
                index=n,
                text=text,
                line_start=1,
                line_end=1,
                char_start=0,
                char_end=len(text),
            )
            yield chunk, meta


def test_sync_rebuilds_only_when_revision_moves() -> None:
    store = FakeStore(ITEMS)
    index = LexicalIndex()
    assert index.sync(store) is True
    assert index.revision == "r1"
    assert len(index) == 4
    assert index.sync(store) is False
    assert store.chunks_read == 4
    store.items = ITEMS[:1]
    store.rev = "r2"
    assert index.sync(store) is True
    assert store.chunks_read == 5  # document a changed (re-read); r and u were removed
    assert len(index) == 1
    assert ids(index.search("border", k=5)) == ["a:0"]
    index.rebuild(ITEMS)  # a manual rebuild forgets the revision
    assert index.revision is None
    assert index.sync(store) is True
    assert len(index) == 1


def test_sync_reads_only_changed_documents() -> None:
    store = FakeStore(ITEMS)
    index = LexicalIndex()
    index.sync(store)
    edited = ("r:0", "Afghan soldiers crossed the river at night.", ITEMS[2][2])
    store.items = [*ITEMS[:2], edited, ITEMS[3]]
    store.rev = "r2"
    assert index.sync(store) is True
    assert store.chunks_read == 5  # four at first, then only r:0
    assert ids(index.search("river", k=5)) == ["r:0"]
    assert ids(index.search("border", k=5)) == ["u:0", "a:0"]
    assert ids(index.search("Tajikistan", k=5)) == ["a:1"]
    assert index.search("river", k=5, filters=Filters(source=["asianews"])) == []


def test_big_index_syncs_in_the_background_while_searches_use_the_old_one() -> None:
    store = FakeStore(ITEMS)
    index = LexicalIndex(inline_max=2)  # 4 chunks count as big
    assert index.sync(store, wait=False) is True  # no snapshot yet: this one waits
    edited = ("r:0", "Afghan soldiers crossed the river at night.", ITEMS[2][2])
    store.items = [*ITEMS[:2], edited, ITEMS[3]]
    store.rev = "r2"
    store.entered.clear()
    store.release.clear()  # the background read blocks until released
    assert index.sync(store, wait=False) is False  # returns at once
    assert store.entered.wait(timeout=10)
    assert index.search("river", k=5) == []  # the old snapshot answers meanwhile
    assert index.sync(store, wait=False) is False  # one sync at a time
    assert index.wait(timeout=0.05) is False  # still reading
    store.release.set()
    assert index.wait(timeout=10) is True
    assert index.revision == "r2"
    assert ids(index.search("river", k=5)) == ["r:0"]
    assert index.sync(store) is False


def test_small_index_syncs_before_the_search_answers() -> None:
    store = FakeStore(ITEMS)
    index = LexicalIndex()
    index.sync(store)
    store.items = ITEMS[:1]
    store.rev = "r2"
    assert index.sync(store, wait=False) is True
    assert len(index) == 1


def test_small_index_waits_for_a_running_sync_and_catches_up_to_the_latest_write() -> None:
    """A search right after a write must see it, even while another thread is still
    syncing to the revision before that write (the old snapshot would miss it)."""
    store = FakeStore(ITEMS)
    index = LexicalIndex()
    index.sync(store)
    store.items = ITEMS[:3]  # a write: r2
    store.rev = "r2"
    store.entered.clear()
    store.release.clear()  # the first sync blocks mid-read
    first = threading.Thread(target=index.sync, args=(store,), kwargs={"wait": False})
    first.start()
    assert store.entered.wait(timeout=10)
    edited = ("r:0", "Afghan soldiers crossed the river at night.", ITEMS[2][2])
    store.items = [*ITEMS[:2], edited]  # another write, r3, while r2 is being read
    store.rev = "r3"
    caught_up: list[bool] = []
    second = threading.Thread(target=lambda: caught_up.append(index.sync(store, wait=False)))
    second.start()
    second.join(timeout=0.2)
    assert second.is_alive()  # waiting for the running sync, not answering from r1
    store.release.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert caught_up == [True]
    assert index.revision == "r3"
    assert ids(index.search("river", k=5)) == ["r:0"]


def test_saved_index_is_loaded_instead_of_read_again(tmp_path: Path) -> None:
    store = FakeStore(ITEMS)
    first = LexicalIndex(tmp_path, cache_key="chroma-a")
    first.sync(store)
    expected = first.search("border attack", k=5)

    restarted = LexicalIndex(tmp_path, cache_key="chroma-a")
    assert restarted.sync(store) is True
    assert store.chunks_read == 4  # nothing read: the saved index was current
    assert restarted.revision == "r1"
    assert restarted.search("border attack", k=5) == expected
    july = Filters(published_after=JULY + timedelta(days=1))
    assert ids(restarted.search("border", k=5, filters=july)) == ["r:0"]

    store.items = [*ITEMS, ("n:0", "A new article about elections.", {"doc_id": "n"})]
    store.rev = "r2"
    again = LexicalIndex(tmp_path, cache_key="chroma-a")
    assert again.sync(store) is True
    assert store.chunks_read == 5  # only the new document
    assert ids(again.search("election", k=5)) == ["n:0"]
    full = LexicalIndex()
    full.sync(FakeStore(store.items))
    for query in ("border attack", "Putin Tajikistan", "election"):
        assert again.search(query, k=5) == full.search(query, k=5)  # same as a full build

    elsewhere = LexicalIndex(tmp_path, cache_key="chroma-b")  # another store: not loaded
    assert elsewhere.sync(store) is True
    assert store.chunks_read == 10


def test_unreadable_cache_falls_back_to_reading_the_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FakeStore(ITEMS)
    LexicalIndex(tmp_path, cache_key="k").sync(store)
    (tmp_path / "current.json").write_text("{not json", encoding="utf-8")
    index = LexicalIndex(tmp_path, cache_key="k")
    assert index.sync(store) is True
    assert store.chunks_read == 8
    assert ids(index.search("Tajikistan", k=5)) == ["a:1"]
    assert "not loaded" in caplog.text
    assert LexicalIndex(tmp_path, cache_key="k").sync(store) is True  # saved again, loadable
    assert store.chunks_read == 8


def article(doc_id: str, lines: list[str], source: str) -> tuple[Document, list[Chunk]]:
    text = "\n".join(lines)
    digest = hashlib.sha256(text.encode()).hexdigest()
    doc = Document(
        doc_id=doc_id, source=source, title=lines[0], lines=tuple(lines), content_hash=digest
    )
    chunks, offset = [], 0
    for n, line in enumerate(lines):
        chunks.append(
            Chunk(
                chunk_id=f"{doc_id}:{digest[:12]}:{n}",
                doc_id=doc_id,
                index=n,
                text=line,
                line_start=n + 1,
                line_end=n + 1,
                char_start=offset,
                char_end=offset + len(line),
            )
        )
        offset += len(line) + 1
    return doc, chunks


def test_sync_notices_another_store_instance_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes' stores on one Chroma: the index follows writes made by the other,
    listing every document once and then asking only for what changed."""
    embedder = HashingEmbedder(32)
    settings = Settings(_env_file=None, data_dir=tmp_path, revision_poll_s=0.0)
    reader, writer = (
        ChromaStore.from_settings(settings.store),
        ChromaStore.from_settings(settings.store),
    )
    listings = []
    full_listing = reader.document_hashes
    monkeypatch.setattr(reader, "document_hashes", lambda: listings.append(1) or full_listing())
    index = LexicalIndex(tmp_path / "cache", cache_key="k")
    assert index.sync(reader) is True
    assert len(index) == 0

    doc, chunks = article("a", ["Taliban at the border", "Putin offers help"], "asianews")
    writer.write([DocumentWrite(doc, tuple(chunks), embedder.embed([c.text for c in chunks]))])
    assert index.sync(reader) is True
    assert ids(index.search("Putin", k=5)) == [chunks[1].chunk_id]
    assert index.search("Putin", k=5, filters=Filters(source=["rt"])) == []
    assert index.sync(reader) is False

    writer.delete_document("a")
    assert index.sync(reader) is True
    assert index.search("Putin", k=5) == []

    again, again_chunks = article("b", ["Putin spoke again"], "rt")
    writer.write([DocumentWrite(again, tuple(again_chunks), embedder.embed(["Putin spoke again"]))])
    restarted = LexicalIndex(tmp_path / "cache", cache_key="k")  # loads the saved snapshot
    assert restarted.sync(reader) is True
    assert ids(restarted.search("Putin", k=5)) == [again_chunks[0].chunk_id]
    assert len(listings) == 1  # only the very first sync listed every document

    # Last synced longer ago than deletion markers are kept: list everything again.
    long_ago = time.time() - MARKER_RETENTION_S
    restarted._snapshot = replace(restarted._snapshot, synced_at=long_ago)
    writer.delete_document("b")
    assert restarted.sync(reader) is True
    assert restarted.search("Putin", k=5) == []
    assert len(listings) == 2
