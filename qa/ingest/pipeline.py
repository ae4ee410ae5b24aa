"""The one ingestion path, used by the CLI, the API and the service: paths or records ->
clean Documents (load_paths) -> chunks -> vectors (and sentence vectors) -> one batched
write per group of documents; and what a run did (IngestReport)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.embeddings.packing import pack_sentence_vectors
from qa.errors import (
    ConflictError,
    DocumentTooLargeError,
    IngestError,
    InputError,
    SkippedFileError,
)
from qa.ingest.chunking import split_document
from qa.ingest.identity import Root, Stored, clash, place, prunable, root_for
from qa.ingest.limits import check_document_limits
from qa.observability.metrics import record_ingested
from qa.ports import Embedder, Store, TokenEmbedder, TokenStates, Vectors
from qa.text import Sentence, document_sentences
from qa.types import Chunk, Document, DocumentInfo, DocumentWrite

if TYPE_CHECKING:
    from qa.config import IngestSettings

#: Chunks embedded and written together across documents (each write is a commit).
EMBED_GROUP = 256
#: Most texts, and most tokens, per embedder call within a group: progress moves after
#: each call, and calls of a similar number of tokens take a similar time.
EMBED_SLICE = 128
EMBED_SLICE_TOKENS = 4096
#: Above this many documents, one listing of the store beats reading them one by one.
_LIST_ABOVE = 32

#: ``progress_factory(total tokens)`` -> the function told of the tokens each step embedded.
ProgressFactory = Callable[[int], Callable[[int], None]]


@dataclass
class IngestReport:
    """What one ingestion run did (or, with ``dry_run``, would do)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    skipped: int = 0
    failed: int = 0
    pruned: int = 0  # documents removed by prune (those listed in ``removed_ids``)
    migrated: int = 0  # documents stored under their old id (no collection), replaced
    orphan_chunks: int = 0  # chunks left by an interrupted run, cleaned up
    tokens: int = 0  # embedder tokens embedded (chunks and sentences)
    seconds: float = 0.0  # the whole run
    embed_seconds: float = 0.0  # of which in the embedder
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)  # "where: why" of each skipped file
    removed_ids: list[str] = field(default_factory=list)

    @property
    def documents(self) -> int:
        """Documents written: added or updated."""
        return self.added + self.updated

    def summary(self) -> str:
        counts = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.skipped} skipped, {self.failed} failed, {self.pruned} removed"
        )
        if self.dry_run:
            return f"dry run, nothing written: would be {counts}"
        extra = f", {self.migrated} moved to collection ids" if self.migrated else ""
        work = f"{self.chunks} chunks in {self.seconds:.1f} s"
        if self.tokens and self.embed_seconds > 0:
            rate = self.tokens / self.embed_seconds
            work += f" ({self.tokens} tokens embedded at {rate:.0f} tokens/s)"
        return f"{counts}{extra}; {work}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
            "skipped": self.skipped,
            "failed": self.failed,
            "pruned": self.pruned,
            "migrated": self.migrated,
            "orphan_chunks": self.orphan_chunks,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "dry_run": self.dry_run,
            "errors": self.errors,
            "doc_ids": self.doc_ids,
            "skips": self.skips,
            "removed_ids": self.removed_ids,
        }


@dataclass(frozen=True)
class IngestResult:
    """Documents loaded from paths, plus every per-file/per-record error and skipped file
    (``skipped``: unsupported types found in folders; ``skips``: files passed over on
    purpose, saying why: binary, empty, too large, unreadable)."""

    documents: list[Document] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    skips: list[SkippedFileError] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # of every file found, loaded or not
    roots: list[Root] = field(default_factory=list)
    #: Each document's id before collections (the path relative to its folder argument).
    legacy_ids: dict[str, str] = field(default_factory=dict)
    #: Location of every file read without an error -> the ids read from it.
    loaded_cleanly: dict[str, set[str]] = field(default_factory=dict)


