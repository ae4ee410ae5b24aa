"""QAService built from the in-memory fakes, the way qa/wiring.py builds the real one.

MemoryStore for every storage port, HashingEmbedder (wrapped in a VectorCache for
questions and answer sentences, as wiring does), the real LexicalIndex (no cache dir),
HybridRetriever, the extractive answerer or an LLMAnswerer over a ScriptedChatModel, and
ConversationStore in SQLite under a temporary folder. No model file, no Chroma, no network.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from fakes.corpus import CHUNK_OVERLAP, CHUNK_SIZE
from qa.answering.condense import naive_condense
from qa.answering.evidence import load_model
from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.llm import LLMAnswerer
from qa.config import Settings
from qa.embeddings.cache import VectorCache
from qa.embeddings.hashing import HashingEmbedder
from qa.llm.scripted import ReplyFn, Scripted, ScriptedChatModel
from qa.ports import Answerer, Condenser
from qa.prompts import load_prompts
from qa.retrieval import HybridRetriever
from qa.service import QAService
from qa.store.conversations import ConversationStore
from qa.store.lexical import LexicalIndex
from qa.store.memory import MemoryStore
from qa.types import Document

__all__ = ["MemoryService", "ServiceFactory"]

#: What ``llm=`` accepts: a ready model, or the script of a new ScriptedChatModel.
LLMScript = ScriptedChatModel | Sequence[Scripted] | ReplyFn

EVIDENCE_MODEL = load_model()
#: The evidence logit below which services made here abstain: about the shipped model's
#: threshold when these fakes were written (-4.1), moved to -4.4 when the model was refitted
#: with token alignment, which the hashing embedder cannot give (its rows count as average).
FAKE_ABSTAIN_LOGIT = -4.4


@dataclass
class MemoryService:
    """A QAService and the fakes behind it, for tests to inspect and break."""

    service: QAService
    settings: Settings
    store: MemoryStore
    lexical: LexicalIndex
    conversations: ConversationStore
    chat: ScriptedChatModel | None
    sqlite_path: Path


@functools.lru_cache(maxsize=64)
def _settings(options: tuple[tuple[str, Any], ...]) -> Settings:
    """Settings validated once per set of options (reading them costs more than a question).
    Nothing on the service's path reads ``data_dir``: the SQLite file is the factory's."""
    return Settings(data_dir=Path("unused-data-dir"), _env_file=None, **dict(options))


class ServiceFactory:
    """Builds MemoryServices under ``root`` (each in a folder of its own); closes their
    SQLite databases on exit."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._count = itertools.count()
        self._built: list[MemoryService] = []

    def __enter__(self) -> ServiceFactory:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for built in self._built:
            built.conversations.close()

    def __call__(
        self,
        docs: Iterable[Document] = (),
        *,
        llm: LLMScript | None = None,
        **settings: Any,
    ) -> MemoryService:
        """A service holding ``docs`` (ingested through it). ``llm``: answer with a
        ScriptedChatModel (a model, or its script), which also condenses follow-ups;
        otherwise extractive answers and the naive condenser. ``settings`` override
        Settings fields (hashable values; small chunks by default)."""
        sqlite_path = self._root / f"service-{next(self._count)}" / "qa.sqlite3"
        options: dict[str, Any] = {
            "chunk_size": CHUNK_SIZE,
            "chunk_overlap": CHUNK_OVERLAP,
            "llm": "off" if llm is None else "scripted",
            **settings,
        }
        config = _settings(tuple(sorted(options.items())))
        store = MemoryStore()
        embedder = HashingEmbedder()
        vectors = VectorCache(embedder)
        lexical = LexicalIndex()
        retriever = HybridRetriever(store, vectors, lexical, store, mode=config.retrieval.mode)
        threshold = config.answering.min_evidence_score
        if threshold is None:
            # The hashing embedder's cosines are not MiniLM's: the fakes abstain at a fixed
            # logit of the shipped model, so a refit of its calibration does not move them.
            threshold = EVIDENCE_MODEL.confidence(FAKE_ABSTAIN_LOGIT)
        extractive = ExtractiveAnswerer(
            vectors,
            store.get_document,
            sentences=store,
            threshold=threshold,
        )
        answerer: Answerer = extractive
        condense: Condenser = naive_condense
        chat = None
        if llm is not None:
            chat = llm if isinstance(llm, ScriptedChatModel) else ScriptedChatModel(llm)
            llm_answerer = LLMAnswerer(
                chat, extractive, store.get_document, load_prompts(config.answering.prompts_dir)
            )
            answerer, condense = llm_answerer, llm_answerer.condense
        conversations = ConversationStore(sqlite_path)
        service = QAService(
            config,
            store=store,
            embedder=embedder,
            retriever=retriever,
            answerer=answerer,
            conversations=conversations,
            lexical=lexical,
            condense=condense,
        )
        built = MemoryService(service, config, store, lexical, conversations, chat, sqlite_path)
        self._built.append(built)
        docs = list(docs)
        if docs:
            service.ingest_documents(docs)
        return built
