"""Citation links: a text fragment (#:~:text=) that lands on the quoted sentence, #page=N for
PDFs, and the page a PDF citation carries."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import pytest
from fakes.articles import make_doc
from fakes.documents import NEWS_PAGE
from hypothesis import given
from hypothesis import strategies as st

from qa.answering.citations import citation_for
from qa.answering.links import citation_link, make_citation, text_fragment
from qa.ingest.formats import PAGE_LINES_KEY
from qa.ingest.loaders import load_file
from qa.text import document_sentences
from qa.types import Document

URL = "https://news.example.com/2024/floods"


def test_a_short_quote_is_matched_whole_with_its_syntax_characters_encoded() -> None:
    link = citation_link(URL, "Prices rose 5% - a lot, & fast.")
    assert link == f"{URL}#:~:text=Prices%20rose%205%25%20%2D%20a%20lot%2C%20%26%20fast."


def test_a_long_quote_is_matched_by_its_first_and_last_words() -> None:
    quote = "Heavy rain caused the river to burst\nits banks on Monday, forcing 2,000 people out."
    assert text_fragment(quote) == (
        "text=Heavy%20rain%20caused%20the%20river,Monday%2C%20forcing%202%2C000%20people%20out."
    )


def test_fragments_keep_an_existing_anchor_and_replace_an_old_directive() -> None:
    assert citation_link(f"{URL}#top", "Floods") == f"{URL}#top:~:text=Floods"
    assert citation_link(f"{URL}#:~:text=old", "new") == f"{URL}#:~:text=new"


def test_pdf_pages_and_non_web_urls() -> None:
    assert citation_link(f"{URL}.pdf#x", "any quote", page=3) == f"{URL}.pdf#page=3"
    assert citation_link(None, "quote") is None
    assert citation_link("file:///etc/passwd", "quote") is None
    assert citation_link("javascript:alert(1)", "quote") is None


@given(st.text(min_size=1, max_size=200))
def test_a_fragment_decodes_back_to_the_quote_words(quote: str) -> None:
    fragment = text_fragment(quote)
    words = quote.split()
    if not words:
        assert fragment is None
        return
    assert fragment is not None and fragment.startswith("text=")
    body = fragment.removeprefix("text=")
    assert not re.search(r"[\s&#]", body)  # nothing that would end or split the directive
    parts = [unquote(part) for part in body.split(",")]
    if len(words) <= 10:
        assert parts == [" ".join(words)]
    else:
        assert parts == [" ".join(words[:5]), " ".join(words[-5:])]


def test_a_cited_sentence_of_a_web_page_is_found_by_its_link(tmp_path: Path) -> None:
    """What a browser does with the link: find start (and end) in the page's visible text."""
    page = tmp_path / "floods.html"
    page.write_text(NEWS_PAGE)
    (doc,), _ = load_file(page, source="floods.html", max_document_bytes=1_000_000)
    tree = lxml.html.fromstring(NEWS_PAGE)
    for hidden in tree.xpath("//script|//style|//head"):
        hidden.drop_tree()
    visible = " ".join(tree.text_content().split()).lower()
    sentences = [s for s in document_sentences(doc) if s.line_start > 1]
    assert len(sentences) >= 3
    for sentence in sentences:
        citation = citation_for(1, [sentence], doc)
        assert citation is not None and citation.link is not None
        assert citation.url == URL and citation.page is None
        directive = citation.link.split("#:~:text=")[1]
        start, *end = (unquote(part).lower() for part in directive.split(","))
        at = visible.find(start)
        assert at >= 0, start
        assert not end or visible.find(end[0], at) > at


def _pdf_doc(url: str | None) -> Document:
    doc = make_doc("report.pdf", ["Harbour report", "Ferry news.", "Page two.", "More.", "End."])
    metadata = {PAGE_LINES_KEY: json.dumps([1, 3, 5]), "format": "pdf"}
    return doc.model_copy(update={"metadata": metadata, "url": url})


@pytest.mark.parametrize(("line", "page"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)])
def test_a_pdf_citation_carries_the_page_of_its_first_line(line: int, page: int) -> None:
    doc = _pdf_doc("https://example.org/report.pdf")
    citation = make_citation(1, doc, line, line, doc.lines[line - 1])
    assert citation.page == page
    assert citation.link == f"https://example.org/report.pdf#page={page}"
    assert make_citation(1, _pdf_doc(None), line, line, "x").link is None


def test_citations_of_other_documents_have_no_page() -> None:
    doc = make_doc("a", ["Title", "Body line."])
    citation = make_citation(1, doc, 2, 2, "Body line.")
    assert (citation.page, citation.link) == (None, None)
    assert citation.model_dump()["page"] is None
