"""Prune by folder and id clashes on the real store (embedded Chroma, the local embedder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.wiring import build_service


def test_prune_one_folder_keeps_the_other_folder_and_the_api_document(
    tmp_path: Path, local_embedder: Any
) -> None:
    settings = Settings(data_dir=tmp_path / "data", language_check=False, _env_file=None)
    service = build_service(settings, embedder=local_embedder)
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "article.txt").write_text(f"{name} story\n\nThe {name} council met today.\n")
        (folder / "old.txt").write_text(f"{name} old\n\nThe {name} harbour reopened.\n")
    assert service.ingest_paths([tmp_path / "a", tmp_path / "b"]).added == 4
    service.add_records([{"id": "wire-7", "body": "The wire says the dam opened."}])
    (tmp_path / "a" / "old.txt").unlink()
    (tmp_path / "b" / "old.txt").unlink()

    dry = service.ingest_paths([tmp_path / "a"], prune=True, dry_run=True)
    assert dry.removed_ids == ["a/old.txt"]
    assert len(service.list_documents()) == 5

    report = service.ingest_paths([tmp_path / "a"], prune=True)
    assert (report.removed_ids, report.unchanged) == (["a/old.txt"], 1)
    assert [d.doc_id for d in service.list_documents()] == [
        "a/article.txt",
        "b/article.txt",
        "b/old.txt",
        "wire-7",
    ]
    hits = service.search("harbour reopened")
    assert all(h.doc_id != "a/old.txt" for h in hits)
    assert any(h.doc_id == "b/old.txt" for h in hits)


def test_a_second_checkout_of_the_same_folder_reads_as_unchanged(
    tmp_path: Path, local_embedder: Any
) -> None:
    """The seeds of two clones in one data folder: the stored document (read back from
    Chroma) equals the copy's, so nothing is written and nothing fails; an edited copy
    still clashes."""
    settings = Settings(data_dir=tmp_path / "data", language_check=False, _env_file=None)
    service = build_service(settings, embedder=local_embedder)
    seeds = Path(__file__).parents[2] / "seeds"
    for clone in ("one", "two"):
        (tmp_path / clone / "seeds").mkdir(parents=True)
        for path in seeds.iterdir():
            (tmp_path / clone / "seeds" / path.name).write_bytes(path.read_bytes())
    first = service.ingest_paths([tmp_path / "one" / "seeds"])
    assert first.added == len(list(seeds.iterdir())) >= 2
    second = service.ingest_paths([tmp_path / "two" / "seeds"])
    assert (second.added, second.updated, second.failed) == (0, 0, 0)
    assert second.unchanged == first.added
    edited = next((tmp_path / "two" / "seeds").iterdir())
    edited.write_text(edited.read_text() + "\nA line added in the second clone.\n")
    third = service.ingest_paths([tmp_path / "two" / "seeds"])
    assert third.failed == 1 and "already names" in third.errors[0]
    kept = service.get_document(f"seeds/{edited.name}")
    assert kept.location == str((tmp_path / "one" / "seeds" / edited.name).resolve())
