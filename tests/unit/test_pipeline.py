"""load_paths: every file under the paths, with errors, skipped files and duplicate ids."""

from __future__ import annotations

import json
from pathlib import Path

from qa.ingest.pipeline import load_paths

LIMIT = 2_000_000


def test_load_paths_collects_documents_errors_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Alpha\nBody.")
    (tmp_path / "b.jsonl").write_text(json.dumps({"id": "a.txt", "body": "Clash."}) + "\n")
    (tmp_path / "c.txt").write_bytes(b"\x00\x01")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7 then nothing")
    result = load_paths([tmp_path, tmp_path / "nope"], max_document_bytes=LIMIT)
    name = tmp_path.name  # the collection: the folder's own name
    assert [d.doc_id for d in result.documents] == [f"{name}/a.txt"]
    assert result.skipped == [tmp_path / "notes.docx"]
    # Binary and unreadable files are skipped on purpose, saying why; the rest are errors.
    assert sorted(s.where for s in result.skips) == ["broken.pdf", "c.txt"]
    assert all(s.reason for s in result.skips)
    wheres = sorted(e.where for e in result.errors)
    assert wheres == sorted([str(tmp_path / "nope"), "b.jsonl"])
    duplicate = next(e for e in result.errors if e.where == "b.jsonl")
    assert f"duplicate document id '{name}/a.txt' (first in a.txt)" in duplicate.reason
