"""Opening the conversation database, and what stands in for it when the file is corrupt:
the service starts degraded (search and questions without a conversation work) instead of
not at all, and every use of conversations says which file is broken and how to recover."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any, NoReturn

from qa.errors import ConversationsUnavailableError
from qa.ports import ConversationLog
from qa.store.conversations import ConversationStore
from qa.types import Feedback, Turn

log = logging.getLogger(__name__)


def unreadable_message(path: Path, exc: BaseException) -> str:
    aside = path.with_name(path.name + ".corrupt")
    return (
        f"the conversation database {path} cannot be read ({exc}); conversations and feedback "
        f"are off, search and questions without a conversation still work. To recover: stop "
        f"qa, move the file aside (mv {path} {aside}) and start it again, which creates an "
        "empty one (sqlite3's .recover can salvage rows from the old file)"
    )


def open_conversation_log(
    path: Path, *, ttl_s: float | None = None, warn: bool = True
) -> ConversationLog:
    """The SQLite conversation log at ``path``, or, when that file is not a readable SQLite
    database, an ``UnavailableConversations`` naming it (logged as an error when ``warn``)."""
    try:
        return ConversationStore(path, ttl_s=ttl_s)
    except sqlite3.DatabaseError as exc:
        message = unreadable_message(path, exc)
        if warn:
            log.error("%s", message)
        return UnavailableConversations(message)


class UnavailableConversations:
    """A ConversationLog whose database cannot be read: every call raises with ``message``."""

    def __init__(self, message: str) -> None:
        self.message = message

    def unavailable(self) -> str | None:
        return self.message

    def _raise(self) -> NoReturn:
        raise ConversationsUnavailableError(self.message)

    def new_id(self, owner: str | None = None) -> str:
        self._raise()

    def exists(self, conversation_id: str) -> bool:
        self._raise()

    def belongs_to(self, conversation_id: str, owner: str | None) -> bool:
        self._raise()

    def append(self, conversation_id: str, turn: Turn, owner: str | None = None) -> None:
        self._raise()

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]:
        self._raise()

    def record_feedback(self, feedback: Feedback) -> int:
        self._raise()

    def list_feedback(self, limit: int = 1000) -> list[dict[str, Any]]:
        self._raise()
