"""Document ids of files (<collection>/<path>), clashes, prune by folder, and dry runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.service import ServiceFactory

from qa.errors import ConflictError, InputError
from qa.ingest.loaders import document_from_text
from qa.service import QAService


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path / "services") as factory:
        yield factory


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def ids(service: QAService) -> list[str]:
    return [info.doc_id for info in service.list_documents()]


API_DOC = {"id": "wire-1", "title": "Wire", "body": "The wire story about the dam opening."}


def test_prune_removes_only_the_gone_files_of_the_folder_it_is_given(
    make: ServiceFactory, tmp_path: Path
) -> None:
    service = make().service
    for name in ("alpha", "beta"):
        write(tmp_path / name, "kept.txt", f"{name} kept\n\nThe {name} article that stays.\n")
        write(tmp_path / name, "gone.txt", f"{name} gone\n\nThe {name} article deleted.\n")
    service.ingest_paths([tmp_path / "alpha"])
    service.ingest_paths([tmp_path / "beta"])
    service.add_records([API_DOC])
    (tmp_path / "alpha" / "gone.txt").unlink()
    (tmp_path / "beta" / "gone.txt").unlink()
    everything = ["alpha/gone.txt", "alpha/kept.txt", "beta/gone.txt", "beta/kept.txt", "wire-1"]
    assert ids(service) == everything

    dry = service.ingest_paths([tmp_path / "alpha"], prune=True, dry_run=True)
    assert (dry.dry_run, dry.pruned, dry.removed_ids, dry.unchanged) == (
        True,
        1,
        ["alpha/gone.txt"],
        1,
    )
    assert ids(service) == everything  # a dry run removes nothing

    report = service.ingest_paths([tmp_path / "alpha"], prune=True)
    assert (report.pruned, report.removed_ids) == (1, ["alpha/gone.txt"])
    # beta/gone.txt is gone from disk too, but beta was not the folder pruned; the API
    # document has no file at all.
    assert ids(service) == ["alpha/kept.txt", "beta/gone.txt", "beta/kept.txt", "wire-1"]


def test_prune_of_a_folder_that_does_not_exist_removes_nothing(
    make: ServiceFactory, tmp_path: Path
) -> None:
    service = make().service
    write(tmp_path / "news", "a.txt", "A\n\nThe first article.\n")
    service.ingest_paths([tmp_path / "news"])
    report = service.ingest_paths([tmp_path / "missing"], prune=True)
    assert (report.failed, report.pruned) == (1, 0)
    assert ids(service) == ["news/a.txt"]


def test_prune_of_an_emptied_folder_removes_all_its_documents(
    make: ServiceFactory, tmp_path: Path
) -> None:
    service = make().service
    write(tmp_path / "news", "a.txt", "A\n\nThe first article.\n").unlink()  # never ingested
    write(tmp_path / "news", "b.txt", "B\n\nThe second article.\n")
    service.ingest_paths([tmp_path / "news"])
    (tmp_path / "news" / "b.txt").unlink()
    assert service.ingest_paths([tmp_path / "news"], prune=True).removed_ids == ["news/b.txt"]
    assert ids(service) == []


def test_prune_removes_a_record_deleted_from_a_jsonl_file(
    make: ServiceFactory, tmp_path: Path
) -> None:
    service = make().service
    records = [{"id": f"r{i}", "body": f"Record number {i} about the canal."} for i in (1, 2)]
    feed = write(tmp_path / "feeds", "feed.jsonl", "\n".join(map(json.dumps, records)) + "\n")
    service.ingest_paths([tmp_path / "feeds"])
    feed.write_text(json.dumps(records[0]) + "\n")
    report = service.ingest_paths([tmp_path / "feeds"], prune=True)
    assert report.removed_ids == ["feeds/r2"]
    assert ids(service) == ["feeds/r1"]


def test_same_relative_path_in_two_folders_gives_two_documents(
    make: ServiceFactory, tmp_path: Path
) -> None:
    service = make().service
    write(tmp_path / "a", "article.txt", "Harbour\n\nThe ferry carried 120 passengers.\n")
    write(tmp_path / "b", "article.txt", "Mountain\n\nThe pass closed after snow.\n")
    report = service.ingest_paths([tmp_path / "a", tmp_path / "b"])
    assert (report.added, report.failed) == (2, 0)
    assert ids(service) == ["a/article.txt", "b/article.txt"]
    assert service.get_document("a/article.txt").title == "Harbour"
    assert service.get_document("b/article.txt").title == "Mountain"
    located = service.get_document("b/article.txt").location
    assert located == str((tmp_path / "b" / "article.txt").resolve())


def test_the_same_folder_from_another_working_directory_is_the_same_document(
    make: ServiceFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = make().service
    write(tmp_path / "news", "a.txt", "A\n\nThe first article.\n")
    monkeypatch.chdir(tmp_path)
    assert service.ingest_paths([Path("news")]).added == 1
    monkeypatch.chdir(tmp_path / "news")
    again = service.ingest_paths([Path(".")])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    file_only = service.ingest_paths([tmp_path / "news" / "a.txt"])  # a file: its folder's
    assert file_only.unchanged == 1
    assert ids(service) == ["news/a.txt"]


def test_a_folder_of_the_same_name_elsewhere_is_reported_not_overwritten(
    make: ServiceFactory, tmp_path: Path
) -> None:
    service = make().service
    write(tmp_path / "x" / "news", "a.txt", "First\n\nThe first folder's article.\n")
    write(tmp_path / "y" / "news", "a.txt", "Second\n\nThe second folder's article.\n")
    service.ingest_paths([tmp_path / "x" / "news"])
    report = service.ingest_paths([tmp_path / "y" / "news"])
    assert (report.added, report.updated, report.failed) == (0, 0, 1)
    assert "already names" in report.errors[0] and "--collection" in report.errors[0]
    assert service.get_document("news/a.txt").title == "First"

    named = service.ingest_paths([tmp_path / "y" / "news"], collection="news-y")
    assert (named.added, named.failed) == (1, 0)
    assert ids(service) == ["news-y/a.txt", "news/a.txt"]


def test_a_byte_identical_copy_of_the_folder_elsewhere_is_unchanged(
    make: ServiceFactory, tmp_path: Path
) -> None:
    """A second checkout of the same folder (two clones of a repository and its seeds/)
    neither fails nor rewrites: the stored document keeps its first location."""
    service = make().service
    for root in ("x", "y"):
        write(tmp_path / root / "news", "a.txt", "A\n\nThe same article in both.\n")
    write(tmp_path / "x" / "news", "b.txt", "B\n\nThe first copy.\n")
    write(tmp_path / "y" / "news", "b.txt", "B\n\nAn edited copy.\n")
    service.ingest_paths([tmp_path / "x" / "news"])
    report = service.ingest_paths([tmp_path / "y" / "news"])
    assert (report.added, report.updated, report.unchanged, report.failed) == (0, 0, 1, 1)
    assert "news/b.txt" in report.errors[0] and "already names" in report.errors[0]
    first = str((tmp_path / "x" / "news" / "a.txt").resolve())
    assert service.get_document("news/a.txt").location == first
    assert service.get_document("news/b.txt").lines[-1] == "The first copy."


def test_a_moved_folder_updates_its_documents(make: ServiceFactory, tmp_path: Path) -> None:
    service = make().service
    write(tmp_path / "old" / "news", "a.txt", "A\n\nThe article.\n")
    service.ingest_paths([tmp_path / "old" / "news"])
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "news").rename(tmp_path / "new" / "news")
    report = service.ingest_paths([tmp_path / "new" / "news"])
    assert (report.updated, report.failed) == (1, 0)
    moved = service.get_document("news/a.txt").location
    assert moved == str((tmp_path / "new" / "news" / "a.txt").resolve())


def test_api_and_file_documents_never_overwrite_each_other(
    make: ServiceFactory, tmp_path: Path
) -> None:
    service = make().service
    write(tmp_path / "news", "a.txt", "A\n\nThe file article.\n")
    service.ingest_paths([tmp_path / "news"])
    with pytest.raises(ConflictError, match="belongs to the file"):
        service.add_records([{"id": "news/a.txt", "body": "An API article."}])
    assert service.get_document("news/a.txt").lines[-1] == "The file article."

    service.add_records([{"id": "news/b.txt", "body": "The API's own article."}])
    write(tmp_path / "news", "b.txt", "B\n\nA file that clashes.\n")
    report = service.ingest_paths([tmp_path / "news"])
    assert report.failed == 1 and "posted through the API" in report.errors[0]
    assert service.get_document("news/b.txt").lines == ("The API's own article.",)
    # Posting the same API id again still updates it.
    again = service.add_records([{"id": "news/b.txt", "body": "The API article, revised."}])
    assert again.updated == 1


def test_documents_stored_under_their_old_ids_move_to_collection_ids(
    make: ServiceFactory, tmp_path: Path
) -> None:
    """A store written before collections held ``a.txt``: the next run replaces it."""
    service = make().service
    text = "A\n\nThe article.\n"
    write(tmp_path / "news", "a.txt", text)
    service.ingest_documents([document_from_text(text, source="a.txt", doc_id="a.txt")])
    assert ids(service) == ["a.txt"]
    report = service.ingest_paths([tmp_path / "news"])
    assert (report.added, report.migrated) == (1, 1)
    assert ids(service) == ["news/a.txt"]
    assert service.ingest_paths([tmp_path / "news"]).unchanged == 1


def test_a_bad_collection_name_is_an_input_error(make: ServiceFactory, tmp_path: Path) -> None:
    write(tmp_path / "news", "a.txt", "A\n\nThe article.\n")
    with pytest.raises(InputError, match="collection name"):
        make().service.ingest_paths([tmp_path / "news"], collection="../x")
