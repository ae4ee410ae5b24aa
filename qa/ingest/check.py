"""``qa check``: find documents whose stored chunks disagree with their record, and repair
them by re-chunking and re-embedding the stored original lines.

A document's record names its content hash and how many chunks it was written with; its
chunks carry the hash of the version they were cut from. Problems:

- ``missing chunks``: fewer chunks of the record's version than the record says (0 leaves
  the document listed but unsearchable, and a re-ingest of the same text skips it);
- ``extra chunks``: more chunks of the record's version than it says;
- ``chunks of another version``: chunks with another content hash (an interrupted write);
- ``orphan chunks``: chunks of a document that has no record (an interrupted deletion);
- ``no sentence vectors``: none made from the record's version (the answerer then embeds
  the document's sentences at question time, slower);
- ``no token states``: sentence vectors without the token states the evidence ranker reads
  (a store written before they were made: answers rank as without token alignment).

Repair writes the document again from its stored lines for the first two and the last two
(only if its hash is still the one checked, so a newer version written meanwhile wins) and
prunes the stray chunks of the middle two.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from qa.embeddings.packing import unpack_tokens
from qa.ingest.pipeline import IngestPipeline
from qa.ports import Store
from qa.text import document_sentences
from qa.types import DocumentInfo

__all__ = ["CheckReport", "Problem", "check_store", "outdated", "repair_store"]

_DOCS_PER_READ = 200
#: How many documents start-up and `qa status` look at for an older qa's sentence vectors.
SAMPLE = 20
_REWRITABLE = frozenset(
    {"missing chunks", "extra chunks", "no sentence vectors", "no token states"}
)


@dataclass(frozen=True)
class Problem:
    """One document's disagreement between record and chunks."""

    doc_id: str
    kind: str
    detail: str

    @property
    def rewritable(self) -> bool:
        """Fixed by writing the stored document again (the others by pruning)."""
        return self.kind in _REWRITABLE

    def __str__(self) -> str:
        return f"{self.doc_id}: {self.kind} ({self.detail})"


@dataclass
class CheckReport:
    """What ``qa check`` found, and what ``--repair`` did about it."""

    documents: int = 0
    chunks: int = 0
    problems: list[Problem] = field(default_factory=list)
    rewritten: int = 0
    pruned: int = 0
    remaining: list[Problem] | None = None  # after a repair: what a second check found

    @property
    def clean(self) -> bool:
        return not (self.problems if self.remaining is None else self.remaining)

    def summary(self) -> str:
        text = (
            f"{self.documents} documents, {self.chunks} chunks checked: "
            f"{len(self.problems)} problems"
        )
        if self.remaining is not None:
            text += (
                f"; repaired: {self.rewritten} documents re-chunked, {self.pruned} chunks "
                f"pruned; {len(self.remaining)} problems remain"
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "problems": [vars(p) for p in self.problems],
            "rewritten": self.rewritten,
            "pruned": self.pruned,
            "remaining": None if self.remaining is None else [vars(p) for p in self.remaining],
            "clean": self.clean,
        }


def check_store(store: Store, *, sentences: bool = False, tokens: bool = False) -> CheckReport:
    """Compare every document's record with its stored chunks (reads only); with
    ``sentences``, also that its sentence vectors were made from its stored version, and
    with ``tokens`` that they carry token states."""
    infos = store.list_documents()
    report = CheckReport(documents=len(infos))
    orphans = store.orphan_chunks()
    for start in range(0, len(infos), _DOCS_PER_READ):
        batch = {info.doc_id: info for info in infos[start : start + _DOCS_PER_READ]}
        found: Counter[str] = Counter()
        for chunk, meta in store.chunks_of(list(batch)):
            report.chunks += 1
            if meta.get("content_hash") == batch[chunk.doc_id].content_hash:
                found[chunk.doc_id] += 1
        for doc_id, info in batch.items():
            if found[doc_id] < info.chunk_count:
                kind = "missing chunks"
            elif found[doc_id] > info.chunk_count:
                kind = "extra chunks"
            else:
                continue
            detail = f"record says {info.chunk_count}, {found[doc_id]} stored"
            report.problems.append(Problem(doc_id, kind, detail))
        if sentences:
            report.problems.extend(_sentence_problems(store, batch, tokens=tokens))
    hashes = {info.doc_id: info.content_hash for info in infos}
    strays = Counter(orphans.values())
    for doc_id in sorted(strays):
        kind = "chunks of another version" if doc_id in hashes else "orphan chunks"
        report.problems.append(Problem(doc_id, kind, f"{strays[doc_id]} chunks"))
    report.chunks += sum(n for doc_id, n in strays.items() if doc_id not in hashes)
    return report


def _sentence_problems(
    store: Store, batch: dict[str, DocumentInfo], *, tokens: bool
) -> list[Problem]:
    problems = []
    for doc_id, (doc, vectors) in store.documents_with_sentences(list(batch)).items():
        if doc.content_hash != batch[doc_id].content_hash:
            continue  # written since the listing: the next check sees it whole
        if vectors is None:
            if document_sentences(doc):
                problems.append(Problem(doc_id, "no sentence vectors", "of the stored version"))
        elif tokens and vectors.spans and unpack_tokens(vectors) is None:
            detail = f"{len(vectors.spans)} sentences, embedded before token alignment"
            problems.append(Problem(doc_id, "no token states", detail))
    return problems


def outdated(store: Store, *, tokens: bool, sample: int = SAMPLE) -> tuple[int, int]:
    """Of the first ``sample`` stored documents, how many have no sentence vectors or (with
    ``tokens``) no token states: a store an older qa wrote. (found, looked at)."""
    infos = store.list_documents()[:sample]
    found = _sentence_problems(store, {info.doc_id: info for info in infos}, tokens=tokens)
    return len({p.doc_id for p in found}), len(infos)


def repair_store(store: Store, pipeline: IngestPipeline) -> CheckReport:
    """Check, fix what was found, and check again (``remaining``)."""
    sentences, tokens = pipeline.expected_sentence_vectors()
    report = check_store(store, sentences=sentences, tokens=tokens)
    rewrite = sorted({p.doc_id for p in report.problems if p.rewritable})
    docs = [doc for doc_id in rewrite if (doc := store.get_document(doc_id)) is not None]
    if docs:
        report.rewritten = pipeline.rechunk(docs).documents
    if any(not p.rewritable for p in report.problems):
        report.pruned = store.prune_orphans()
    report.remaining = check_store(store, sentences=sentences, tokens=tokens).problems
    return report
