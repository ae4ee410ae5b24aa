"""Which document a file's article is: stable, unique ids, clashes, and what prune removes.

A document read from a file gets the id ``<collection>/<id the loader gave>``: the loader's id
is the path relative to the folder argument (``#<line>`` or the record's own ``id`` for JSON
records), and the collection is the folder's own name unless ``--collection`` names it (a
file argument belongs to its parent folder). So ``seeds/000_4e77.txt`` reads the same from
any working directory, and ``a/article.txt`` and ``b/article.txt`` stay apart. The resolved
absolute path is kept as ``Document.location``: it tells two folders of one name apart (a
clash is reported, never overwritten; an exact copy of the stored document counts as
unchanged) and says what ``--prune`` may remove.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from qa.errors import IngestError, InputError
from qa.types import Document, DocumentInfo


@dataclass(frozen=True)
class Root:
    """One path argument of an ingest run: where its files live and their collection."""

    argument: Path
    folder: Path  # resolved; a file argument's parent
    collection: str
    is_folder: bool


class Stored(NamedTuple):
    """What a run needs to know of a stored document."""

    content_hash: str
    location: str | None
    source: str


def root_for(argument: Path, collection: str | None = None) -> Root:
    """The root of ``argument``: its resolved folder and collection name."""
    resolved = argument.resolve()
    is_folder = resolved.is_dir()
    folder = resolved if is_folder else resolved.parent
    name = collection if collection is not None else (folder.name or "root")
    return Root(argument, folder, check_collection(name), is_folder)


def check_collection(name: str) -> str:
    """``name`` if it can prefix document ids; InputError saying what to fix otherwise."""
    if not name or name != name.strip() or name.strip("/") != name:
        raise InputError(
            f"collection name {name!r} must be non-empty, without surrounding spaces or slashes"
        )
    if ".." in name.split("/") or any(ord(ch) < 32 for ch in name):
        raise InputError(f"collection name {name!r} must not hold '..' or control characters")
    return name


def place(doc: Document, *, file: Path, root: Root) -> Document:
    """``doc`` as loaded from ``file``, given its collection id and its location.

    The location is part of the content hash: a moved file is written again, so its stored
    location (what prune and clash checks read) is never stale.
    """
    from qa.ingest.loaders import validate_doc_id

    location = str(file.resolve())
    doc_id = f"{root.collection}/{doc.doc_id}"
    try:
        validate_doc_id(doc_id)
    except IngestError as exc:
        raise IngestError(doc.doc_id, exc.reason) from None
    digest = hashlib.sha256(f"{doc.content_hash}\n{location}".encode()).hexdigest()
    return doc.model_copy(update={"doc_id": doc_id, "location": location, "content_hash": digest})


def clash(doc: Document, stored: Stored | None) -> str | None:
    """Why ``doc`` must not replace the stored document of its id, or None if it may.

    A file's document may replace one read from the same path, or from a path that no
    longer exists (the folder moved); an API document may replace another API document.
    """
    if stored is None or stored.location == doc.location:
        return None
    if doc.location is None:
        return (
            f"document id {doc.doc_id!r} belongs to the file {stored.location}: "
            "post it under another id, or delete that document first"
        )
    if stored.location is None:
        return (
            f"document id {doc.doc_id!r} is taken by a document posted through the API "
            f"(source {stored.source!r}): ingest with --collection NAME to give these "
            "files other ids"
        )
    if os.path.exists(stored.location):
        return (
            f"document id {doc.doc_id!r} already names {stored.location}: ingest this "
            "folder with --collection NAME to give its files other ids"
        )
    return None


def is_under(location: str, folder: Path) -> bool:
    """Whether the file at ``location`` lives inside ``folder`` (both resolved)."""
    return Path(location).is_relative_to(folder)


def prunable(
    stored: Iterable[DocumentInfo],
    roots: Iterable[Root],
    *,
    loaded_cleanly: Mapping[str, set[str]],
) -> list[DocumentInfo]:
    """Stored documents that a run over ``roots`` finds gone.

    A document is gone when its file lived under one of the folder roots and no longer
    exists, or when its file was read this run without an error and no longer holds it
    (a record removed from a JSONL file). ``loaded_cleanly`` maps such a file's location
    to the ids read from it. Documents posted through the API have no location: never.
    """
    folders = [root.folder for root in roots if root.is_folder]
    gone: list[DocumentInfo] = []
    for info in stored:
        location = info.location
        if location is None or not any(is_under(location, f) for f in folders):
            continue
        if location in loaded_cleanly:
            if info.doc_id not in loaded_cleanly[location]:
                gone.append(info)
        elif not os.path.exists(location):
            gone.append(info)
    return gone
