"""Per-document limits on lines and sentences: refused before any work, named in the error,
nothing stored lost (QAService on the in-memory fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.corpus import article
from fakes.service import ServiceFactory

from qa.errors import DocumentTooLargeError, InputError
from qa.text import count_sentences, document_sentences


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path) as factory:
        yield factory


def sentences_on_one_line(n: int) -> str:
    return " ".join(f"Sentence number {i} is here." for i in range(n))


def test_count_sentences_agrees_and_stops_early() -> None:
    doc = article("d", sentences_on_one_line(50) + "\nAnd one more line. And another.")
    assert count_sentences(doc, stop_after=1000) == len(document_sentences(doc)) == 52
    assert count_sentences(doc, stop_after=10) == 11


def test_record_over_the_sentence_limit_is_refused_and_nothing_changes(
    make: ServiceFactory,
) -> None:
    built = make([article("kept", "A stored article. It stays.")], max_document_sentences=100)
    records = [
        {"id": "fine", "body": sentences_on_one_line(100)},
        {"id": "big", "body": sentences_on_one_line(101)},
    ]
    with pytest.raises(DocumentTooLargeError) as caught:
        built.service.add_records(records)
    message = str(caught.value)
    assert "documents[1] (id 'big')" in message
    assert "QA_MAX_DOCUMENT_SENTENCES" in message
    assert "documents[0]" not in message
    # The batch is refused whole: the fine record was not stored either, the old one is kept.
    assert [d.doc_id for d in built.service.list_documents()] == ["kept"]


def test_record_over_the_line_limit_names_the_setting(make: ServiceFactory) -> None:
    built = make(max_document_lines=10)
    with pytest.raises(DocumentTooLargeError, match=r"11 lines.*QA_MAX_DOCUMENT_LINES"):
        built.service.add_records([{"id": "tall", "body": "\n".join(["Line."] * 11)}])
    assert built.service.add_records([{"id": "ok", "body": "\n".join(["Line."] * 10)}]).documents


def test_bad_records_are_reported_before_limits(make: ServiceFactory) -> None:
    built = make(max_document_lines=1)
    with pytest.raises(InputError) as caught:
        built.service.add_records([{"id": "tall", "body": "a\nb"}, {"id": "x"}])
    assert not isinstance(caught.value, DocumentTooLargeError)
    assert "documents[1]" in str(caught.value)


def test_files_over_a_limit_fail_alone(make: ServiceFactory, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "small.txt").write_text("Title\n\nA short article. Two sentences.\n")
    (folder / "huge.txt").write_text("Title\n\n" + sentences_on_one_line(30) + "\n")
    built = make(max_document_sentences=20)
    report = built.service.ingest_paths([folder])
    assert (report.documents, report.failed) == (1, 1)
    assert "huge.txt" in report.errors[0]
    assert "QA_MAX_DOCUMENT_SENTENCES" in report.errors[0]
    assert [d.doc_id for d in built.service.list_documents()] == ["in/small.txt"]
