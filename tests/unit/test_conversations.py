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
