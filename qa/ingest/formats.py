"""Bytes in other shapes -> text lines and fields: any text encoding (charset-normalizer), HTML
(trafilatura: main text, title, date, author, site, canonical URL) and PDF (pypdf: text and the
line each page starts on). Nothing here touches the network; the libraries load lazily."""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Final

logger = logging.getLogger(__name__)

HTML_SUFFIXES: Final = frozenset({".html", ".htm", ".xhtml"})
PDF_SUFFIXES: Final = frozenset({".pdf"})
#: Metadata key of a PDF's page starts: a JSON list, item i the first line of page i+1.
PAGE_LINES_KEY: Final = "page_lines"
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts with that one's
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HTML_START: Final = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S
)


_META_CHARSET: Final = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_:.-]{2,40})""", re.I
)


class NotTextError(ValueError):
    """The bytes are no document qa can read (binary, no text found); the message says why."""


@dataclass(frozen=True)
class Extracted:
    """Text lines taken out of a file, with the fields it states (title, url, dates...)."""

    lines: list[str]
    fields: dict[str, Any] = field(default_factory=dict)


def sniff_format(data: bytes, suffix: str) -> str:
    """ "html", "pdf" or "text": by content for a PDF or a whole HTML page, else by suffix."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if suffix in PDF_SUFFIXES:
        return "pdf"  # not a PDF after all: pypdf says so
    if suffix in HTML_SUFFIXES or _HTML_START.match(data[:2048]):
        return "html"  # an HTML page saved as .txt would otherwise put tags into answers
    return "text"


def decode_text(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """``(text, encoding)``: the ``declared`` charset (an HTTP header's) if it fits, else
    UTF-8 (or a BOM's encoding), else charset-normalizer's best guess; NotTextError for bytes
    no text encoding explains."""
    if declared and b"\x00" not in data and (text := _decode_declared(data, declared)):
        return text.removeprefix("\ufeff"), codecs.lookup(declared).name
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding).removeprefix("\ufeff"), encoding.removesuffix("-sig")
            except UnicodeDecodeError:
                break
    if b"\x00" in data:
        raise NotTextError("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # Windows-1252 first, when it reads cleanly: the web's fallback for undeclared legacy
    # text, and charset-normalizer alone ranks near-ties on short Western text badly
    # ("trčs" for "très" under cp1250). Other scripts read as mojibake there and fall through.
    best = from_bytes(data, cp_isolation=["cp1252"]).best() or from_bytes(data).best()
    if best is None:
        raise NotTextError("binary file (no text encoding fits it), not text")
    return str(best), best.encoding


def extract_html(data: bytes, *, url: str | None = None, charset: str | None = None) -> Extracted:
    """The main text of an HTML page (one line per paragraph) and its metadata."""
    import trafilatura

    # The HTTP header's charset, else the page's own <meta charset>, else detection.
    text = _decode_declared(data, charset) if charset else None
    if text is None and (meta := _META_CHARSET.search(data[:4096])):
        text = _decode_declared(data, meta.group(1).decode("ascii"))
    if text is None:
        text, _ = decode_text(data)
    found = trafilatura.bare_extraction(
        text,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        # Dates from the page's markup only (meta tags, <time>, the URL): htmldate's extensive
        # search takes any date in the text ("Updated 3 March 2020" in a footer) for the
        # article's. A dateline at the top is still read, by qa's own cleaning.
        date_extraction_params={"original_date": True, "extensive_search": False},
    )
    body = getattr(found, "text", None)
    if not isinstance(body, str) or not body.strip():
        raise NotTextError("no article text found in the HTML page")
    fields = {
        "title": getattr(found, "title", None),
        "url": getattr(found, "url", None) or url,
        "publisher": getattr(found, "sitename", None),
        "published_at": getattr(found, "date", None),
        "author": getattr(found, "author", None),
        "format": "html",
    }
    return Extracted(_lines(body), {k: v for k, v in fields.items() if v})


def extract_pdf(data: bytes) -> Extracted:
    """The text of every page of a PDF; ``page_lines`` in the fields maps lines to pages."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise NotTextError("encrypted PDF (needs a password)")
        lines: list[str] = []
        starts: list[int] = []
        for page in reader.pages:
            starts.append(len(lines) + 1)
            text = page.extract_text() or ""
            lines.extend(_lines(text) if text.strip() else [""])
        info = reader.metadata
    except NotTextError:
        raise
    except PyPdfError as exc:
        raise NotTextError(f"not a readable PDF ({exc})") from None
    except Exception as exc:  # a broken file makes pypdf fail in many ways (Key, Index...)
        raise NotTextError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    if not any(line.strip() for line in lines):
        raise NotTextError("PDF without extractable text (scanned pages need OCR)")
    fields: dict[str, Any] = {"format": "pdf", PAGE_LINES_KEY: json.dumps(starts)}
    if info is not None:
        if info.title and str(info.title).strip():
            fields["title"] = str(info.title).strip()
        if info.author and str(info.author).strip():
            fields["author"] = str(info.author).strip()
        try:
            created = info.creation_date
        except ValueError:
            created = None
        if created is not None:
            fields["published_at"] = created
    return Extracted(lines, fields)


def page_of(metadata: dict[str, Any], line: int) -> int | None:
    """The 1-based page that holds ``line`` of a PDF document; None for other documents."""
    raw = metadata.get(PAGE_LINES_KEY)
    if not isinstance(raw, str):
        return None
    try:
        starts = json.loads(raw)
    except json.JSONDecodeError:
        return None
    page = sum(1 for start in starts if isinstance(start, int) and start <= line)
    return page or None


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
    return [line.rstrip() for line in text.split("\n")]


def _decode_declared(data: bytes, charset: str) -> str | None:
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return None
