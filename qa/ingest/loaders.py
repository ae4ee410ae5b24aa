"""Load articles from text, Markdown, JSON and JSONL into line-preserving Documents."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from qa.errors import IngestError, SkippedFileError
from qa.ingest.cleaning import clean_lines, front_matter
from qa.ingest.dates import parse_published
from qa.ingest.formats import (
    HTML_SUFFIXES,
    PDF_SUFFIXES,
    Extracted,
    NotTextError,
    decode_text,
    extract_html,
    extract_pdf,
    sniff_format,
)
from qa.store.records import RESERVED_PREFIXES
from qa.types import Document, MetaValue

logger = logging.getLogger(__name__)

TEXT_SUFFIXES: Final = frozenset({".txt", ".md", ".markdown"})
SUPPORTED_SUFFIXES: Final = frozenset(
    {*TEXT_SUFFIXES, ".json", ".jsonl", *HTML_SUFFIXES, *PDF_SUFFIXES}
)
#: Largest HTML or PDF file read (its extracted text must still fit max_document_bytes).
DEFAULT_MAX_FILE_BYTES: Final = 20_000_000
MAX_TITLE_CHARS: Final = 200
_FIELDS: Final = ("title", "source", "url", "publisher")
_DOC_FIELDS: Final = frozenset({"published_at", *_FIELDS})
_RECORD_FIELDS: Final = frozenset({"id", "body", "text", *_DOC_FIELDS})
_HASHED: Final = (*sorted(_DOC_FIELDS), "lines", "excluded", "metadata")
_BAD_ID_CHARS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class FileScan:
    """What ``scan_paths`` found: loadable files with their sources, and what it passed over."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # unsupported suffix inside a folder
    errors: list[IngestError] = field(default_factory=list)  # missing paths, unsupported files


def scan_paths(paths: Sequence[Path]) -> FileScan:
    """Find supported files: folders recursively (sorted, hidden entries skipped).

    ``source`` is the path relative to the folder argument (POSIX form), or the file's own
    name for a file argument. Problems become ``errors`` instead of stopping the scan.
    """
    scan = FileScan()
    for root in paths:
        if root.is_dir():
            found: list[Path] = []
            for folder, dirnames, filenames in os.walk(
                root, onerror=lambda exc: scan.errors.append(_os_error(exc.filename, exc))
            ):
                dirnames[:] = [name for name in dirnames if not name.startswith(".")]
                for name in filenames:
                    if not name.startswith("."):
                        path = Path(folder) / name
                        known = path.suffix.lower() in SUPPORTED_SUFFIXES
                        (found if known else scan.skipped).append(path)
            found.sort(key=lambda path: path.relative_to(root).as_posix())
            scan.files.extend((path, path.relative_to(root).as_posix()) for path in found)
        elif root.is_file():
            if root.suffix.lower() in SUPPORTED_SUFFIXES:
                scan.files.append((root, root.name))
            else:
                scan.errors.append(IngestError(str(root), _unsupported(root.suffix)))
        elif root.exists():
            scan.errors.append(IngestError(str(root), "not a regular file or folder"))
        else:
            scan.errors.append(IngestError(str(root), "no such file or folder"))
    scan.skipped.sort()
    return scan


