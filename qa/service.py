"""QAService: the facade frontends call (ingest, documents, search, ask, conversations).

It knows only ports (qa/ports.py); qa/wiring.py builds it from settings.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from qa.answering.followups import FollowUps, refers_back
from qa.config import Settings
from qa.errors import EmptyStoreError, InputError, NotFoundError, QAError
from qa.follower import StoreFollower
from qa.ingest.check import CheckReport, check_store, outdated, repair_store
from qa.ingest.pipeline import IngestPipeline, IngestReport, ProgressFactory
from qa.ports import (
    Answerer,
    Condenser,
    ConversationLog,
    Embedder,
    LanguageCheck,
    LexicalSearcher,
    Retriever,
    Store,
)
from qa.text import terms
from qa.types import (
    Answer,
    Document,
    DocumentInfo,
    Feedback,
    Filters,
    Hit,
    Turn,
)

log = logging.getLogger(__name__)

#: Follow the store at least this often when revision_poll_s is 0 ("check on every search").
FOLLOW_MIN_POLL_S = 0.25


@dataclass(frozen=True)
class Prepared:
    """A question ready to answer: its conversation, standalone form (what was searched),
    the question the answerer reads, history and hits."""

    conversation_id: str | None
    standalone: str
    question: str
    history: list[Turn]
    hits: list[Hit]
    retrieve_ms: float
    condense_ms: float | None = None


@dataclass(frozen=True)
class AskRequest:
    """One question as ``ask`` and ``ask_stream`` take it (their arguments, documented
    there), and whether the answer is streamed."""

    question: str
    conversation_id: str | None = None
    top_k: int | None = None
    filters: Filters | None = None
    history: Sequence[Turn] | None = None
    as_of: date | None = None
    owner: str | None = None
    remember: bool = True
    streaming: bool = False


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
        condense: Condenser | None = None,
        language: LanguageCheck | None = None,
    ) -> None:
        """``embedder`` embeds what is ingested; ``lexical`` is warmed up at start (the
        retriever keeps it in sync); ``condense`` (an LLM) rewrites follow-ups that need
        the conversation (without it they are searched with the previous question);
        ``language`` answers questions in languages the models cannot read with a message."""
        self.settings = settings
        self._store = store
        self._embedder = embedder
        self._retriever = retriever
        self._answerer = answerer
        self._conversations = conversations
        self._lexical = lexical
        self._follow_ups = FollowUps(retriever, condense)
        self._language = language
        self._ingest = IngestPipeline(settings.ingest, store, embedder)
        self._follower: StoreFollower | None = None

    # ---------------------------------------------------------------- ingestion
    def ingest_documents(
        self,
        docs: Sequence[Document],
        report: IngestReport | None = None,
        progress_factory: ProgressFactory | None = None,
    ) -> IngestReport:
        """Store ``docs``; unchanged ones write nothing, changed ones replace their chunks."""
        return self._ingest.documents(docs, report, progress_factory)

    def ingest_paths(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        dry_run: bool = False,
        collection: str | None = None,
        progress_factory: ProgressFactory | None = None,
        urls: Sequence[str] = (),
    ) -> IngestReport:
        """Ingest files and folders (ids: qa/ingest/identity.py) and the web pages at
        ``urls``; bad ones are reported, the rest still ingested. ``prune``: remove documents
        whose files under a folder argument are gone; ``dry_run``: change nothing, report what
        would be done."""
        return self._ingest.paths(
            paths,
            prune=prune,
            dry_run=dry_run,
            collection=collection,
            progress_factory=progress_factory,
            urls=urls,
        )

    def ingest_urls(self, urls: Sequence[str]) -> IngestReport:
        """Fetch and ingest web pages (HTML, PDF, text); failures are reported per URL."""
        return self._ingest.urls(urls)

    def add_url(self, url: str) -> IngestReport:
        """Fetch and ingest one web page (the HTTP API); InputError says why if it cannot."""
        return self._ingest.documents([self._ingest.fetch(url)])

    def add_records(self, records: Sequence[dict[str, Any]]) -> IngestReport:
        """Ingest JSON article records (the HTTP API); any invalid record rejects the batch."""
        return self._ingest.records(records)

    def check_store(self, *, repair: bool = False) -> CheckReport:
        """Documents whose stored chunks or sentence vectors disagree with their record or
        lack token states; ``repair`` re-chunks them from the stored original lines and
        prunes stray chunks (``qa check``)."""
        if repair:
            return repair_store(self._store, self._ingest)
        sentences, tokens = self._ingest.expected_sentence_vectors()
        return check_store(self._store, sentences=sentences, tokens=tokens)

    def check_records(self, records: Sequence[dict[str, Any]]) -> list[Document]:
        """The Documents of JSON article records, checked (InputError naming each bad one,
        DocumentTooLargeError for a per-document limit); ``ingest_documents`` stores them."""
        return self._ingest.check_records(records)

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
        if start < 1:
            raise InputError("start must be >= 1")
        if start > len(doc.lines):
            raise NotFoundError(f"document {doc_id!r} has only {len(doc.lines)} lines")
        return doc.line_text(start, last)  # end < start: no lines

    def delete_document(self, doc_id: str) -> None:
        if not self._store.delete_document(doc_id):
            raise NotFoundError(f"no document with id {doc_id!r}")

    # ---------------------------------------------------------------- questions
    def _top_k(self, top_k: int | None) -> int:
        retrieval = self.settings.retrieval
        k = retrieval.top_k if top_k is None else top_k
        if not 1 <= k <= retrieval.max_top_k:
            raise InputError(f"top_k must be between 1 and {retrieval.max_top_k}")
        return k

    def check_question(self, question: str, *, what: str = "question") -> str:
        """``question`` stripped; InputError naming ``what`` if empty or too long."""
        text = question.strip()
        if not text:
            raise InputError(f"{what} is empty")
        limit = self.settings.answering.max_question_chars
        if len(text) > limit:
            raise InputError(f"{what} is longer than {limit} characters")
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
        query = self.check_question(query, what="query")
        return self._retriever.search(query, k, filters, as_of=as_of)

    def _prepare(
        self,
        question: str,
        conversation_id: str | None,
        top_k: int | None,
        filters: Filters | None,
        history: Sequence[Turn] | None,
        *,
        as_of: date | None = None,
        owner: str | None = None,
        remember: bool = True,
    ) -> Prepared:
        question = self.check_question(question)
        k = self._top_k(top_k)
        turns: list[Turn]
        if history is not None:
            # The caller carries the conversation (OpenAI-style messages): nothing is stored.
            conversation_id = None
            turns = list(history)
        elif conversation_id is None:
            # No conversation database (corrupt file): answered alone, remembered nowhere.
            unavailable = self._conversations.unavailable() is not None
            conversation_id = (
                self._conversations.new_id(owner) if remember and not unavailable else None
            )
            turns = []
        elif self._conversations.belongs_to(conversation_id, owner):
            turns = self._conversations.history(conversation_id)
        elif remember and not self._conversations.exists(conversation_id):
            turns = []  # a trusted frontend names a new conversation (a Slack thread)
        else:
            # Someone else's, expired, or never issued: the same answer, so ids cannot be probed.
            raise NotFoundError(
                f"no conversation {conversation_id!r} for this caller (unknown, expired, or "
                'started with another key); ask without conversation_id and with "conversation":'
                " true to start one"
            )
        started = time.perf_counter()
        # A follow-up that stands alone is searched and answered exactly as if asked alone.
        resolved = self._follow_ups.resolve(question, turns, k, filters, as_of=as_of)
        retrieve_ms = (time.perf_counter() - started) * 1000 - (resolved.condense_ms or 0.0)
        return Prepared(
            conversation_id,
            resolved.standalone,
            resolved.question,
            turns,
            resolved.hits,
            retrieve_ms,
            resolved.condense_ms,
        )

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] | None = None,
        as_of: date | None = None,
        owner: str | None = None,
        remember: bool = True,
    ) -> Answer:
        """Answer ``question`` with verified citations, remembering the conversation.

        ``as_of``: the day it is asked on; documents published after that day are not used
        (undated ones are) and newer passages are preferred (see HybridRetriever.search).

        ``owner``: who asks (an API key's digest); a conversation continues only for the owner
        that started it (None: a trusted frontend, Slack or the CLI, may continue any).
        ``remember``: without ``conversation_id``, start a stored conversation (False: none is
        stored and ``conversation_id`` is None); with one that does not exist, start it under
        that id (False: NotFoundError, so a client cannot choose its own id)."""
        answers = self._answer(
            AskRequest(
                question,
                conversation_id=conversation_id,
                top_k=top_k,
                filters=filters,
                history=history,
                as_of=as_of,
                owner=owner,
                remember=remember,
            )
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
        owner: str | None = None,
        remember: bool = True,
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final verified Answer (the arguments as in ``ask``)."""
        return self._answer(
            AskRequest(
                question,
                conversation_id=conversation_id,
                top_k=top_k,
                filters=filters,
                history=history,
                as_of=as_of,
                owner=owner,
                remember=remember,
                streaming=True,
            )
        )

    def _answer(self, request: AskRequest) -> Iterator[str | Answer]:
        started = time.perf_counter()
        question, conversation_id = request.question, request.conversation_id
        unreadable = self._unreadable(question, conversation_id)
        if unreadable is not None:
            if request.streaming:
                yield unreadable.answer
            yield unreadable
            return
        prepared = self._prepare(
            question,
            conversation_id,
            request.top_k,
            request.filters,
            request.history,
            as_of=request.as_of,
            owner=request.owner,
            remember=request.remember,
        )
        if not prepared.hits and self._store.count() == 0:
            # Not "the articles don't say": there are no articles (often the wrong data dir).
            raise EmptyStoreError()
        conv, standalone, asked = prepared.conversation_id, prepared.standalone, prepared.question
        hits, turns, retrieve_ms = prepared.hits, prepared.history, prepared.retrieve_ms
        answer_started = time.perf_counter()
        final: Answer | None = None
        # A dependent follow-up is read as the user wrote it (its own words pick the
        # sentence); when they find nothing to cite, it is read with the context too.
        retry = asked != standalone
        if request.streaming and not retry:
            for item in self._answerer.stream(asked, hits, turns):
                if isinstance(item, Answer):
                    final = item
                else:
                    yield item
        else:
            # One complete call: an LLM answers without streaming overhead.
            final = self._answerer.answer(asked, hits, turns)
            if retry and not final.answerable:
                again = self._answerer.answer(standalone, hits, turns)
                if _owns(asked, again):
                    final = again
            if request.streaming:
                yield final.answer
        assert final is not None
        now = time.perf_counter()
        final = final.model_copy(
            update={
                "conversation_id": conv,
                "timings_ms": {
                    **final.timings_ms,
                    "retrieve": round(retrieve_ms, 2),
                    **(
                        {"condense": round(prepared.condense_ms, 2)}
                        if prepared.condense_ms is not None
                        else {}
                    ),
                    "answer": round((now - answer_started) * 1000, 2),
                    "total": round((now - started) * 1000, 2),
                },
            }
        )
        if conv is not None:
            turn = Turn(
                question=question.strip(), answer=final.answer, standalone_question=standalone
            )
            self._conversations.append(conv, turn, request.owner)
        yield final

    def _unreadable(self, question: str, conversation_id: str | None) -> Answer | None:
        """A plain "ask in English" answer for a question the models cannot read."""
        if self._language is None:
            return None
        language = self._language.unsupported_language(self.check_question(question))
        if language is None:
            return None
        supported = " or ".join(self._language.supported)
        return Answer(
            answer=f"This question looks like {language}; I can only read questions in "
            f"{supported}. Please ask it in {supported}.",
            answerable=False,
            conversation_id=conversation_id,
            unsupported_language=language,
        )

    def warm_up(self, *, background: bool = True) -> None:
        """Load the embedder and build the BM25 index before the first question, and warn
        when the store was written by an older qa (``warn_if_outdated``).

        In the background by default so the API starts serving at once; a search arriving
        before the index exists waits for it (``LexicalIndex.sync``).
        """
        self._embedder.embed(["warm up"])
        lexical = self._lexical

        def build() -> None:
            if lexical is not None:
                try:
                    lexical.sync(self._store)
                except QAError as exc:  # Chroma may be down at start; the first search retries.
                    log.warning("lexical index not built at start-up: %s", exc)
            try:
                self.warn_if_outdated()
            except QAError as exc:
                log.warning("stored sentence vectors not checked at start-up: %s", exc)

        if background:
            threading.Thread(target=build, name="qa-warm-up", daemon=True).start()
        else:
            build()

    def warn_if_outdated(self) -> int:
        """Log a warning when sampled documents lack the sentence vectors or token states
        this qa makes (an older qa wrote them: answers still work, ranked less well, until
        `qa check --repair`). How many of the sample do."""
        sentences, tokens = self._ingest.expected_sentence_vectors()
        if not sentences:
            return 0
        found, looked = outdated(self._store, tokens=tokens)
        if found:
            log.warning(
                "%d of %d sampled documents were embedded by an older qa (no sentence "
                "vectors or token states): answers rank less well until `qa check --repair`",
                found,
                looked,
            )
        return found

    def follow(self) -> None:
        """Keep up with writes other processes make to the store (``qa ingest`` while this
        one serves), in a background thread, every ``revision_poll_s`` (``qa.follower``)."""
        if self._follower is None:
            self._follower = StoreFollower(
                self._store,
                self._lexical,
                poll_s=self.settings.store.revision_poll_s or FOLLOW_MIN_POLL_S,
            )
        self._follower.start()

    def close(self) -> None:
        """Stop following the store (``follow``)."""
        if self._follower is not None:
            self._follower.stop()

    # ---------------------------------------------------------------- conversations
    def conversation_exists(self, conversation_id: str) -> bool:
        return self._conversations.exists(conversation_id)

    def history(self, conversation_id: str, limit: int = 6) -> list[Turn]:
        """The conversation's last ``limit`` turns, oldest first."""
        return self._conversations.history(conversation_id, limit=limit)

    def record_feedback(self, feedback: Feedback) -> int:
        """Store a thumbs up/down on an answer; returns the feedback id."""
        return self._conversations.record_feedback(feedback)

    def list_feedback(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` feedback records, newest first."""
        return self._conversations.list_feedback(limit=limit)

    # ---------------------------------------------------------------- health
    def readiness(self) -> dict[str, str]:
        """Component states for /readyz; raises StoreError when Chroma is unreachable.

        ``index``: "current", or "catching up: ..." while this process has not yet loaded
        writes another process made (it answers from the previous state meanwhile)."""
        self._store.ping()
        checks = {"chroma": "ok", "llm": "configured" if self.settings.llm.enabled else "off"}
        lag = self._store.stale()
        if lag is None and self._follower is not None:
            lag = self._follower.lag()
        if lag is None and self._lexical is not None:
            if self._lexical.revision is None:
                lag = "the keyword (BM25) index is being built"
            elif self._lexical.revision != self._store.revision():
                lag = "the keyword (BM25) index is loading the latest writes"
        checks["index"] = "current" if lag is None else f"catching up: {lag}"
        problem = self._conversations.unavailable()
        checks["conversations"] = "ok" if problem is None else f"unavailable: {problem}"
        return checks


def _owns(question: str, answer: Answer) -> bool:
    """Whether an answer found with the conversation's help still answers ``question``: it
    points back ("they", "it"), or the cited lines hold one of its own content words. A
    question the articles do not answer must not borrow the previous question's answer."""
    if not answer.answerable:
        return False
    if refers_back(question):
        return True
    cited = {term for c in answer.citations for term in terms(c.quote)}
    return bool(cited & set(terms(question)))
