"""Citations that point at the cited passage itself: the page of a PDF, and a link that opens
the source on the quoted words (a text fragment, ``#:~:text=``, for web pages; ``#page=N``
for PDFs)."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote as percent_encode
from urllib.parse import urlsplit

from qa.ingest.formats import page_of
from qa.types import Citation, Document

#: Quotes up to this many words are matched whole; longer ones by their first and last words.
EXACT_WORDS: Final = 10
EDGE_WORDS: Final = 5


def _encode(text: str) -> str:
    # "-", "," and "&" are syntax inside a text directive, so they are encoded as well.
    return percent_encode(text, safe="").replace("-", "%2D")


def text_fragment(quote: str) -> str | None:
    """``text=start[,end]`` that finds ``quote`` on a page (whitespace runs as one space)."""
    words = quote.split()
    if not words:
        return None
    if len(words) <= EXACT_WORDS:
        return "text=" + _encode(" ".join(words))
    start = " ".join(words[:EDGE_WORDS])
    end = " ".join(words[-EDGE_WORDS:])
    return f"text={_encode(start)},{_encode(end)}"


def citation_link(url: str | None, quote: str, page: int | None = None) -> str | None:
    """``url`` opened on the cited passage: ``#page=N`` for a PDF page, else a text fragment.

    Only http(s) URLs get a link; an existing fragment is kept (a text directive after it
    still works) and an existing directive is replaced.
    """
    if not url or urlsplit(url).scheme.lower() not in {"http", "https"}:
        return None
    base, _, fragment = url.partition("#")
    if page is not None:
        return f"{base}#page={page}"
    directive = text_fragment(quote)
    if directive is None:
        return url
    return f"{base}#{fragment.split(':~:')[0]}:~:{directive}"


def make_citation(n: int, doc: Document, line_start: int, line_end: int, quote: str) -> Citation:
    """A citation of ``doc``'s lines ``line_start..line_end`` with its page and link."""
    page = page_of(doc.metadata, line_start)
    return Citation(
        n=n,
        doc_id=doc.doc_id,
        source=doc.source,
        title=doc.title,
        url=doc.url,
        line_start=line_start,
        line_end=line_end,
        quote=quote,
        page=page,
        link=citation_link(doc.url, quote, page),
    )
