"""The one place that names concrete classes: builds the service's object graph from settings
and decorates it once (batching, caching, metrics)."""

from __future__ import annotations

from qa.answering.attribution import AttributedAnswerer
from qa.answering.condense import naive_condense
from qa.answering.extractive import DEFAULT_THRESHOLD, ExtractiveAnswerer
from qa.config import Settings
from qa.embeddings.batching import BatchingEmbedder
from qa.embeddings.cache import VectorCache
from qa.embeddings.factory import build_embedder
from qa.observability.instrument import MeteredChatModel, instrument
from qa.ports import Answerer, ChatModel, Condenser, Embedder, Retriever
from qa.retrieval import HybridRetriever
from qa.service import QAService
from qa.store.chroma import ChromaStore, make_chroma_client
from qa.store.conversations import ConversationStore
from qa.store.lexical import LexicalIndex


def build_service(settings: Settings, *, embedder: Embedder | None = None) -> QAService:
    """The service the settings ask for: embedded or server Chroma, the local or an OpenAI
    embedder, extractive answers, or an LLM's when one is configured. ``embedder`` replaces
    the configured one (benchmarks compare models; tests count calls)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = embedder or build_embedder(settings)
    store = ChromaStore(lambda: make_chroma_client(settings), settings)
    lexical = LexicalIndex(settings.lexical_cache_dir, cache_key=settings.store_identity)
    # Questions and answer sentences: concurrent requests share model runs, and the question
    # is embedded once for search and answer. Ingestion calls ``embedder`` directly.
    vectors = VectorCache(BatchingEmbedder(embedder))
    retriever: Retriever = HybridRetriever(
        store,
        vectors,
        lexical,
        store,
        mode=settings.retrieval_mode,
        recency_half_life_days=settings.recency_half_life_days,
        recency_floor=settings.recency_floor,
        recency_scope=settings.recency_scope,
    )
    threshold = settings.min_evidence_score
    extractive = ExtractiveAnswerer(
        vectors,
        store.get_document,
        sentences=store,
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
    )
    # Extractive answers say who reported each sentence and when (qa/answering/attribution.py).
    attributed = AttributedAnswerer(extractive, store.get_document)
    answerer: Answerer = attributed
    condense: Condenser = naive_condense
    if settings.llm_enabled:  # importing openai costs ~1 s of start-up: only when used
        from qa.answering.llm import LLMAnswerer
        from qa.prompts import load_prompts

        chat: ChatModel
        if settings.llm == "scripted":
            from qa.llm.scripted import ScriptedChatModel

            chat = ScriptedChatModel()
        else:
            from qa.llm.openai_chat import build_chat_model

            built = build_chat_model(settings)
            assert built is not None
            chat = built
        # Metered before the answerer and its condenser are built around it: both count.
        llm = LLMAnswerer(
            MeteredChatModel(chat),
            extractive,
            store.get_document,
            load_prompts(settings.prompts_dir),
            fallback_answerer=attributed,
        )
        answerer = llm
        condense = llm.condense
    # Decorated once, here; they report to whichever app's Metrics serves the request.
    retriever, answerer = instrument(retriever, answerer)
    return QAService(
        settings,
        store=store,
        embedder=embedder,
        retriever=retriever,
        answerer=answerer,
        conversations=ConversationStore(settings.sqlite_path),
        lexical=lexical,
        condense=condense,
    )
