"""Conversation history for follow-up questions, and answer feedback, in SQLite.

A conversation belongs to the API key that started it (``owner``; NULL for the trusted
frontends, Slack and the CLI, which name their own ids) and expires ``ttl_s`` seconds after
its last turn: expired ones are no longer found, and are deleted on the next write.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.errors import InputError
from qa.types import Feedback, Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    owner TEXT,
    last_used REAL
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


#: Expired conversations are deleted at most this often (a write pays for it).
EXPIRY_EVERY_S = 60.0


class ConversationStore:
    """One SQLite file (WAL, so the API and the Slack bot can share it) behind one lock."""

    def __init__(
        self,
        path: Path,
        *,
        ttl_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``ttl_s``: seconds a conversation lives after its last turn (None or 0: forever)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._ttl = ttl_s or None
        self._clock = clock
        self._expired_at = -math.inf
        # One connection shared by threads; the lock serialises its use.
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        try:
            with self._lock, self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
                self._migrate()
        except sqlite3.Error:  # not a database, or a corrupt one: the caller decides
            self._db.close()
            raise
        self._expire()

    def _migrate(self) -> None:
        """Databases made before owners and expiry get the columns (old rows: no owner)."""
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(conversations)")}
        if "owner" not in columns:
            self._db.execute("ALTER TABLE conversations ADD COLUMN owner TEXT")
        if "last_used" not in columns:
            self._db.execute("ALTER TABLE conversations ADD COLUMN last_used REAL")
        self._db.execute("UPDATE conversations SET last_used = created_at WHERE last_used IS NULL")
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS conversations_by_last_used ON conversations (last_used)"
        )

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

    def _cutoff(self) -> float:
        """Conversations last used before this are expired (-inf: none ever are)."""
        return self._clock() - self._ttl if self._ttl is not None else -math.inf

    def _expire(self, *, force: bool = True) -> None:
        now = self._clock()
        if self._ttl is None or (not force and now - self._expired_at < EXPIRY_EVERY_S):
            return
        self._expired_at = now
        cutoff = self._cutoff()
        with self._lock, self._db:
            self._db.execute(
                "DELETE FROM turns WHERE conversation_id IN"
                " (SELECT id FROM conversations WHERE last_used < ?)",
                (cutoff,),
            )
            self._db.execute("DELETE FROM conversations WHERE last_used < ?", (cutoff,))

    def new_id(self, owner: str | None = None) -> str:
        """Start a conversation of ``owner``; its id is random and unguessable."""
        self._expire(force=False)
        conversation_id = uuid.uuid4().hex
        now = self._clock()
        self._run(
            "INSERT INTO conversations (id, created_at, owner, last_used) VALUES (?, ?, ?, ?)",
            (conversation_id, now, owner, now),
        )
        return conversation_id

    def exists(self, conversation_id: str) -> bool:
        """Whether the conversation exists and has not expired."""
        return bool(
            self._run(
                "SELECT 1 FROM conversations WHERE id = ? AND last_used >= ?",
                (conversation_id, self._cutoff()),
            )
        )

    def belongs_to(self, conversation_id: str, owner: str | None) -> bool:
        """Whether ``owner`` may continue the conversation: it exists, has not expired, and
        ``owner`` started it (``owner`` None: a trusted frontend, which may continue any)."""
        rows = self._run(
            "SELECT owner FROM conversations WHERE id = ? AND last_used >= ?",
            (conversation_id, self._cutoff()),
        )
        if not rows:
            return False
        return owner is None or rows[0]["owner"] == owner

    def count(self) -> int:
        """Conversations stored (expired ones included until they are deleted)."""
        return int(self._run("SELECT COUNT(*) AS n FROM conversations")[0]["n"])

    def append(self, conversation_id: str, turn: Turn, owner: str | None = None) -> None:
        """Add a turn; an id never seen before starts a conversation of ``owner`` with it."""
        self._expire(force=False)
        now = self._clock()
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO conversations (id, created_at, owner, last_used) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET last_used = excluded.last_used",
                (conversation_id, now, owner, now),
            )
            self._db.execute(
                "INSERT INTO turns (conversation_id, created_at, question, answer,"
                " standalone_question) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, now, turn.question, turn.answer, turn.standalone_question),
            )

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]:
        """The last ``limit`` turns, oldest first ([] for an unknown or expired id)."""
        if not self.exists(conversation_id):
            return []
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
                    self._clock(),
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
