"""SQLite conversation history and feedback."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.errors import InputError
from qa.store.conversations import ConversationStore
from qa.types import Citation, Feedback, Turn


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConversationStore]:
    with ConversationStore(tmp_path / "db" / "qa.sqlite3") as conversations:
        yield conversations


def turn(i: int) -> Turn:
    return Turn(question=f"q{i}", answer=f"a{i}", standalone_question=f"s{i}" if i % 2 else None)


def test_history_is_the_last_turns_oldest_first(store: ConversationStore) -> None:
    cid = store.new_id()
    assert store.exists(cid)
    assert store.history(cid) == []
    for i in range(8):
        store.append(cid, turn(i))
    assert store.history(cid) == [turn(i) for i in range(2, 8)]
    assert store.history(cid, limit=2) == [turn(6), turn(7)]
    assert store.history(cid, limit=0) == []


def test_conversations_are_separate(store: ConversationStore) -> None:
    first, second = store.new_id(), store.new_id()
    assert first != second
    store.append(first, turn(1))
    assert store.history(second) == []
    assert not store.exists("nope")
    assert store.history("nope") == []


def test_append_to_an_unseen_id_starts_it(store: ConversationStore) -> None:
    store.append("slack-C1-123.45", turn(1))
    assert store.exists("slack-C1-123.45")
    assert store.history("slack-C1-123.45") == [turn(1)]


def test_history_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "qa.sqlite3"
    with ConversationStore(path) as store:
        cid = store.new_id()
        store.append(cid, turn(1))
    with ConversationStore(path) as store:
        assert store.history(cid) == [turn(1)]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_concurrent_appends_from_threads(store: ConversationStore) -> None:
    cid = store.new_id()

    def work(offset: int) -> None:
        for i in range(25):
            store.append(cid, turn(offset + i))

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.history(cid, limit=1000)) == 100


def test_feedback_is_recorded_and_listed_newest_first(store: ConversationStore) -> None:
    citation = Citation(
        n=1, doc_id="d", source="d.txt", title="T", line_start=3, line_end=3, quote="Quote."
    )
    first = store.record_feedback(
        Feedback(
            conversation_id=None,
            question="q",
            answer="a [1]",
            citations=[citation],
            verdict="up",
            user="U1",
            source="slack",
        )
    )
    second = store.record_feedback(
        Feedback(
            conversation_id="c",
            question="q2",
            answer="a2",
            citations=[],
            verdict="down",
            user=None,
            source="api",
        )
    )
    assert second > first
    listed = store.list_feedback()
    assert [row["id"] for row in listed] == [second, first]
    assert listed[1]["citations"] == [citation.model_dump(mode="json")]
    assert listed[1]["verdict"] == "up"
    assert listed[1]["user"] == "U1"
    assert listed[0]["conversation_id"] == "c"
    assert listed[0]["created_at"].endswith("+00:00")
    assert [row["id"] for row in store.list_feedback(limit=1)] == [second]


def test_invalid_verdict_is_refused(store: ConversationStore) -> None:
    with pytest.raises(InputError, match="verdict"):
        store.record_feedback(
            Feedback(
                conversation_id=None,
                question="q",
                answer="a",
                citations=[],
                verdict="meh",  # type: ignore[arg-type]
                user=None,
                source="api",
            )
        )
    assert store.list_feedback() == []


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_conversation_belongs_to_its_owner(store: ConversationStore) -> None:
    mine = store.new_id("key:a")
    assert store.belongs_to(mine, "key:a")
    assert not store.belongs_to(mine, "key:b")
    assert not store.belongs_to(mine, "anonymous")
    assert store.belongs_to(mine, None)  # a trusted frontend (CLI)
    assert not store.belongs_to("never-issued", "key:a")
    assert not store.belongs_to("never-issued", None)
    store.append("slack:C1:1.2", turn(1))  # Slack names its threads; no owner
    assert store.belongs_to("slack:C1:1.2", None)
    assert not store.belongs_to("slack:C1:1.2", "key:a")
    store.append(mine, turn(2), "key:a")
    assert store.belongs_to(mine, "key:a") and not store.belongs_to(mine, "key:b")


def test_conversations_expire_after_their_last_turn(tmp_path: Path) -> None:
    clock = Clock()
    day = 86400.0
    with ConversationStore(tmp_path / "qa.sqlite3", ttl_s=30 * day, clock=clock) as store:
        old, active = store.new_id("k"), store.new_id("k")
        store.append(old, turn(1), "k")
        clock.now += 20 * day
        store.append(active, turn(2), "k")  # used again: lives 30 days from now
        clock.now += 11 * day
        assert not store.exists(old) and store.history(old) == []
        assert not store.belongs_to(old, "k")
        assert store.exists(active) and store.history(active) == [turn(2)]
        assert store.count() == 2  # not deleted until a write, at most once a minute
        store.new_id("k")
        assert store.count() == 2  # old deleted, one new
        with sqlite3.connect(tmp_path / "qa.sqlite3") as db:
            orphans = db.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation_id = ?", (old,)
            ).fetchone()
        assert orphans == (0,)


def test_no_ttl_keeps_conversations(tmp_path: Path) -> None:
    clock = Clock()
    with ConversationStore(tmp_path / "qa.sqlite3", ttl_s=0, clock=clock) as store:
        cid = store.new_id()
        clock.now += 10_000 * 86400
        store.new_id()
        assert store.exists(cid)


def test_a_database_from_before_owners_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "qa.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, created_at REAL NOT NULL);"
            "INSERT INTO conversations VALUES ('legacy', 5.0);"
        )
    db.close()
    with ConversationStore(path) as store:
        assert store.exists("legacy")
        assert store.belongs_to("legacy", None) and not store.belongs_to("legacy", "key:a")
        store.append("legacy", turn(1))
        assert store.history("legacy") == [turn(1)]
