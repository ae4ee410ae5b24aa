"""`qa ingest` over the formats people have (HTML, PDF, legacy encodings, URLs), as a user runs
it: skipped files get one line each and do not fail the run, citations name PDF pages and link
to the passage, and a fetch from loopback needs QA_FETCH_ALLOW_PRIVATE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.documents import NEWS_PAGE, make_pdf
from fakes.web import Page, WebServer

from e2e.cli import run_qa


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "floods.html").write_text(NEWS_PAGE)
    (folder / "report.pdf").write_bytes(
        make_pdf([["Harbour report", "Dredging begins."], ["The ferry carried 120 passengers."]])
    )
    (folder / "legacy.txt").write_bytes(
        "Café news\n\nThe café on the quay sold 340 crêpes on Sunday.\n".encode("cp1252")
    )
    (folder / "empty.txt").write_bytes(b"")
    (folder / "photo.txt").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    return folder


@pytest.fixture
def web() -> Iterator[WebServer]:
    with WebServer() as server:
        server.pages["/floods.html"] = Page(NEWS_PAGE.encode())
        yield server


def test_ingest_a_mixed_folder_skipping_what_is_not_text(tmp_path: Path, folder: Path) -> None:
    data = tmp_path / "data"
    result = run_qa(data, "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    skips = sorted(line for line in result.stderr.splitlines() if line.startswith("skipped:"))
    assert skips == [
        "skipped: empty.txt: empty file",
        "skipped: photo.txt: binary file (contains NUL bytes), not text",
    ]
    assert "error:" not in result.stderr and "Traceback" not in result.stderr
    assert (
        result.stdout.strip()
        .splitlines()[-1]
        .startswith("3 added, 0 updated, 0 unchanged, 2 skipped, 0 failed, 0 removed; 3 chunks")
    )

    asked = run_qa(data, "ask", "How many passengers did the ferry carry?")
    assert asked.returncode == 0
    assert "report.pdf, page 2, lines 3-3" in asked.stdout

    # A stored file that turns empty is skipped; its stored document is not touched.
    (folder / "legacy.txt").write_bytes(b"")
    again = json.loads(run_qa(data, "ingest", str(folder), "--prune", "--json").stdout)
    assert (again["unchanged"], again["skipped"], again["pruned"]) == (2, 3, 0)
    assert "legacy.txt: empty file" in again["skips"]
    hits = json.loads(run_qa(data, "search", "crêpes sold on the quay", "--json").stdout)["hits"]
    assert any("340 crêpes" in hit["text"] for hit in hits)


def test_ingest_a_url(tmp_path: Path, web: WebServer) -> None:
    url = web.url("/floods.html")
    refused = run_qa(tmp_path, "ingest", url)
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "QA_FETCH_ALLOW_PRIVATE" in errors[0], refused.stderr
    assert web.paths() == []

    allowed = {"QA_FETCH_ALLOW_PRIVATE": "true"}
    result = run_qa(tmp_path, "ingest", url, env=allowed)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 added, 0 updated")
    asked = run_qa(tmp_path, "ask", "How many people were forced from their homes?")
    assert "https://news.example.com/2024/floods#:~:text=" in asked.stdout