def iter_files(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """``(file, source)`` for every supported file; use ``scan_paths`` to see skips/errors."""
    yield from scan_paths(paths).files


def load_file(
    path: Path, *, source: str, max_document_bytes: int, max_file_bytes: int | None = None
) -> tuple[list[Document], list[IngestError]]:
    """Documents in one file and the errors met; bad content never raises.

    Binary, empty, oversized and unreadable files come back as ``SkippedFileError`` errors.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return [], [IngestError(source, _unsupported(suffix))]
    markup = suffix in HTML_SUFFIXES | PDF_SUFFIXES
    limit = (max_file_bytes or DEFAULT_MAX_FILE_BYTES) if markup else max_document_bytes
    try:
        size = path.stat().st_size
        if (markup or suffix in TEXT_SUFFIXES) and size > limit:
            return [], [SkippedFileError(source, _too_large(size, limit, file=markup))]
        data = path.read_bytes()
    except OSError as exc:
        return [], [_os_error(source, exc, skip=True)]
    kind = sniff_format(data, suffix)
    try:
        if not data.strip():
            raise NotTextError("empty file")
        if kind != "text" or suffix in TEXT_SUFFIXES:
            doc = document_from_bytes(
                data, kind=kind, source=source, doc_id=source, max_document_bytes=max_document_bytes
            )
            return [doc], []
        text, _ = decode_text(data)
    except NotTextError as exc:
        return [], [SkippedFileError(source, str(exc))]
    except IngestError as exc:
        return [], [exc]
    documents, errors = _load_records(
        text, source=source, jsonl=suffix == ".jsonl", limit=max_document_bytes
    )
    logger.debug("%s: %d documents, %d errors", source, len(documents), len(errors))
    return documents, errors


def document_from_bytes(
    data: bytes,
    *,
    kind: str,
    source: str,
    doc_id: str,
    max_document_bytes: int,
    url: str | None = None,
    charset: str | None = None,
) -> Document:
    """A Document from the bytes of a text, HTML or PDF file (``kind``: see ``sniff_format``).

    HTML and PDF documents keep their EXTRACTED text as their lines: citations, the lines
    endpoint and verification quote that text. NotTextError if there is no text to keep;
    SkippedFileError if the text is over ``max_document_bytes``.
    """
    skip = 0
    if kind == "pdf":
        extracted = extract_pdf(data)
    elif kind == "html":
        extracted = extract_html(data, url=url, charset=charset)
    else:
        text, encoding = decode_text(data, declared=charset)
        if not text.strip():
            raise NotTextError("empty file")
        lines = split_lines(text)
        fields, skip = front_matter(lines, where=source)
        if encoding != "utf-8":  # what was read, so a wrong guess can be seen and fixed
            fields = {**fields, "encoding": encoding}
        extracted = Extracted(lines, dict(fields))
    size = len("\n".join(extracted.lines).encode("utf-8"))
    if size > max_document_bytes:
        text_of = "" if kind == "text" else "its text: "
        raise SkippedFileError(doc_id, text_of + _too_large(size, max_document_bytes))
    fields = extracted.fields
    if url and not fields.get("url"):
        fields = {**fields, "url": url}
    # id/body/text in front matter are ordinary metadata: the file itself is the body.
    return _assemble(
        extracted.lines,
        skip=skip,
        fields=fields,
        consumed=_DOC_FIELDS,
        doc_id=doc_id,
        source=source,
    )


def _load_records(
    text: str, source: str, *, jsonl: bool, limit: int
) -> tuple[list[Document], list[IngestError]]:
    documents: list[Document] = []
    errors: list[IngestError] = []
    first: dict[str, str] = {}
    for record, where, default_id in _records(text, source, jsonl=jsonl):
        try:
            if isinstance(record, IngestError):
                raise record
            if not isinstance(record, dict):
                raise IngestError(where, "expected a JSON object with a 'body' or 'text' field")
            doc = document_from_record(
                record, source=source, default_id=default_id, max_document_bytes=limit
            )
            if doc.doc_id in first:
                reason = f"duplicate document id {doc.doc_id!r} (first at {first[doc.doc_id]})"
                raise IngestError(where, reason)
        except IngestError as exc:
            errors.append(IngestError(where, exc.reason))
            continue
        first[doc.doc_id] = where
        documents.append(doc)
    return documents, errors


def _records(text: str, source: str, *, jsonl: bool) -> Iterator[tuple[object, str, str]]:
    """``(record or parse error, where, default_id)`` in file order."""
    if jsonl:
        for line_no, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                where = f"{source}:{line_no}"
                try:
                    yield json.loads(line), where, f"{source}#{line_no}"
                except json.JSONDecodeError as exc:
                    yield IngestError(where, f"invalid JSON: {exc.msg}"), where, ""
        return
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}"
        yield IngestError(where, f"invalid JSON: {exc.msg} (column {exc.colno})"), where, ""
        return
    if isinstance(parsed, list):
        yield from ((rec, f"{source}[{i}]", f"{source}#{i}") for i, rec in enumerate(parsed))
    else:
        yield parsed, source, source


def document_from_record(
    record: Mapping[str, Any],
    *,
    source: str,
    default_id: str,
    max_document_bytes: int | None = None,
) -> Document:
    """A Document from a JSON record (``body``/``text`` plus optional fields); IngestError if bad.

    ``id`` (else ``default_id``) becomes the doc_id; ``source`` in the record overrides the
    argument; unknown scalar fields go to metadata, other values JSON-encoded.
    """
    raw_id = record.get("id")
    if raw_id is None:
        doc_id = default_id
    elif isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        doc_id = str(raw_id)
    else:
        raise IngestError(default_id, "'id' must be a string or an integer")
    body = record.get("body")
    if body is None:
        body = record.get("text")
    if not isinstance(body, str) or not body.strip():
        raise IngestError(doc_id, "record needs a non-empty 'body' (or 'text') string")
    size = len(body.encode("utf-8"))
    if max_document_bytes is not None and size > max_document_bytes:
        raise IngestError(doc_id, _too_large(size, max_document_bytes))
    lines = split_lines(body)
    return _assemble(
        lines, skip=0, fields=record, consumed=_RECORD_FIELDS, doc_id=doc_id, source=source
    )


def document_from_text(text: str, *, source: str, doc_id: str) -> Document:
    """A Document from a text/Markdown file's content, honouring YAML front matter."""
    lines = split_lines(text)
    fields, skip = front_matter(lines, where=source)
    # id/body/text in front matter are ordinary metadata: the file itself is the body.
    return _assemble(
        lines, skip=skip, fields=fields, consumed=_DOC_FIELDS, doc_id=doc_id, source=source
    )


def split_lines(text: str) -> list[str]:
    """Original lines: BOM dropped, ``\\r\\n``/``\\r`` read as ``\\n``, no phantom last line."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text.removesuffix("\n").split("\n")


def validate_doc_id(doc_id: str) -> str:
    """Return ``doc_id`` if it is safe to store and put in URLs; IngestError otherwise."""
    problem = None
    if not 1 <= len(doc_id) <= 256:
        problem = "must be 1 to 256 characters"
    elif doc_id != doc_id.strip():
        problem = "must not start or end with whitespace"
    elif _BAD_ID_CHARS.search(doc_id):
        problem = "must not contain control characters"
    elif ".." in re.split(r"[/\\]", doc_id):
        problem = "must not contain a '..' path segment"
    elif doc_id.startswith(RESERVED_PREFIXES):  # the stores refuse them, failing the batch
        problem = f"must not start with {', '.join(map(repr, RESERVED_PREFIXES))} (reserved)"
    if problem:
        raise IngestError(doc_id[:80], f"invalid document id: {problem}")
    return doc_id


def content_hash(doc_fields: Mapping[str, Any]) -> str:
    """sha256 over canonical JSON of what a Document says (text, exclusions and metadata)."""
    canonical = {name: doc_fields.get(name) for name in _HASHED}
    payload = json.dumps(
        canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_jsonable
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _assemble(
    lines: list[str],
    *,
    skip: int,
    fields: Mapping[str, Any],
    consumed: frozenset[str],
    doc_id: str,
    source: str,
) -> Document:
    validate_doc_id(doc_id)
    cleaned = clean_lines(lines, skip=skip)
    if cleaned.first_content is None:
        raise IngestError(doc_id, "empty document (no text besides front matter/boilerplate)")
    values, metadata = _split_fields(fields, where=doc_id, consumed=consumed)
    published = values.pop("published_at", None) or cleaned.dateline_time
    doc_fields: dict[str, Any] = {
        "doc_id": doc_id,
        "source": values.get("source") or source,
        "title": values.get("title") or _title_from_line(lines[cleaned.first_content - 1]),
        "url": values.get("url"),
        "publisher": values.get("publisher") or cleaned.publisher,
        "published_at": published,
        "metadata": metadata,
        "lines": tuple(lines),
        "excluded": cleaned.excluded,
    }
    return Document(**doc_fields, content_hash=content_hash(doc_fields))


def _split_fields(
    fields: Mapping[str, Any], *, where: str, consumed: frozenset[str]
) -> tuple[dict[str, Any], dict[str, MetaValue]]:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        value = fields.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
            raise IngestError(where, f"'{name}' must be a string")
        if value is not None and str(value).strip():
            values[name] = str(value).strip()
    if fields.get("published_at") is not None:
        try:
            values["published_at"] = parse_published(fields["published_at"])
        except ValueError as exc:
            raise IngestError(where, f"'published_at': {exc}") from None
    metadata: dict[str, MetaValue] = {}
    for key, value in fields.items():
        if str(key) in consumed or value is None:
            continue
        if isinstance(value, str | int | float | bool):
            metadata[str(key)] = value
        elif isinstance(value, date | datetime):
            metadata[str(key)] = value.isoformat()
        else:
            metadata[str(key)] = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return values, metadata


def _title_from_line(line: str) -> str:
    title = re.sub(r"^#{1,6}\s+", "", line.strip()) or line.strip()
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return title


def _jsonable(value: object) -> object:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


def _unsupported(suffix: str) -> str:
    return f"unsupported file type {suffix!r} (supported: {', '.join(sorted(SUPPORTED_SUFFIXES))})"


def _too_large(size: int, limit: int, *, file: bool = False) -> str:
    setting = "QA_MAX_FILE_BYTES" if file else "QA_MAX_DOCUMENT_BYTES"
    what = "file" if file else "document"
    return f"{what} is {size} bytes, over the {limit}-byte limit ({setting})"


def _os_error(
    where: str | os.PathLike[str] | None, exc: OSError, *, skip: bool = False
) -> IngestError:
    kind = SkippedFileError if skip else IngestError
    return kind(str(where or "?"), f"cannot read: {exc.strerror or exc}")
