"""The Chroma client and its collections: made lazily, dropped after any failure.

Every Chroma call goes through ``ChromaConnection.run``, which turns vendor errors (chromadb
raises ValueError, httpx and Rust errors alike) into ``StoreError`` with ``retryable`` set,
and forgets the client so that the next call reconnects (server restarted or moved).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import ChromaError

from qa.config import StoreSettings
from qa.errors import QAError, StoreError

logger = logging.getLogger(__name__)

T = TypeVar("T")
ClientFactory = Callable[[], ClientAPI]

PAGE = 5000  # Chroma pages by offset, so each page costs a skip: fewer, larger ones
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


def make_chroma_client(store: StoreSettings) -> ClientAPI:
    """An HttpClient for ``store.chroma_url``, else a PersistentClient in data_dir/chroma."""
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False)
    if store.chroma_url:
        url = urlsplit(store.chroma_url)
        ssl = url.scheme == "https"
        client = chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=chroma_settings,
        )
        # chromadb 1.5 builds its httpx session with timeout=None and offers no setting, so a
        # stalled server would hang every request thread; bound it (best effort, private API).
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = HTTP_TIMEOUT
        return client
    path = store.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def retryable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is worth retrying: transport errors, 429, 5xx."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError | ConnectionError | TimeoutError):
            return True
        if isinstance(seen, httpx.HTTPStatusError):
            return seen.response.status_code == 429 or seen.response.status_code >= 500
        if isinstance(seen, ChromaError):
            return seen.code() == 429 or seen.code() >= 500
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass(frozen=True)
class CollectionNames:
    """One kind of record per collection: chunks (searched by vector), documents (full
    original text), sentence vectors, and the change log (revision, deletion markers)."""

    chunks: str = "qa_chunks"
    documents: str = "qa_documents"

    @property
    def sentences(self) -> str:
        return f"{self.documents}_sentences"

    @property
    def changes(self) -> str:
        return f"{self.documents}_changes"


@dataclass(frozen=True)
class ChromaCollections:
    """An open client and its collections."""

    client: ClientAPI
    chunks: Collection
    documents: Collection
    sentences: Collection
    changes: Collection
    max_batch: int

    def named(self, kind: str) -> Collection:
        collection: Collection = getattr(self, kind)
        return collection


class ChromaConnection:
    """A lazily made client with qa's collections. Thread-safe."""

    def __init__(self, factory: ClientFactory, names: CollectionNames) -> None:
        self._factory = factory
        self.names = names
        self._conn: ChromaCollections | None = None
        self._lock = threading.Lock()

    def connect(self) -> ChromaCollections:
        with self._lock:
            if self._conn is None:
                client = self._factory()
                chunks = client.get_or_create_collection(
                    self.names.chunks,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                )
                # Never searched: records are read by id or metadata, with a 1-d dummy vector.
                others = [
                    client.get_or_create_collection(name, embedding_function=None)
                    for name in (self.names.documents, self.names.sentences, self.names.changes)
                ]
                documents, sentences, changes = others
                self._conn = ChromaCollections(
                    client, chunks, documents, sentences, changes, client.get_max_batch_size()
                )
            return self._conn

    def run(self, what: str, call: Callable[[ChromaCollections], T]) -> T:
        """``call`` on the connection; any Chroma failure becomes StoreError."""
        try:
            return call(self.connect())
        except QAError:
            raise
        except Exception as exc:
            with self._lock:
                self._conn = None  # reconnect on the next call (server restarted, moved)
            logger.warning("chroma %s failed: %s: %s", what, type(exc).__name__, exc)
            raise StoreError(
                f"Chroma {what} failed: {type(exc).__name__}: {exc}", retryable=retryable(exc)
            ) from exc

    def pages(self, what: str, collection: str, **get: Any) -> Iterator[dict[str, Any]]:
        """``get`` over ``collection`` (a ChromaCollections field) in pages of PAGE records."""
        offset = 0
        while True:

            def page(conn: ChromaCollections, offset: int = offset) -> dict[str, Any]:
                return dict(conn.named(collection).get(limit=PAGE, offset=offset, **get))

            result = self.run(what, page)
            yield result
            if len(result["ids"]) < PAGE:
                return
            offset += PAGE
