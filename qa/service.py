"""QAService: ingest, search and ask; ``build_service`` picks the adapters from settings."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from qa.answering.sentences import document_sentences
from qa.answering.vectors import pack
from qa.config import Settings
from qa.errors import IngestError, InputError, NotFoundError, QAError
from qa.ingest.pipeline import IngestReport
from qa.ports import ChunkStore, Embedder, Vectors
from qa.types import Answer, Chunk, Document, DocumentInfo, Filters, Hit, Turn

log = logging.getLogger(__name__)

#: Chunks embedded per call across documents (bigger batches keep the embedder busy).
EMBED_GROUP = 256


class QAService:
    """The application core. Frontends parse input, call this, and render the result."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: ChunkStore,
        embedder: Embedder,
        lexical: Any,
        retriever: Any,
        answerer: Any,
        conversations: Any,
        condense: Callable[[str, Sequence[Turn]], str] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.retriever = retriever
        self.answerer = answerer
        self.conversations = conversations
        self._condense = condense
        self._embedder_checked = False

    # ---------------------------------------------------------------- ingestion
    def _check_embedder(self) -> None:
        if not self._embedder_checked:
            self.store.check_embedder(self.embedder.name, self.embedder.dimension)
            self._embedder_checked = True

    def _chunk(self, doc: Document) -> list[Chunk]:
        from qa.ingest.chunking import split_document

        return split_document(
            doc,
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            length_function=self.embedder.count_tokens,
        )

    def ingest_documents(
        self,
        docs: Sequence[Document],
        report: IngestReport | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Store ``docs``; unchanged ones write nothing, changed ones replace their chunks."""
        report = report or IngestReport()
        self._check_embedder()
        pending: list[tuple[Document, list[Chunk]]] = []
        pending_chunks = 0
        for doc in docs:
            if self.store.document_hash(doc.doc_id) == doc.content_hash:
                report.unchanged += 1
                if progress:
                    progress(1)
                continue
            chunks = self._chunk(doc)
            pending.append((doc, chunks))
            pending_chunks += len(chunks)
            if pending_chunks >= EMBED_GROUP:
                self._write(pending, report, progress)
                pending, pending_chunks = [], 0
        self._write(pending, report, progress)
        return report

    def _write(
        self,
        pending: list[tuple[Document, list[Chunk]]],
        report: IngestReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        if not pending:
            return
        sentences = [
            document_sentences(doc) if self.settings.sentence_vectors else [] for doc, _ in pending
        ]
        texts = [chunk.text for _, chunks in pending for chunk in chunks]
        texts += [s.text for found in sentences for s in found]
        vectors = self.embedder.embed(texts)  # one call: the embedder batches by length
        items: list[tuple[Document, Sequence[Chunk], Vectors]] = []
        offset = sum(len(chunks) for _, chunks in pending)
        at = 0
        for (doc, chunks), found in zip(pending, sentences, strict=True):
            stored = doc
            if found:
                packed = pack(doc, found, vectors[offset : offset + len(found)])
                stored = doc.model_copy(update={"sentence_vectors": packed})
                offset += len(found)
            items.append((stored, chunks, vectors[at : at + len(chunks)]))
            at += len(chunks)
        # One batched write per group: each store write is a commit (or a round trip).
        self.store.upsert_documents(items)
        for doc, written, _ in items:
            report.documents += 1
            report.chunks += len(written)
            report.doc_ids.append(doc.doc_id)
            if progress:
                progress(1)

    def ingest_paths(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        progress_factory: Callable[[int], Callable[[int], None]] | None = None,
    ) -> IngestReport:
        """Ingest files and folders; bad files are reported, the rest still ingested."""
        from qa.ingest.loaders import load_file, scan_paths

        report = IngestReport()
        scan = scan_paths(paths)
        report.skipped += len(scan.skipped)
        for err in scan.errors:
            report.failed += 1
            report.errors.append(str(err))
        docs: list[Document] = []
        for path, source in scan.files:
            loaded, errors = load_file(
                path, source=source, max_document_bytes=self.settings.max_document_bytes
            )
            docs.extend(loaded)
            for err in errors:
                report.failed += 1
                report.errors.append(str(err))
        seen: set[str] = set()
        unique: list[Document] = []
        for doc in docs:
            if doc.doc_id in seen:
                report.failed += 1
                report.errors.append(f"{doc.source}: duplicate document id {doc.doc_id!r}")
                continue
            seen.add(doc.doc_id)
            unique.append(doc)
        progress = progress_factory(len(unique)) if progress_factory else None
        self.ingest_documents(unique, report, progress)
        if prune:
            sources = {source for _, source in scan.files}
            for info in self.store.list_documents():
                if info.source not in sources:
                    self.store.delete_document(info.doc_id)
                    report.pruned += 1
        report.pruned += self.store.prune_orphans()
        return report

    def add_records(self, records: Sequence[dict[str, Any]]) -> IngestReport:
        """Ingest JSON article records (the HTTP API); any invalid record rejects the batch."""
        from qa.ingest.loaders import document_from_record

        docs: list[Document] = []
        errors: list[str] = []
        for i, record in enumerate(records):
            try:
                docs.append(document_from_record(record, source="api", default_id=f"api#{i}"))
            except IngestError as exc:
                errors.append(f"documents[{i}]: {exc.reason}")
        if errors:
            raise InputError("; ".join(errors))
        ids = [d.doc_id for d in docs]
        if len(set(ids)) != len(ids):
            raise InputError("documents: two documents share one id")
        return self.ingest_documents(docs)

    # ---------------------------------------------------------------- documents
    def list_documents(self) -> list[DocumentInfo]:
        return self.store.list_documents()

    def get_document(self, doc_id: str) -> Document:
        doc = self.store.get_document(doc_id)
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
        if not self.store.delete_document(doc_id):
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
        self, query: str, top_k: int | None = None, filters: Filters | None = None
    ) -> list[Hit]:
        hits: list[Hit] = self.retriever.search(
            self.check_question(query), self._top_k(top_k), filters
        )
        return hits

    def _prepare(
        self,
        question: str,
        conversation_id: str | None,
        top_k: int | None,
        filters: Filters | None,
        history: Sequence[Turn] | None,
    ) -> tuple[str | None, str, list[Turn], list[Hit], float]:
        question = self.check_question(question)
        k = self._top_k(top_k)
        turns: list[Turn]
        if history is not None:
            # The caller carries the conversation (OpenAI-style messages): nothing is stored.
            conversation_id = None
            turns = list(history)
        elif conversation_id is None:
            conversation_id = self.conversations.new_id()
            turns = []
        else:
            turns = self.conversations.history(conversation_id)
        standalone = question
        if turns:
            if self._condense is not None:
                standalone = self._condense(question, turns)
            else:
                previous = turns[-1].standalone_question or turns[-1].question
                standalone = f"{previous} {question}"
        started = time.perf_counter()
        hits: list[Hit] = self.retriever.search(standalone, k, filters)
        retrieve_ms = (time.perf_counter() - started) * 1000
        return conversation_id, standalone, turns, hits, retrieve_ms

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Answer:
        """Answer ``question`` with verified citations, remembering the conversation."""
        answers = self._answer(question, conversation_id, top_k, filters, history, streaming=False)
        return next(item for item in answers if isinstance(item, Answer))

    def ask_stream(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
        history: Sequence[Turn] | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final verified Answer."""
        return self._answer(question, conversation_id, top_k, filters, history, streaming=True)

    def _answer(
        self,
        question: str,
        conversation_id: str | None,
        top_k: int | None,
        filters: Filters | None,
        history: Sequence[Turn] | None,
        *,
        streaming: bool,
    ) -> Iterator[str | Answer]:
        started = time.perf_counter()
        conv, standalone, turns, hits, retrieve_ms = self._prepare(
            question, conversation_id, top_k, filters, history
        )
        answer_started = time.perf_counter()
        final: Answer | None = None
        if streaming:
            for item in self.answerer.stream(standalone, hits, turns):
                if isinstance(item, Answer):
                    final = item
                else:
                    yield item
        else:
            # One complete call: an LLM answers without streaming overhead.
            final = self.answerer.answer(standalone, hits, turns)
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
            self.conversations.append(conv, turn)
        yield final

    def warm_up(self, *, background: bool = True) -> None:
        """Load the embedder and build the BM25 index before the first question.

        In the background by default so the API starts serving at once; a search arriving
        before the index exists waits for it (``LexicalIndex.sync``).
        """
        self.embedder.embed(["warm up"])

        def build() -> None:
            try:
                self.lexical.sync(self.store)
            except QAError as exc:  # Chroma may be down at start; the first search retries.
                log.warning("lexical index not built at start-up: %s", exc)

        if background:
            threading.Thread(target=build, name="qa-warm-up", daemon=True).start()
        else:
            build()

    def readiness(self) -> dict[str, str]:
        """Component states for /readyz; raises StoreError when Chroma is unreachable."""
        self.store.ping()
        return {"chroma": "ok", "llm": "configured" if self.settings.llm_enabled else "off"}


def build_service(settings: Settings) -> QAService:
    """Wire the adapters the settings ask for."""
    from qa.answering.extractive import ExtractiveAnswerer
    from qa.answering.vectors import VectorCache
    from qa.conversations import ConversationStore
    from qa.embeddings.batching import BatchingEmbedder
    from qa.embeddings.factory import build_embedder
    from qa.retrieval import HybridRetriever
    from qa.store.chroma import ChromaChunkStore, make_chroma_client
    from qa.store.lexical import LexicalIndex

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = build_embedder(settings)
    store = ChromaChunkStore(lambda: make_chroma_client(settings), settings)
    lexical = LexicalIndex(settings.lexical_cache_dir, cache_key=settings.store_identity)
    # Questions and answer sentences: concurrent requests share model runs, and the question
    # is embedded once for search and answer. Ingestion calls ``embedder`` directly.
    vectors = VectorCache(BatchingEmbedder(embedder))
    retriever = HybridRetriever(store, vectors, lexical, mode=settings.retrieval_mode)
    documents = store.get_document
    extractive = (
        ExtractiveAnswerer(embedder, documents, cache=vectors)
        if settings.min_evidence_score is None
        else ExtractiveAnswerer(
            embedder, documents, threshold=settings.min_evidence_score, cache=vectors
        )
    )
    answerer: Any = extractive
    condense = None
    if settings.llm_enabled:  # importing openai costs ~1 s of start-up: only when used
        from qa.answering.llm import LLMAnswerer
        from qa.answering.openai_chat import build_chat_model
        from qa.prompts import load_prompts

        chat = build_chat_model(settings)
        assert chat is not None
        prompts = load_prompts(settings.prompts_dir)
        llm = LLMAnswerer(chat, extractive, documents, prompts, embedder)
        answerer = llm
        condense = llm.condense
    conversations = ConversationStore(settings.sqlite_path)
    return QAService(
        settings,
        store=store,
        embedder=embedder,
        lexical=lexical,
        retriever=retriever,
        answerer=answerer,
        conversations=conversations,
        condense=condense,
    )
