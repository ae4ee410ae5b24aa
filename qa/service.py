"""QAService: the facade frontends call (ingest, documents, search, ask, conversations).

It knows only ports (qa/ports.py); qa/wiring.py builds it from settings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from qa.answering.condense import naive_condense
from qa.config import Settings
from qa.errors import InputError, NotFoundError, QAError
from qa.ingest.pipeline import IngestPipeline, IngestReport
from qa.ports import (
    Answerer,
    Condenser,
    ConversationLog,
    Embedder,
    LexicalSearcher,
    Retriever,
    Store,
)
from qa.types import (
    Answer,
    Citation,
    Document,
    DocumentInfo,
    Filters,
    Hit,
    Turn,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A question ready to answer: its conversation, standalone form, history and hits."""

    conversation_id: str | None
    standalone: str
    history: list[Turn]
    hits: list[Hit]
    retrieve_ms: float


class QAService:
    """The application core. Frontends parse input, call this, and render the result."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        embedder: Embedder,
        retriever: Retriever,
        answerer: Answerer,
        conversations: ConversationLog,
        lexical: LexicalSearcher | None = None,
        condense: Condenser = naive_condense,
    ) -> None:
        """``embedder`` embeds what is ingested; ``lexical`` is warmed up at start (the
        retriever keeps it in sync); ``condense`` makes follow-ups searchable alone."""
        self.settings = settings
        self._store = store
        self._embedder = embedder
        self._retriever = retriever
        self._answerer = answerer
        self._conversations = conversations
        self._lexical = lexical
        self._condense = condense
        self._ingest = IngestPipeline(settings, store, embedder)

    # ---------------------------------------------------------------- ingestion
    def ingest_documents(
        self,
        docs: Sequence[Document],
        report: IngestReport | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Store ``docs``; unchanged ones write nothing, changed ones replace their chunks."""
        return self._ingest.documents(docs, report, progress)

    def ingest_paths(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    ) -> IngestReport:
        """Ingest files and folders; bad files are reported, the rest still ingested."""
        return self._ingest.paths(paths, prune=prune, progress_factory=progress_factory)

    def add_records(self, records: Sequence[dict[str, Any]]) -> IngestReport:
        """Ingest JSON article records (the HTTP API); any invalid record rejects the batch."""
        return self._ingest.records(records)

    # ---------------------------------------------------------------- documents
    def list_documents(self) -> list[DocumentInfo]:
        return self._store.list_documents()

    def get_document(self, doc_id: str) -> Document:
        doc = self._store.get_document(doc_id)
        if doc is None:
            raise NotFoundError(f"no document with id {doc_id!r}")
        return doc

    def get_lines(self, doc_id: str, start: int, end: int | None) -> list[tuple[int, str]]:
        doc = self.get_document(doc_id)
        last = len(doc.lines) if end is None else end
        if start < 1 or last < start:
            raise InputError("start must be >= 1 and end >= start")
        if start > len(doc.lines):
            raise InputError(f"document {doc_id!r} has only {len(doc.lines)} lines")
        return doc.line_text(start, last)

    def delete_document(self, doc_id: str) -> None:
        if not self._store.delete_document(doc_id):
            raise NotFoundError(f"no document with id {doc_id!r}")

    # ---------------------------------------------------------------- questions
    def _top_k(self, top_k: int | None) -> int:
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise InputError(f"top_k must be between 1 and {self.settings.max_top_k}")
        return k

    def check_question(self, question: str) -> str:
        text = question.strip()
        if not text:
            raise InputError("question is empty")
        if len(text) > self.settings.max_question_chars:
            raise InputError(
                f"question is longer than {self.settings.max_question_chars} characters"
            )
        return text

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        *,
        as_of: date | None = None,
    ) -> list[Hit]:
        """Passages for ``query``; with ``as_of``, as known at the end of that day (UTC)."""
        k = self._top_k(top_k)
        return self._retriever.search(self.check_question(query), k, filters, as_of=as_of)

    def _prepare(
        self,
        question: str,
        conversation_id: str | None,
        top_k: int | None,
        filters: Filters | None,
        history: Sequence[Turn] | None,
        *,
        as_of: date | None = None,
    ) -> Prepared:
        question = self.check_question(question)
        k = self._top_k(top_k)
        turns: list[Turn]
        if history is not None:
            # The caller carries the conversation (OpenAI-style messages): nothing is stored.
            conversation_id = None
            turns = list(history)
        elif conversation_id is None:
            conversation_id = self._conversations.new_id()
            turns = []
        else:
            turns = self._conversations.history(conversation_id)
        standalone = self._condense(question, turns) if turns else question
        started = time.perf_counter()
        hits = self._retriever.search(standalone, k, filters, as_of=as_of)
        retrieve_ms = (time.perf_counter() - started) * 1000
        return Prepared(conversation_id, standalone, turns, hits, retrieve_ms)

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] | None = None,
        as_of: date | None = None,
    ) -> Answer:
        """Answer ``question`` with verified citations, remembering the conversation.

        ``as_of``: the day it is asked on; documents published after that day are not used
        (undated ones are) and newer passages are preferred (see HybridRetriever.search)."""
        answers = self._answer(
            question, conversation_id, top_k, filters, history, as_of=as_of, streaming=False
        )
        return next(item for item in answers if isinstance(item, Answer))

    def ask_stream(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] | None = None,
        as_of: date | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final verified Answer (``as_of`` as in ``ask``)."""
        return self._answer(
            question, conversation_id, top_k, filters, history, as_of=as_of, streaming=True
        )

    def _answer(
        self,
        question: str,
        conversation_id: str | None,
        top_k: int | None,
        filters: Filters | None,
        history: Sequence[Turn] | None,
        *,
        as_of: date | None,
        streaming: bool,
    ) -> Iterator[str | Answer]:
        started = time.perf_counter()
        prepared = self._prepare(question, conversation_id, top_k, filters, history, as_of=as_of)
        conv, standalone = prepared.conversation_id, prepared.standalone
        hits, turns, retrieve_ms = prepared.hits, prepared.history, prepared.retrieve_ms
        answer_started = time.perf_counter()
        final: Answer | None = None
        if streaming:
            for item in self._answerer.stream(standalone, hits, turns):
                if isinstance(item, Answer):
                    final = item
                else:
                    yield item
        else:
            # One complete call: an LLM answers without streaming overhead.
            final = self._answerer.answer(standalone, hits, turns)
        assert final is not None
        now = time.perf_counter()
        final = final.model_copy(
            update={
                "conversation_id": conv,
                "timings_ms": {
                    **final.timings_ms,
                    "retrieve": round(retrieve_ms, 2),
                    "answer": round((now - answer_started) * 1000, 2),
                    "total": round((now - started) * 1000, 2),
                },
            }
        )
        if conv is not None:
            turn = Turn(
                question=question.strip(), answer=final.answer, standalone_question=standalone
            )
            self._conversations.append(conv, turn)
        yield final

    def warm_up(self, *, background: bool = True) -> None:
        """Load the embedder and build the BM25 index before the first question.

        In the background by default so the API starts serving at once; a search arriving
        before the index exists waits for it (``LexicalIndex.sync``).
        """
        self._embedder.embed(["warm up"])
        lexical = self._lexical
        if lexical is None:
            return

        def build() -> None:
            assert lexical is not None
            try:
                lexical.sync(self._store)
            except QAError as exc:  # Chroma may be down at start; the first search retries.
                log.warning("lexical index not built at start-up: %s", exc)

        if background:
            threading.Thread(target=build, name="qa-warm-up", daemon=True).start()
        else:
            build()

    # ---------------------------------------------------------------- conversations
    def conversation_exists(self, conversation_id: str) -> bool:
        return self._conversations.exists(conversation_id)

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]:
        """The conversation's last ``limit`` turns, oldest first."""
        return self._conversations.history(conversation_id, limit=limit)

    def record_feedback(
        self,
        *,
        conversation_id: str | None,
        question: str,
        answer: str,
        citations: list[Citation],
        verdict: Literal["up", "down"],
        user: str | None,
        source: str,
    ) -> int:
        """Store a thumbs up/down on an answer; returns the feedback id."""
        return self._conversations.record_feedback(
            conversation_id=conversation_id,
            question=question,
            answer=answer,
            citations=citations,
            verdict=verdict,
            user=user,
            source=source,
        )

    def list_feedback(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` feedback records, newest first."""
        return self._conversations.list_feedback(limit=limit)

    # ---------------------------------------------------------------- health
    def readiness(self) -> dict[str, str]:
        """Component states for /readyz; raises StoreError when Chroma is unreachable."""
        self._store.ping()
        return {"chroma": "ok", "llm": "configured" if self.settings.llm_enabled else "off"}
