"""`qa check` and `qa check --repair` on a real embedded Chroma store damaged by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import chromadb
import numpy as np

from e2e.cli import run_qa

SMALL_CHUNKS = {"QA_CHUNK_SIZE": "32", "QA_CHUNK_OVERLAP": "4"}  # several chunks per article
ARTICLES = {
    "ferry.txt": "Harbour news\n\nThe ferry carried 120 passengers on Monday. "
    "It left the harbour at dawn and reached the island by noon. "
    "The captain said the sea was calm and the crossing took four hours.",
    "snow.txt": "Mountain news\n\nThe pass closed after 40 cm of snow fell overnight. "
    "Ploughs worked until morning to clear the road to the village. "
    "The police asked drivers to carry chains until Friday.",
    "vote.txt": "Council news\n\nThe council voted 7 to 3 to build a new library. "
    "Work starts in spring and should end within two years. "
    "The mayor said the old building would become a museum.",
    "rain.txt": "Farm news\n\nFarmers welcomed the first rain in three months. "
    "The wheat harvest had been expected to fall by a third. "
    "Reservoirs in the south are still half empty.",
}


def qa(data: Path, *args: str) -> Any:
    return run_qa(data, *args, env=SMALL_CHUNKS)


def collections(data: Path) -> tuple[Any, Any]:
    client = chromadb.PersistentClient(path=str(data / "chroma"))
    return client.get_collection("qa_chunks"), client.get_collection("qa_documents")


def chunk_ids(chunks: Any, doc_id: str) -> list[str]:
    return sorted(chunks.get(where={"doc_id": doc_id}, include=[])["ids"])


def test_check_finds_damage_and_repair_fixes_it(tmp_path: Path) -> None:
    folder, data = tmp_path / "articles", tmp_path / "data"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text)
    assert qa(data, "ingest", str(folder)).returncode == 0
    clean = qa(data, "check", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["problems"] == []

    chunks, documents = collections(data)
    before = {name: chunk_ids(chunks, f"articles/{name}") for name in ARTICLES}
    assert len(before["snow.txt"]) >= 2 and all(before.values()), before
    chunks.delete(ids=before["ferry.txt"])  # every chunk gone: listed, unsearchable
    chunks.delete(ids=before["snow.txt"][:1])  # one chunk gone
    stray = chunks.get(ids=before["vote.txt"][:1], include=["documents", "metadatas"])
    meta = {**stray["metadatas"][0], "content_hash": "0" * 64}  # a chunk of another version
    chunks.add(
        ids=["vote.txt:stale:0"],
        embeddings=np.ones((1, 384), dtype=np.float32),
        documents=stray["documents"],
        metadatas=[meta],
    )
    documents.delete(ids=["articles/rain.txt"])  # the record gone, its chunks left behind
    del chunks, documents

    found = qa(data, "check")
    assert found.returncode == 1, found.stderr
    lines = found.stdout.splitlines()
    ferry = f"articles/ferry.txt: missing chunks (record says {len(before['ferry.txt'])}, 0 stored)"
    assert ferry in lines, lines
    assert any(line.startswith("articles/snow.txt: missing chunks") for line in lines), lines
    assert "articles/vote.txt: chunks of another version (1 chunks)" in lines
    assert f"articles/rain.txt: orphan chunks ({len(before['rain.txt'])} chunks)" in lines
    assert "Traceback" not in found.stderr
    hits = json.loads(qa(data, "search", "ferry passengers harbour", "--json").stdout)["hits"]
    assert all(h["doc_id"] != "articles/ferry.txt" for h in hits)  # unsearchable while damaged

    repaired = qa(data, "check", "--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    report = json.loads(repaired.stdout)
    assert (report["rewritten"], report["remaining"]) == (2, [])
    assert report["pruned"] == 1 + len(before["rain.txt"])

    chunks, _ = collections(data)
    assert chunk_ids(chunks, "articles/ferry.txt") == before["ferry.txt"]  # the same chunks, re-cut
    assert chunk_ids(chunks, "articles/snow.txt") == before["snow.txt"]
    assert chunk_ids(chunks, "articles/vote.txt") == before["vote.txt"]
    assert chunk_ids(chunks, "articles/rain.txt") == []
    assert qa(data, "check").returncode == 0
    hits = json.loads(qa(data, "search", "ferry passengers harbour", "--json").stdout)["hits"]
    assert hits and hits[0]["doc_id"] == "articles/ferry.txt"
    again = json.loads(qa(data, "ingest", str(folder), "--json").stdout)
    assert again["unchanged"] == 3 and again["documents"] == 1  # rain is ingested again


def test_repair_brings_an_older_store_up_to_date(tmp_path: Path) -> None:
    """A store written before sentence vectors carried token states (or with a sentence
    record lost) is found by `qa check` and brought up to date by `--repair`."""
    folder, data = tmp_path / "articles", tmp_path / "data"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text)
    assert qa(data, "ingest", str(folder)).returncode == 0
    client = chromadb.PersistentClient(path=str(data / "chroma"))
    sentences = client.get_collection("qa_documents_sentences")
    record = sentences.get(ids=["articles/ferry.txt"], include=["metadatas"])["metadatas"][0]
    assert record["token_counts"] != "[]" and record["token_rows"]  # made at ingest
    old = {k: v for k, v in record.items() if not k.startswith("token_")}  # as before
    sentences.delete(ids=["articles/ferry.txt"])
    sentences.add(ids=["articles/ferry.txt"], embeddings=[[0.0]], metadatas=[old])
    sentences.delete(ids=["articles/snow.txt"])
    del sentences, client

    hint = "2 of the first 4 documents were embedded by an older qa: run qa check --repair"
    assert hint in qa(data, "status").stdout.splitlines()
    found = qa(data, "check", "--json")
    assert found.returncode == 1, found.stderr
    kinds = {(p["doc_id"], p["kind"]) for p in json.loads(found.stdout)["problems"]}
    assert kinds == {
        ("articles/ferry.txt", "no token states"),
        ("articles/snow.txt", "no sentence vectors"),
    }

    repaired = qa(data, "check", "--repair", "--json")
    assert repaired.returncode == 0, repaired.stderr
    report = json.loads(repaired.stdout)
    assert (report["rewritten"], report["pruned"], report["remaining"]) == (2, 0, [])
    client = chromadb.PersistentClient(path=str(data / "chroma"))
    sentences = client.get_collection("qa_documents_sentences")
    got = sentences.get(ids=["articles/ferry.txt", "articles/snow.txt"], include=["metadatas"])
    for meta in got["metadatas"]:
        assert meta["token_counts"] != "[]" and meta["token_rows"], meta.keys()
    assert qa(data, "check").returncode == 0
    status = json.loads(qa(data, "status", "--json").stdout)
    assert status["outdated_sample"] == {"outdated": 0, "checked": 4}