def load_paths(
    paths: Sequence[Path],
    *,
    max_document_bytes: int,
    max_file_bytes: int | None = None,
    collection: str | None = None,
) -> IngestResult:
    """Load every supported file under ``paths``; a repeated doc_id is an error, not a swap.

    Ids are ``<collection>/<path relative to the argument>`` (qa/ingest/identity.py).
    """
    # Imported on call: qa.service imports this module at start-up, for IngestReport alone.
    from qa.ingest.loaders import load_file, scan_paths

    result = IngestResult()
    loaded: list[tuple[Document, str]] = []
    for argument in paths:
        scan = scan_paths([argument])
        result.errors.extend(scan.errors)
        result.skipped.extend(scan.skipped)
        result.sources.extend(source for _, source in scan.files)
        if not scan.files and not argument.is_dir():
            continue  # a missing path: nothing to read, and nothing to prune under it
        root = root_for(argument, collection)
        result.roots.append(root)
        for path, source in scan.files:
            documents, found = load_file(
                path,
                source=source,
                max_document_bytes=max_document_bytes,
                max_file_bytes=max_file_bytes,
            )
            result.skips.extend(e for e in found if isinstance(e, SkippedFileError))
            errors = [e for e in found if not isinstance(e, SkippedFileError)]
            result.errors.extend(errors)
            placed: list[Document] = []
            for doc in documents:
                try:
                    placed.append(place(doc, file=path, root=root))
                except IngestError as exc:
                    errors.append(IngestError(source, exc.reason))
                    result.errors.append(errors[-1])
            for doc, old in zip(placed, documents, strict=False):
                result.legacy_ids.setdefault(doc.doc_id, old.doc_id)
            if not found and not errors:
                result.loaded_cleanly[str(path.resolve())] = {doc.doc_id for doc in placed}
            loaded.extend((doc, source) for doc in placed)
    result.documents.extend(_unique(loaded, result.errors))
    return result


def _unique(loaded: list[tuple[Document, str]], errors: list[IngestError]) -> list[Document]:
    """Keep the first document per doc_id: a silent replacement would lose an article."""
    first: dict[str, str] = {}
    unique: list[Document] = []
    for doc, where in loaded:
        if doc.doc_id in first:
            reason = f"duplicate document id {doc.doc_id!r} (first in {first[doc.doc_id]})"
            errors.append(IngestError(where, reason))
        else:
            first[doc.doc_id] = where
            unique.append(doc)
    return unique


@dataclass
class _Pending:
    """A document to write, with its chunks and sentence spans (made before embedding, so the
    run knows its total work up front)."""

    doc: Document
    chunks: list[Chunk]
    sentences: list[Sentence]
    tokens: list[int]  # of each chunk, then of each sentence

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.chunks] + [s.text for s in self.sentences]


