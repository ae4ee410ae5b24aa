"""QAService ingestion and documents, on the in-memory fakes (tests/fakes/service.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.corpus import article
from fakes.news import ELECTION, FLEET, HARBOUR, NEWS
from fakes.service import MemoryService, ServiceFactory

from qa.errors import InputError, NotFoundError
from qa.ingest.pipeline import EMBED_GROUP


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path) as factory:
        yield factory


def stored_chunks(built: MemoryService, doc_id: str) -> list[str]:
    return [chunk.text for chunk, _ in built.store.chunks_of([doc_id])]


# --------------------------------------------------------------------------- documents


def test_ingested_documents_are_stored_with_their_chunks(make: ServiceFactory) -> None:
    built = make()
    report = built.service.ingest_documents(NEWS)
    assert (report.documents, report.unchanged, report.failed) == (3, 0, 0)
    assert sorted(report.doc_ids) == ["election", "fleet", "harbour"]
    infos = {info.doc_id: info for info in built.service.list_documents()}
    assert set(infos) == {"election", "fleet", "harbour"}
    assert report.chunks == built.store.count() == sum(i.chunk_count for i in infos.values())
    for doc in NEWS:
        assert built.service.get_document(doc.doc_id) == doc
        assert infos[doc.doc_id].line_count == len(doc.lines)
        chunks = stored_chunks(built, doc.doc_id)
        assert len(chunks) == infos[doc.doc_id].chunk_count >= 1
        assert all(text in doc.text for text in chunks)


def test_get_lines_quotes_the_original_lines(make: ServiceFactory) -> None:
    service = make(NEWS).service
    assert service.get_lines("harbour", 3, 4) == [
        (3, HARBOUR.lines[2]),
        (4, HARBOUR.lines[3]),
    ]
    assert service.get_lines("fleet", 2, None) == [(2, FLEET.lines[1]), (3, FLEET.lines[2])]
    assert service.get_lines("fleet", 3, 2) == []  # an empty range
    with pytest.raises(InputError):
        service.get_lines("fleet", 0, 2)
    with pytest.raises(NotFoundError, match="has only 3 lines"):
        service.get_lines("fleet", 9, None)
    with pytest.raises(NotFoundError):
        service.get_lines("nope", 1, 1)


def test_reingesting_unchanged_content_writes_nothing(make: ServiceFactory) -> None:
    built = make(NEWS)
    revision, chunks = built.store.revision(), built.store.count()
    report = built.service.ingest_documents(NEWS)
    assert (report.documents, report.unchanged, report.chunks) == (0, 3, 0)
    assert report.doc_ids == []
    assert built.store.revision() == revision
    assert built.store.count() == chunks


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_changed_document_replaces_its_chunks(make: ServiceFactory, mode: str) -> None:
    built = make(NEWS, retrieval_mode=mode)
    service = built.service
    assert any("dredging" in text for text in stored_chunks(built, "harbour"))
    before = service.search("harbour dredging ships", top_k=10)  # BM25 holds the old text
    assert before[0].doc_id == "harbour" and "dredging" in before[0].text
    changed = article(
        "harbour",
        ["Harbour plan shelved", "The council shelved the harbour plan after a lawsuit."],
        source=HARBOUR.source,
    )
    revision = built.store.revision()

    report = service.ingest_documents([changed, FLEET, ELECTION])

    assert (report.documents, report.unchanged, report.doc_ids) == (1, 2, ["harbour"])
    assert built.store.revision() != revision
    assert service.get_document("harbour") == changed
    new_chunks = stored_chunks(built, "harbour")
    assert new_chunks and all(text in changed.text for text in new_chunks)
    assert built.store.count() == sum(i.chunk_count for i in service.list_documents())
    after = service.search("harbour dredging ships", top_k=10)
    assert after  # the new version, or the other articles
    assert not any("dredging" in hit.text for hit in after)
    assert all(hit.text in changed.text for hit in after if hit.doc_id == "harbour")


def test_delete_document(make: ServiceFactory) -> None:
    built = make(NEWS)
    built.service.delete_document("fleet")
    assert [i.doc_id for i in built.service.list_documents()] == ["election", "harbour"]
    assert stored_chunks(built, "fleet") == []
    with pytest.raises(NotFoundError):
        built.service.get_document("fleet")
    with pytest.raises(NotFoundError):
        built.service.delete_document("fleet")


# --------------------------------------------------------------------------- add_records


def test_add_records_ingests_a_valid_batch(make: ServiceFactory) -> None:
    service = make().service
    records: list[dict[str, Any]] = [
        {"id": "a", "title": "Bridge", "body": "The bridge reopened on Friday."},
        {"id": 7, "body": "The museum doubled its visitors.", "source": "wire"},
    ]
    report = service.add_records(records)
    assert (report.documents, report.unchanged) == (2, 0)
    assert service.get_document("a").source == "api"
    assert service.get_document("a").lines == ("The bridge reopened on Friday.",)
    assert service.get_document("7").source == "wire"
    again = service.add_records(records)
    assert (again.documents, again.unchanged) == (0, 2)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": "b", "body": ""}, "documents[1]"),
        ({"id": "b"}, "documents[1]"),
        ({"id": ["b"], "body": "text"}, "documents[1]"),
        ({"id": "a", "body": "Same id as the first."}, "share one id"),
    ],
)
def test_one_bad_record_rejects_the_whole_batch(
    make: ServiceFactory, bad: dict[str, Any], message: str
) -> None:
    built = make()
    revision = built.store.revision()
    records: list[dict[str, Any]] = [{"id": "a", "body": "The bridge reopened on Friday."}, bad]
    with pytest.raises(InputError, match=message.replace("[", r"\[")):
        built.service.add_records(records)
    assert built.service.list_documents() == []
    assert built.store.revision() == revision


def test_a_reserved_id_rejects_the_batch_before_anything_is_written(
    make: ServiceFactory,
) -> None:
    """Found by these tests: the store refused "__revision__" only when writing, after
    earlier groups of the batch (EMBED_GROUP chunks each) had been written."""
    body = "\n".join(f"Line {i} tells of the harbour, its ships and its plan." for i in range(800))
    big: dict[str, Any] = {"id": "big", "body": body}
    assert make().service.add_records([big]).chunks > EMBED_GROUP  # two groups, two writes
    built = make()
    records = [big, {"id": "__revision__", "body": "Not an article."}]
    with pytest.raises(InputError, match=r"documents\[1\].*reserved"):
        built.service.add_records(records)
    assert built.service.list_documents() == []
    assert built.store.count() == 0


def test_add_records_names_every_bad_record(make: ServiceFactory) -> None:
    records: list[dict[str, Any]] = [
        {"body": ""},
        {"id": "ok", "body": "Fine."},
        {"id": "x", "text": 3},
    ]
    with pytest.raises(InputError) as caught:
        make().service.add_records(records)
    assert "documents[0]" in str(caught.value)
    assert "documents[2]" in str(caught.value)
    assert "documents[1]" not in str(caught.value)


# --------------------------------------------------------------------------- ingest_paths


def test_ingest_paths_reports_a_bad_file_and_ingests_the_good_one(
    make: ServiceFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text("Lighthouse restored\n\nThe lighthouse was restored.\n")
    (folder / "bad.txt").write_bytes(b"\x00\x01binary")
    built = make()

    report = built.service.ingest_paths([folder])

    # A binary file is skipped, saying why; it is no failure of the run.
    assert (report.documents, report.skipped, report.failed, report.unchanged) == (1, 1, 0, 0)
    assert report.skips == ["bad.txt: binary file (contains NUL bytes), not text"]
    assert report.errors == []
    assert [i.doc_id for i in built.service.list_documents()] == ["articles/good.txt"]
    doc = built.service.get_document("articles/good.txt")
    assert doc.lines == ("Lighthouse restored", "", "The lighthouse was restored.")
    hits = built.service.search("lighthouse restored")
    assert hits and {h.doc_id for h in hits} == {"articles/good.txt"}

    again = built.service.ingest_paths([folder])
    assert (again.documents, again.unchanged, again.skipped) == (0, 1, 1)


def test_ingest_paths_reports_a_reserved_id_and_ingests_the_rest(
    make: ServiceFactory, tmp_path: Path
) -> None:
    """Found by these tests: one record with a reserved id aborted the whole run."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha\n\nThe alpha article.\n")
    (folder / "feed.jsonl").write_text(
        json.dumps({"id": "__deleted__/a", "body": "Sneaky."})
        + "\n"
        + json.dumps({"id": "b", "body": "The beta article."})
        + "\n"
    )
    (folder / "__revision__.txt").write_text("Named like the store's revision record.\n")
    service = make().service
    report = service.ingest_paths([folder])
    assert (report.documents, report.failed) == (2, 2)
    assert all("reserved" in error for error in report.errors)
    assert [i.doc_id for i in service.list_documents()] == ["articles/a.txt", "articles/b"]


def test_ingest_paths_prune_removes_documents_whose_file_is_gone(
    make: ServiceFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "keep.txt").write_text("Kept\n\nThis one stays.\n")
    (folder / "gone.txt").write_text("Gone\n\nThis one goes.\n")
    service = make().service
    service.ingest_paths([folder])
    (folder / "gone.txt").unlink()
    assert service.ingest_paths([folder]).pruned == 0  # not without prune=True
    report = service.ingest_paths([folder], prune=True)
    assert report.pruned == 1
    assert [i.doc_id for i in service.list_documents()] == ["articles/keep.txt"]
