"""Conversation history for follow-up questions, and answer feedback, in SQLite."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.errors import InputError
from qa.types import Feedback, Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created_at REAL NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    standalone_question TEXT
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    conversation_id TEXT,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('up', 'down')),
    user TEXT,
    source TEXT NOT NULL
);
"""


class ConversationStore:
    """One SQLite file (WAL, so the API and the Slack bot can share it) behind one lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One connection shared by threads; the lock serialises its use.
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        try:
            with self._lock, self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
        except sqlite3.Error:  # not a database, or a corrupt one: the caller decides
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def unavailable(self) -> str | None:
        return None

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock, self._db:
            return self._db.execute(sql, params).fetchall()

    def new_id(self) -> str:
        """Start a conversation; its id is random and unguessable."""
        conversation_id = uuid.uuid4().hex
        self._run("INSERT INTO conversations VALUES (?, ?)", (conversation_id, time.time()))
        return conversation_id

    def exists(self, conversation_id: str) -> bool:
        return bool(self._run("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)))

    def append(self, conversation_id: str, turn: Turn) -> None:
        """Add a turn; an id never seen before starts a conversation with it."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO conversations VALUES (?, ?)", (conversation_id, now)
            )
            self._db.execute(
                "INSERT INTO turns (conversation_id, created_at, question, answer,"
                " standalone_question) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, now, turn.question, turn.answer, turn.standalone_question),
            )

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]:
        """The last ``limit`` turns, oldest first ([] for an unknown id)."""
        rows = self._run(
            "SELECT question, answer, standalone_question FROM turns"
            " WHERE conversation_id = ? ORDER BY id DESC LIMIT ?",
            (conversation_id, max(limit, 0)),
        )
        return [
            Turn(
                question=row["question"],
                answer=row["answer"],
                standalone_question=row["standalone_question"],
            )
            for row in reversed(rows)
        ]

    def record_feedback(self, feedback: Feedback) -> int:
        """Store a thumbs up/down on an answer; returns the feedback id."""
        f = feedback
        if f.verdict not in ("up", "down"):
            raise InputError(f"verdict must be 'up' or 'down', not {f.verdict!r}")
        cited = json.dumps([c.model_dump(mode="json") for c in f.citations])
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO feedback (created_at, conversation_id, question, answer, citations,"
                " verdict, user, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    f.conversation_id,
                    f.question,
                    f.answer,
                    cited,
                    f.verdict,
                    f.user,
                    f.source,
                ),
            )
            return int(cursor.lastrowid or 0)

    def list_feedback(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` feedback records, newest first."""
        rows = self._run("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (max(limit, 0),))
        return [
            {
                "id": row["id"],
                "created_at": datetime.fromtimestamp(row["created_at"], UTC).isoformat(),
                "conversation_id": row["conversation_id"],
                "question": row["question"],
                "answer": row["answer"],
                "citations": json.loads(row["citations"]),
                "verdict": row["verdict"],
                "user": row["user"],
                "source": row["source"],
            }
            for row in rows
        ]