class IngestPipeline:
    """Chunks, embeds and stores documents; unchanged ones (same content hash) cost nothing."""

    def __init__(self, config: IngestSettings, store: Store, embedder: Embedder) -> None:
        self._config = config
        self._store = store
        self._embedder = embedder
        self._embedder_checked = False

    def expected_sentence_vectors(self) -> tuple[bool, bool]:
        """Whether each stored document should have sentence vectors, and whether they
        should carry token states (what ``qa check`` compares the store with)."""
        sentences = self._config.sentence_vectors
        return sentences, sentences and isinstance(self._embedder, TokenEmbedder)

    def _stored_elsewhere(self, doc: Document) -> bool:
        """Whether the store holds exactly ``doc`` under its id, read from a copy of its
        file at another path (a second checkout of the same folder): nothing to write and
        nothing clashes, so the stored document keeps its first location."""
        stored = self._store.get_document(doc.doc_id)
        if stored is None or doc.location is None:
            return False
        same = {"location": doc.location, "content_hash": doc.content_hash}
        return stored.model_copy(update=same) == doc

    def _check_embedder(self) -> None:
        if not self._embedder_checked:
            self._store.check_embedder(self._embedder.name, self._embedder.dimension)
            self._embedder_checked = True

    def _chunk(self, doc: Document) -> list[Chunk]:
        return split_document(
            doc,
            chunk_size=self._config.chunk_size,
            chunk_overlap=self._config.chunk_overlap,
            length_function=self._embedder.count_tokens,
        )

    def _stored(self, docs: Sequence[Document]) -> dict[str, Stored]:
        """What the store holds under the ids of ``docs``: a few are read one by one, many
        by one listing."""
        if len(docs) > _LIST_ABOVE:
            return _stored_from(self._store.list_documents())
        found: dict[str, Stored] = {}
        for doc in docs:
            stored = self._store.get_document(doc.doc_id)
            if stored is not None:
                found[doc.doc_id] = Stored(stored.content_hash, stored.location, stored.source)
        return found

    def documents(
        self,
        docs: Sequence[Document],
        report: IngestReport | None = None,
        progress_factory: ProgressFactory | None = None,
        *,
        stored: Mapping[str, Stored] | None = None,
        dry_run: bool = False,
    ) -> IngestReport:
        """Store ``docs``; unchanged ones write nothing, changed ones replace their chunks.

        A document whose id another source holds (identity.clash) is not written: with a
        ``report`` the clash is one of its errors, without one a ConflictError.
        ``progress_factory(total)`` is called once with the tokens to embed and returns the
        function told of each part embedded.
        """
        started = time.perf_counter()
        own_report = report is None
        report = report or IngestReport()
        report.dry_run = dry_run
        self._check_embedder()
        if stored is None:
            stored = self._stored(docs)
        changed: list[Document] = []
        for doc in docs:
            before = stored.get(doc.doc_id)
            problem = clash(doc, before)
            if problem is not None and self._stored_elsewhere(doc):
                report.unchanged += 1
            elif problem is not None:
                if own_report:
                    raise ConflictError(problem)
                report.failed += 1
                report.errors.append(problem)
            elif before is not None and before.content_hash == doc.content_hash:
                report.unchanged += 1
            else:
                try:
                    check_document_limits(doc, self._config)
                except DocumentTooLargeError as exc:
                    report.failed += 1
                    report.errors.append(str(exc))
                    continue
                changed.append(doc)
                if before is None:
                    report.added += 1
                else:
                    report.updated += 1
        if dry_run:
            report.doc_ids.extend(doc.doc_id for doc in changed)
            return report
        pending = [self._prepare(doc) for doc in changed]
        total = sum(sum(p.tokens) for p in pending)
        advance = progress_factory(total) if progress_factory else None
        group: list[_Pending] = []
        for item in pending:
            group.append(item)
            if sum(len(p.chunks) for p in group) >= EMBED_GROUP:
                self._write(group, report, advance)
                group = []
        self._write(group, report, advance)
        report.seconds += time.perf_counter() - started
        return report

    def rechunk(self, docs: Sequence[Document]) -> IngestReport:
        """Chunk, embed and write ``docs`` again although their hash is stored (a repair,
        from the stored original lines); one changed or deleted meanwhile is left alone."""
        report = IngestReport()
        self._check_embedder()
        for start in range(0, len(docs), 16):
            pending = [self._prepare(doc) for doc in docs[start : start + 16]]
            self._write(pending, report, None, only_if_stored=True)
        report.updated = len(report.doc_ids)
        return report

    def _prepare(self, doc: Document) -> _Pending:
        chunks = self._chunk(doc)
        sentences = document_sentences(doc) if self._config.sentence_vectors else []
        count = self._embedder.count_tokens
        tokens = [count(c.text) for c in chunks] + [count(s.text) for s in sentences]
        return _Pending(doc, chunks, sentences, tokens)

    def _embed(
        self,
        texts: list[str],
        tokens: list[int],
        advance: Callable[[int], None] | None,
        states: list[TokenStates | None] | None = None,
    ) -> Vectors:
        """Vectors of ``texts``, embedded in slices of similar length so that progress moves
        as the work is done (the embedder pads each batch to its longest text). With
        ``states`` (one slot per text) and an embedder that gives token states, fills those
        in from the same runs."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: Vectors | None = None
        with_tokens = self._embedder if isinstance(self._embedder, TokenEmbedder) else None
        for part in _slices(order, tokens):
            part_texts = [texts[i] for i in part]
            if with_tokens is not None and states is not None:
                vectors, found = with_tokens.embed_with_tokens(part_texts)
                for i, state in zip(part, found, strict=True):
                    states[i] = state
            else:
                vectors = self._embedder.embed(part_texts)
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[part] = vectors
            if advance:
                advance(sum(tokens[i] for i in part))
        return out if out is not None else np.zeros((0, self._embedder.dimension), np.float32)

    def _write(
        self,
        group: list[_Pending],
        report: IngestReport,
        advance: Callable[[int], None] | None,
        *,
        only_if_stored: bool = False,
    ) -> None:
        if not group:
            return
        # One embedder run over the group; each document's rows are its chunks', then its
        # sentences'.
        texts = [text for p in group for text in p.texts]
        started = time.perf_counter()
        states: list[TokenStates | None] = [None] * len(texts)
        vectors = self._embed(texts, [n for p in group for n in p.tokens], advance, states)
        report.embed_seconds += time.perf_counter() - started
        items: list[DocumentWrite] = []
        at = 0
        for p in group:
            rows = vectors[at : at + len(p.chunks) + len(p.sentences)]
            sentence_states = states[at + len(p.chunks) : at + len(rows)]
            at += len(rows)
            chunk_rows, sentence_rows = rows[: len(p.chunks)], rows[len(p.chunks) :]
            packed = None
            if p.sentences:
                known = [s for s in sentence_states if s is not None]
                packed = pack_sentence_vectors(
                    p.doc,
                    p.sentences,
                    sentence_rows,
                    known if len(known) == len(p.sentences) else None,
                )
            items.append(DocumentWrite(p.doc, tuple(p.chunks), chunk_rows, packed))
        # One batched write per group: each store write is a commit (or a round trip).
        self._store.write(items, only_if_stored=only_if_stored)
        for item in items:
            report.chunks += len(item.chunks)
            report.doc_ids.append(item.document.doc_id)
        report.tokens += sum(sum(p.tokens) for p in group)
        record_ingested(len(items), sum(len(item.chunks) for item in items))

    def paths(
        self,
        paths: Sequence[Path],
        *,
        prune: bool = False,
        dry_run: bool = False,
        collection: str | None = None,
        progress_factory: ProgressFactory | None = None,
        urls: Sequence[str] = (),
    ) -> IngestReport:
        """Ingest files and folders (and web pages: ``urls``); bad files are reported, the
        rest still ingested.

        ``prune`` removes the documents whose files lived under a folder argument and are
        gone (identity.prunable; fetched pages have no file, so never); ``dry_run`` writes
        and removes nothing, and reports what would be done.
        """
        started = time.perf_counter()
        report = self.urls(urls) if urls and not dry_run else IngestReport()
        loaded = load_paths(
            paths,
            max_document_bytes=self._config.max_document_bytes,
            max_file_bytes=self._config.max_file_bytes,
            collection=collection,
        )
        report.skipped += len(loaded.skipped) + len(loaded.skips)
        report.skips.extend(str(skip) for skip in loaded.skips)
        report.skips.extend(f"{path}: unsupported file type" for path in loaded.skipped)
        report.failed += len(loaded.errors)
        report.errors.extend(str(err) for err in loaded.errors)
        listing = self._store.list_documents()
        stored = _stored_from(listing)
        self.documents(loaded.documents, report, progress_factory, stored=stored, dry_run=dry_run)
        written = set(report.doc_ids)
        for doc in loaded.documents:
            legacy = stored.get(loaded.legacy_ids.get(doc.doc_id, doc.doc_id))
            old_id = loaded.legacy_ids.get(doc.doc_id)
            if (
                old_id is not None
                and old_id != doc.doc_id
                and legacy is not None
                and legacy.location is None
                and legacy.source == doc.source
                and (doc.doc_id in written or stored.get(doc.doc_id) is not None)
            ):
                # Stored by a version without collections: this document replaces it.
                if not dry_run:
                    self._store.delete_document(old_id)
                report.migrated += 1
        if prune:
            for info in prunable(listing, loaded.roots, loaded_cleanly=loaded.loaded_cleanly):
                if dry_run or self._store.delete_document(info.doc_id):
                    report.pruned += 1
                    report.removed_ids.append(info.doc_id)
        if not dry_run:
            # Chunks an interrupted run left without their record (under the write lock, so
            # never a concurrent writer's: qa/store/write_lock.py).
            report.orphan_chunks += self._store.prune_orphans()
        report.seconds = time.perf_counter() - started
        return report

    def fetch(self, url: str) -> Document:
        """The document at ``url`` (an HTML page, PDF or text), fetched within the limits.

        FetchError if it cannot be fetched, SkippedFileError if it holds no usable text.
        """
        from qa.ingest.fetch import doc_id_for_url, fetch_url
        from qa.ingest.formats import NotTextError
        from qa.ingest.loaders import document_from_bytes

        config = self._config
        page = fetch_url(
            url,
            timeout_s=config.fetch_timeout_s,
            max_bytes=config.max_file_bytes,
            max_redirects=config.fetch_max_redirects,
            allow_private=config.fetch_allow_private,
        )
        try:
            return document_from_bytes(
                page.data,
                kind=page.kind,
                source=url,
                doc_id=doc_id_for_url(url),
                max_document_bytes=config.max_document_bytes,
                url=page.url,
                charset=page.charset,
            )
        except NotTextError as exc:
            raise SkippedFileError(url, str(exc)) from None

    def urls(self, urls: Sequence[str], report: IngestReport | None = None) -> IngestReport:
        """Fetch and ingest web pages; one that fails is reported, the rest still ingested."""
        report = report or IngestReport()
        docs: list[Document] = []
        for url in urls:
            try:
                doc = self.fetch(url)
            except SkippedFileError as exc:
                report.skipped += 1
                report.skips.append(str(exc))
            except IngestError as exc:
                report.failed += 1
                report.errors.append(str(exc))
            else:
                docs.append(doc)
        return self.documents(docs, report)

    def check_records(self, records: Sequence[dict[str, Any]]) -> list[Document]:
        """The Documents of JSON article records, checked against every limit: InputError
        (DocumentTooLargeError for a limit) naming each bad record, before any work."""
        from qa.ingest.loaders import document_from_record

        docs: list[Document] = []
        errors: list[str] = []
        too_large: list[str] = []
        for i, record in enumerate(records):
            try:
                doc = document_from_record(record, source="api", default_id=f"api#{i}")
                check_document_limits(doc, self._config)
                docs.append(doc)
            except DocumentTooLargeError as exc:
                too_large.append(f"documents[{i}] (id {exc.where!r}): {exc.reason}")
            except IngestError as exc:
                errors.append(f"documents[{i}]: {exc.reason}")
        if errors:
            raise InputError("; ".join(errors))
        if too_large:
            raise DocumentTooLargeError("documents", "; ".join(too_large))
        ids = [d.doc_id for d in docs]
        if len(set(ids)) != len(ids):
            raise ConflictError("documents: two documents share one id")
        return docs

    def records(self, records: Sequence[dict[str, Any]]) -> IngestReport:
        """Ingest JSON article records (the HTTP API); any invalid record rejects the batch,
        and so does an id that a file's document holds (ConflictError)."""
        return self.documents(self.check_records(records))


def _slices(order: list[int], tokens: list[int]) -> Iterator[list[int]]:
    """``order`` (by length) cut into runs of at most EMBED_SLICE texts and about
    EMBED_SLICE_TOKENS, the shortest and the longest runs taken in turn: a token of a long
    text costs more than one of a short sentence, and the rate (the bar's ETA) must not
    drift from short to long over a group."""
    parts: list[list[int]] = [[]]
    budget = 0
    for i in order:
        part = parts[-1]
        if part and (len(part) >= EMBED_SLICE or budget + tokens[i] > EMBED_SLICE_TOKENS):
            parts.append([])
            budget = 0
        parts[-1].append(i)
        budget += tokens[i]
    low, high = 0, len(parts) - 1
    while low <= high:
        if parts[low]:
            yield parts[low]
        if high != low and parts[high]:
            yield parts[high]
        low, high = low + 1, high - 1


def _stored_from(listing: Iterable[DocumentInfo]) -> dict[str, Stored]:
    return {info.doc_id: Stored(info.content_hash, info.location, info.source) for info in listing}
