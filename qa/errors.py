"""The error tree. Frontends map these to HTTP statuses / exit codes; nothing else leaks.

QAError
├── InputError              bad input from a user: HTTP 4xx, CLI exit 2
│   ├── NotFoundError       unknown document / conversation: 404
│   ├── ForbiddenError      the caller's key may not do this (a read key on an admin route): 403
│   ├── ConflictError       clashes with what is stored, or with itself (two documents, one id): 409
│   │   └── EmptyStoreError nothing ingested yet, so nothing to answer from: 409
│   └── IngestError         one document could not be read or parsed (names file/line)
│       ├── SkippedFileError  a file passed over on purpose: binary, empty, too large, unreadable
│       └── DocumentTooLargeError  over a per-document limit (bytes, lines, sentences): 413
├── BusyError               too much work queued already: 503, try again later
├── ConfigError             settings that cannot work (startup refuses)
│   └── EmbedderMismatchError  the collection was built by another embedder
└── UpstreamError           a peer failed; ``retryable`` says if trying again may help
    ├── StoreError          Chroma unreachable or failing: 503
    │   └── ConversationsUnavailableError  the conversation database cannot be read: 503
    ├── EmbedderError       embedding backend failed: 503
    └── LLMError            chat model failed (timeout, 429, 5xx): fallback or 502
"""

from __future__ import annotations


class QAError(Exception):
    """Base of every error the service raises on purpose."""


class InputError(QAError):
    """The caller sent something we cannot use; the message says what to fix."""


class NotFoundError(InputError):
    """A named thing (document, conversation) does not exist."""


class ForbiddenError(InputError):
    """The caller is known but may not do this (a read-scoped API key on an admin route)."""


class ConflictError(InputError):
    """The request clashes with what is stored (a document id another source holds) or with
    itself (two documents with one id in a batch)."""


class EmptyStoreError(ConflictError):
    """No document has been ingested, so a question cannot be answered from the articles."""

    MESSAGE = "no documents ingested yet: run qa ingest PATH"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


class IngestError(InputError):
    """One document failed to ingest; ``where`` names the file (and line)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class SkippedFileError(IngestError):
    """A file passed over on purpose (binary, empty, over a size limit, unreadable): a run
    counts it as skipped, not failed, and touches nothing stored for it."""


class DocumentTooLargeError(IngestError):
    """A document over a per-document limit (lines, sentences): refused before any work."""


class BusyError(QAError):
    """The service has too much work queued to take more now (a retry later may succeed)."""


class ConfigError(QAError):
    """Settings that cannot work together."""


class EmbedderMismatchError(ConfigError):
    """The stored collection was built with a different embedder than the configured one."""


class UpstreamError(QAError):
    """A peer (Chroma, embedder, LLM, Slack) failed."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class StoreError(UpstreamError):
    """The vector store is unreachable or failed."""


class ConversationsUnavailableError(StoreError):
    """The conversation and feedback database (qa.sqlite3) cannot be read; the message names
    the file and how to recover. Search and questions without a conversation still work."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class EmbedderError(UpstreamError):
    """The embedding backend failed."""


class LLMError(UpstreamError):
    """The chat model failed after retries."""
