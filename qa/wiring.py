"""The one place that names concrete classes: builds the service's object graph from settings
and decorates it once (batching, caching, metrics)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qa.answering.attribution import AttributedAnswerer
from qa.answering.extractive import ExtractiveAnswerer
from qa.config import Settings
from qa.embeddings.batching import BatchingEmbedder
from qa.embeddings.cache import VectorCache
from qa.embeddings.factory import build_embedder
from qa.language import LinguaLanguageCheck
from qa.observability.instrument import MeteredChatModel, instrument
from qa.ports import Answerer, ChatModel, Condenser, Embedder, Retriever
from qa.retrieval import HybridRetriever
from qa.service import QAService
from qa.status import startup_line
from qa.store.chroma import ChromaStore
from qa.store.conversations_unavailable import open_conversation_log
from qa.store.lexical import LexicalIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Components:
    """The parts a service is made of, for benchmarks and tools that need one part alone
    (e.g. an extractive answerer over the same store with another threshold)."""

    settings: Settings
    store: ChromaStore
    embedder: Embedder  # what ingestion embeds with
    query_embedder: Embedder  # questions and sentences: batched across requests, cached
    lexical: LexicalIndex
    retriever: Retriever
    extractive: ExtractiveAnswerer
    answerer: Answerer
    condense: Condenser | None  # an LLM's rewrite of follow-ups; None without an LLM


def build_service(
    settings: Settings, *, embedder: Embedder | None = None, parts: Components | None = None
) -> QAService:
    """The service the settings ask for: embedded or server Chroma, the local or an OpenAI
    embedder, extractive answers, or an LLM's when one is configured. ``embedder`` replaces
    the configured one (benchmarks compare models; tests count calls); ``parts`` are
    components already built (a benchmark that times one of them inside the service)."""
    parts = parts or build_components(settings, embedder=embedder)
    # Decorated once, here; they report to whichever app's Metrics serves the request.
    retriever, answerer = instrument(parts.retriever, parts.answerer)
    return QAService(
        settings,
        store=parts.store,
        embedder=parts.embedder,
        retriever=retriever,
        answerer=answerer,
        # A corrupt qa.sqlite3 starts the service degraded, not at all (readyz names it).
        conversations=open_conversation_log(
            settings.store.sqlite_path, ttl_s=settings.store.conversation_ttl_days * 86400
        ),
        lexical=parts.lexical,
        condense=parts.condense,
        language=LinguaLanguageCheck() if settings.answering.language_check else None,
    )


def build_store(settings: Settings) -> ChromaStore:
    """The store alone (connects on first use), e.g. for `qa status`."""
    return ChromaStore.from_settings(settings.store)


def build_components(settings: Settings, *, embedder: Embedder | None = None) -> Components:
    """Every part of the service, undecorated by metrics."""
    settings.store.data_dir.mkdir(parents=True, exist_ok=True)
    log.info("%s", startup_line(settings))
    embedder = embedder or build_embedder(settings.embedding, settings.llm)
    store = build_store(settings)
    lexical = LexicalIndex(settings.store.lexical_cache_dir, cache_key=settings.store.identity)
    # Questions and answer sentences: concurrent requests share model runs, and the question
    # is embedded once for search and answer. Ingestion calls ``embedder`` directly.
    vectors = VectorCache(BatchingEmbedder(embedder))
    retriever: Retriever = HybridRetriever(
        store,
        vectors,
        lexical,
        store,
        mode=settings.retrieval.mode,
        recency_half_life_days=settings.retrieval.recency_half_life_days,
        recency_floor=settings.retrieval.recency_floor,
        recency_scope=settings.retrieval.recency_scope,
    )
    # The evidence model is read here: a missing or corrupt model file stops startup.
    extractive = ExtractiveAnswerer(
        vectors,
        store.get_document,
        sentences=store,
        threshold=settings.answering.min_evidence_score,
    )
    # Extractive answers say who reported each sentence and when (qa/answering/attribution.py).
    attributed = AttributedAnswerer(extractive, store.get_document)
    answerer: Answerer = attributed
    condense: Condenser | None = None
    if settings.llm.enabled:  # importing openai costs ~1 s of start-up: only when used
        from qa.answering.llm import LLMAnswerer
        from qa.prompts import load_prompts

        chat: ChatModel
        if settings.llm.provider == "scripted":
            from qa.llm.scripted import ScriptedChatModel

            chat = ScriptedChatModel()
        else:
            from qa.llm.openai_chat import build_chat_model

            built = build_chat_model(settings.llm)
            assert built is not None
            chat = built
        # Metered before the answerer and its condenser are built around it: both count.
        llm = LLMAnswerer(
            MeteredChatModel(chat),
            extractive,
            store.get_document,
            load_prompts(settings.answering.prompts_dir),
            fallback_answerer=attributed,
        )
        answerer = llm
        condense = llm.condense
    return Components(
        settings, store, embedder, vectors, lexical, retriever, extractive, answerer, condense
    )
