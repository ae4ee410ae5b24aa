"""Formats people have: any text encoding, HTML pages (main text and metadata), PDFs (text and
the page of each line); unreadable files are skipped saying why. conftest.py's socket guard
fails any test whose extraction reaches beyond loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.documents import NEWS_PAGE, make_pdf

from qa.errors import SkippedFileError
from qa.ingest.formats import PAGE_LINES_KEY, decode_text, page_of, sniff_format
from qa.ingest.loaders import load_file
from qa.ingest.pipeline import load_paths
from qa.types import Document

LIMIT = 2_000_000


def load_one(path: Path, **limits: int) -> Document:
    documents, errors = load_file(path, source=path.name, max_document_bytes=LIMIT, **limits)
    assert errors == []
    (doc,) = documents
    return doc


def skip_reason(path: Path, **limits: int) -> str:
    kwargs = {"max_document_bytes": LIMIT, **limits}
    documents, errors = load_file(path, source=path.name, **kwargs)
    assert documents == []
    (error,) = errors
    assert isinstance(error, SkippedFileError), error
    return error.reason


# --- encodings ------------------------------------------------------------------------------

FRENCH = "Le café était très chaud.\nL'été à Paris fut brûlant, dit le maire.\n"
RUSSIAN = "Москва — столица России.\nВчера в городе прошёл сильный дождь.\n"


@pytest.mark.parametrize(
    ("text", "encoding", "found"),
    [
        (FRENCH, "cp1252", "cp1252"),
        ("Smart “quotes” – and dashes — cost €5.\n", "cp1252", "cp1252"),
        ("Der Bürgermeister sagte, dass die Straße gesperrt wird.\n", "cp1252", "cp1252"),
        (RUSSIAN, "cp1251", "cp1251"),
        ("Zażółć gęślą jaźń, powiedział burmistrz Krakowa.\n", "cp1250", "cp1250"),
        ("東京で大雨が降りました。\n川が氾濫しました。\n", "shift_jis", "cp932"),
        (FRENCH, "utf-16", "utf-16"),
    ],
)
def test_text_in_any_encoding_is_read_not_refused(
    tmp_path: Path, text: str, encoding: str, found: str
) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(text.encode(encoding))
    doc = load_one(path)
    assert doc.text == text.removesuffix("\n")
    assert doc.metadata["encoding"] == found  # cp932: Microsoft's superset of Shift JIS


def test_utf8_stays_utf8_and_records_no_encoding(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(FRENCH, encoding="utf-8")
    doc = load_one(path)
    assert doc.lines[0] == "Le café était très chaud."
    assert "encoding" not in doc.metadata


def test_decode_text_refuses_binary() -> None:
    with pytest.raises(ValueError, match="NUL bytes"):
        decode_text(b"PK\x03\x04\x00\x00zip")
    with pytest.raises(ValueError, match="no text encoding"):
        decode_text(bytes(range(1, 256)) * 4)


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\n", "empty file"),
        ("zip.txt", b"PK\x03\x04\x00\x00\x01\x02", "binary file"),
        ("noise.txt", bytes(range(1, 256)) * 4, "binary file"),
        ("empty.html", b"", "empty file"),
        ("fake.pdf", b"this is not a PDF at all", "not a readable PDF"),
        ("blank.pdf", make_pdf([[]]), "PDF without extractable text"),
        ("nav.html", b"<html><body><nav></nav></body></html>", "no article text"),
    ],
)
def test_unusable_files_are_skipped_saying_why(
    tmp_path: Path, name: str, raw: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(raw)
    assert skip_reason(path).startswith(reason)


def test_oversized_and_unreadable_files_are_skipped(tmp_path: Path) -> None:
    big = tmp_path / "big.html"
    big.write_text(NEWS_PAGE)
    assert "over the 100-byte limit (QA_MAX_FILE_BYTES)" in skip_reason(big, max_file_bytes=100)
    text = tmp_path / "long.txt"
    text.write_text("word " * 100)
    assert "over the 100-byte limit (QA_MAX_DOCUMENT_BYTES)" in skip_reason(
        text, max_document_bytes=100
    )
    # The HTML file fits, its extracted text does not.
    assert skip_reason(big, max_document_bytes=100).startswith("its text: ")
    assert skip_reason(tmp_path / "gone.pdf").startswith("cannot read")


# --- HTML ---------------------------------------------------------------------------------


def test_html_keeps_the_article_text_and_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "floods.html"
    path.write_text(NEWS_PAGE)
    doc = load_one(path)
    assert doc.lines[0] == "Floods hit the valley"
    assert any(line.startswith("Heavy rain caused the river") for line in doc.lines)
    assert any(line.startswith("Schools in the area") for line in doc.lines)
    text = doc.text
    for noise in ("<", "tracker", "Home", "Sport", "Copyright", "color: red"):
        assert noise not in text
    assert "“We are doing everything we can,”" in text  # entities decoded
    assert doc.title == "Floods hit the valley"
    assert doc.url == "https://news.example.com/2024/floods"  # the canonical link
    assert doc.publisher == "Example News"
    assert doc.published_at == datetime(2024, 3, 5, tzinfo=UTC)
    assert doc.metadata["author"] == "Jane Roe"
    assert doc.metadata["format"] == "html"


def test_an_html_page_saved_as_txt_is_extracted_not_quoted_with_its_tags(
    tmp_path: Path,
) -> None:
    path = tmp_path / "saved.txt"
    path.write_text(NEWS_PAGE)
    doc = load_one(path)
    assert "<" not in doc.text and doc.title == "Floods hit the valley"
    assert sniff_format(b"  <!DOCTYPE html><html>", ".txt") == "html"
    assert sniff_format(b"The <b>bold</b> claim", ".txt") == "text"


def test_html_in_a_legacy_encoding_is_decoded(tmp_path: Path) -> None:
    page = NEWS_PAGE.replace('<meta charset="utf-8">', "").replace(
        "Heavy rain", "Très forte pluie: heavy rain"
    )
    path = tmp_path / "legacy.htm"
    path.write_bytes(page.encode("cp1252"))
    assert any(line.startswith("Très forte pluie") for line in load_one(path).lines)


@pytest.mark.parametrize(
    ("declared", "encoding"), [("windows-1251", "cp1251"), ("koi8-r", "koi8_r")]
)
def test_html_declaring_its_charset_is_read_in_that_charset(
    tmp_path: Path, declared: str, encoding: str
) -> None:
    page = NEWS_PAGE.replace('charset="utf-8"', f'charset="{declared}"').replace(
        "Heavy rain", "Сильный дождь (heavy rain)"
    )
    path = tmp_path / "ru.html"
    path.write_bytes(page.encode(encoding))
    assert any(line.startswith("Сильный дождь (heavy rain)") for line in load_one(path).lines)


# --- PDF ----------------------------------------------------------------------------------


def test_pdf_text_is_kept_with_the_page_of_every_line(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    pages = [
        ["Report on the harbour", "The ferry carried 120 passengers on Monday."],
        ["Page two begins here.", "Café prices rose (a lot) in the port."],
        [],
        ["The last page."],
    ]
    path.write_bytes(make_pdf(pages, title="Harbour report", author="J. Doe"))
    doc = load_one(path)
    assert doc.lines == (
        "Report on the harbour",
        "The ferry carried 120 passengers on Monday.",
        "Page two begins here.",
        "Café prices rose (a lot) in the port.",
        "",  # page 3 has no text: one empty line keeps it countable
        "The last page.",
    )
    assert doc.title == "Harbour report"
    assert doc.metadata["author"] == "J. Doe"
    assert doc.metadata[PAGE_LINES_KEY] == "[1, 3, 5, 6]"
    assert [page_of(doc.metadata, n) for n in range(1, 7)] == [1, 1, 2, 2, 3, 4]
    assert page_of({}, 1) is None


def test_a_pdf_renamed_txt_is_read_as_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(make_pdf([["Only one line of text."]]))
    assert load_one(path).lines == ("Only one line of text.",)


# --- a run over a folder --------------------------------------------------------------------


def test_load_paths_reads_every_format_and_skips_the_rest_with_reasons(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(NEWS_PAGE)
    (tmp_path / "b.pdf").write_bytes(make_pdf([["A PDF line about the harbour."]]))
    (tmp_path / "c.txt").write_bytes(FRENCH.encode("cp1252"))
    (tmp_path / "d.txt").write_bytes(b"")
    (tmp_path / "e.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = load_paths([tmp_path], max_document_bytes=LIMIT)
    name = tmp_path.name  # the collection: the folder's own name
    assert [d.doc_id for d in result.documents] == [
        f"{name}/{n}" for n in ("a.html", "b.pdf", "c.txt")
    ]
    assert [(s.where, s.reason.split(" (")[0]) for s in result.skips] == [
        ("d.txt", "empty file"),
        ("e.txt", "binary file"),
    ]
    assert result.errors == []
