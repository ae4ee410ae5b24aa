"""The Chroma client and its collections: made lazily, dropped after any failure.

Every Chroma call goes through ``ChromaConnection.run``, which turns vendor errors (chromadb
raises ValueError, httpx and Rust errors alike) into ``StoreError`` with ``retryable`` set,
and forgets the client so that the next call reconnects (server restarted or moved).

Embedded Chroma (PersistentClient) keeps its vector index in the process, and chromadb shares
one such "system" per path: another process's writes land in the SQLite file, but this
process's index never sees them (a filtered query then fails with "Error finding id", an
unfiltered one misses the new chunks) until it opens a new system. So a reconnect after a
failure opens a *fresh* system, and ``reopen`` does it on purpose, off the request path, when
the store's revision shows another process wrote (``ChromaStore.stale``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.api import ClientAPI, ServerAPI
from chromadb.api.client import Client
from chromadb.api.models.Collection import Collection
from chromadb.config import System
from chromadb.errors import ChromaError, InternalError
from chromadb.telemetry.product import ProductTelemetryClient

from qa.config import StoreSettings
from qa.errors import QAError, StoreError

logger = logging.getLogger(__name__)

T = TypeVar("T")
ClientFactory = Callable[[], ClientAPI]

#: A client replaced by ``reopen`` is stopped (its index and SQLite handles freed) at a later
#: reopen once it has been out of use this long: calls still running on it have long ended.
RETIRE_AFTER_S = 60.0
PAGE = 5000  # Chroma pages by offset, so each page costs a skip: fewer, larger ones
HTTP_TIMEOUT = httpx.Timeout(60.0, connect=5.0)


def make_chroma_client(store: StoreSettings, *, fresh: bool = False) -> ClientAPI:
    """An HttpClient for ``store.chroma_url``, else a PersistentClient in data_dir/chroma.

    ``fresh``: an embedded client on a new chromadb system (its own vector index, read from
    disk), which later PersistentClients in this process share; without it, chromadb hands
    out the system already open for the path, whose index may lag other processes' writes.
    """
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
    if fresh:
        return _fresh_persistent_client(str(path), chroma_settings)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _fresh_persistent_client(path: str, settings: chromadb.config.Settings) -> ClientAPI:
    """A PersistentClient on a system of its own: what ``PersistentClient`` does the first time
    it sees ``path`` (chromadb's SharedSystemClient), done again. ``Client.from_system``
    registers the new system for the path; clients already open keep theirs, so requests in
    flight on the old index finish there, and it is freed once nothing refers to it."""
    settings = settings.model_copy(update={"persist_directory": path, "is_persistent": True})
    system = System(settings)
    # chromadb resolves these abstract components to the implementations its settings name.
    system.instance(ProductTelemetryClient)  # type: ignore[type-abstract]
    system.instance(ServerAPI)  # type: ignore[type-abstract]
    system.start()
    return Client.from_system(system)


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
    #: Made by the fresh factory: its chromadb system is this connection's alone.
    own_system: bool = False

    def named(self, kind: str) -> Collection:
        collection: Collection = getattr(self, kind)
        return collection


class ChromaConnection:
    """A lazily made client with qa's collections. Thread-safe.

    ``fresh_factory`` makes a client with an index of its own (``make_chroma_client(...,
    fresh=True)``); it is used after a failure and by ``reopen``. It defaults to ``factory``.
    """

    def __init__(
        self,
        factory: ClientFactory,
        names: CollectionNames,
        fresh_factory: ClientFactory | None = None,
    ) -> None:
        self._factory = factory
        self._fresh_factory = fresh_factory or factory
        self.names = names
        self._conn: ChromaCollections | None = None
        self._failed = False  # the next connect opens a fresh client
        self._lock = threading.Lock()
        self._reopening = threading.Lock()
        self.reopens = 0
        self._retired: list[tuple[float, ChromaCollections]] = []
        #: Called with every connection just opened, before any other use of it.
        self.on_open: Callable[[ChromaCollections], None] | None = None

    def _open(self, factory: ClientFactory) -> ChromaCollections:
        client = factory()
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
        own = factory is self._fresh_factory and factory is not self._factory
        conn = ChromaCollections(
            client, chunks, documents, sentences, changes, client.get_max_batch_size(), own
        )
        if self.on_open is not None:
            self.on_open(conn)
        return conn

    def connect(self) -> ChromaCollections:
        with self._lock:
            if self._conn is None:
                self._conn = self._open(self._fresh_factory if self._failed else self._factory)
                self._failed = False
            return self._conn

    @property
    def current(self) -> ChromaCollections | None:
        """The open connection, if any (None: the next call opens one)."""
        return self._conn

    def reopen(self, warm: Callable[[ChromaCollections], object] | None = None) -> bool:
        """Open a fresh client, run ``warm`` on it (e.g. a query, which loads the vector
        index from disk), then swap it in; calls made meanwhile use the old one. False when
        another reopen was already under way (it is as fresh as this one would be)."""
        if not self._reopening.acquire(blocking=False):
            self._reopening.acquire()  # wait for it rather than open a second one
            self._reopening.release()
            return False
        try:
            try:
                fresh = self._open(self._fresh_factory)
                if warm is not None:
                    warm(fresh)
            except Exception as exc:
                logger.warning("chroma reopen failed: %s: %s", type(exc).__name__, exc)
                raise StoreError(
                    f"Chroma reopen failed: {type(exc).__name__}: {exc}", retryable=retryable(exc)
                ) from exc
            with self._lock:
                old, self._conn = self._conn, fresh
                self._failed = False
                self.reopens += 1
            self._retire(old)
            return True
        finally:
            self._reopening.release()

    def _retire(self, old: ChromaCollections | None) -> None:
        """Stop the clients replaced more than RETIRE_AFTER_S ago, and keep ``old`` for later.
        Left alone, each would hold its index and file handles until the garbage collector
        breaks chromadb's reference cycles."""
        now = time.monotonic()
        due = [conn for at, conn in self._retired if now - at > RETIRE_AFTER_S]
        self._retired = [(at, conn) for at, conn in self._retired if now - at <= RETIRE_AFTER_S]
        if old is not None and old.own_system:  # a shared one may serve other clients
            self._retired.append((now, old))
        for conn in due:
            server = getattr(conn.client, "_server", None)  # the client's chromadb component
            try:
                if server is not None:
                    server.stop()
            except Exception as exc:  # it is being dropped anyway
                logger.debug("retired chroma client not stopped: %s", exc)

    def run(self, what: str, call: Callable[[ChromaCollections], T], *, retry: bool = False) -> T:
        """``call`` on the connection; any Chroma failure becomes StoreError. ``retry`` (reads
        only): after an internal error, once more on a fresh client, which is what an index
        that lags another process's writes needs."""
        conn: ChromaCollections | None = None
        try:
            conn = self.connect()
            return call(conn)
        except QAError:
            raise
        except Exception as exc:
            with self._lock:
                if conn is None or self._conn is conn:  # not one a reopen has swapped in meanwhile
                    self._conn = None  # reconnect on the next call (server restarted, moved)
                    self._failed = True
            if retry and isinstance(exc, InternalError):
                logger.info("chroma %s failed (%s); retrying on a fresh client", what, exc)
                return self.run(what, call)
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
