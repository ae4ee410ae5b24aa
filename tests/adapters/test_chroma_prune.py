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
