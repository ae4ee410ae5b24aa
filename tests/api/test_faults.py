"""Faults against a real `chroma run` server: Chroma down and back, ingestion killed with
SIGKILL and re-run, concurrent ingestion and queries, two API instances on one Chroma, and an
LLM failing behind the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import httpx
import pytest
import uvicorn
from fakes.chat_server import ChatServer, reply_delay, reply_error, reply_json, reply_stream
from fakes.chroma_server import ChromaServer, free_port
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.api.app import create_app
from qa.config import Settings
from qa.service import QAService
from qa.wiring import build_service

pytestmark = [pytest.mark.server, pytest.mark.slow]

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
JULY5 = "How many Afghan soldiers did Tajik border guards let in on July 5?"


def _service(tmp: Path, url: str, **settings: Any) -> QAService:
    return build_service(Settings(data_dir=tmp, chroma_url=url, _env_file=None, **settings))


# ------------------------------------------------------------------ Chroma down, then back
def test_chroma_down_gives_503s_and_the_same_app_recovers(
    chroma_server_factory: ChromaServer, tmp_path: Path
) -> None:
    server = chroma_server_factory.start()
    service = _service(tmp_path / "api", server.url)
    assert service.ingest_paths([SEEDS]).failed == 0
    with TestClient(create_app(service)) as client:
        before = client.post("/v1/search", json={"query": JULY5})
        assert before.status_code == 200
        top = before.json()["hits"][0]["chunk_id"]

        server.stop()
        started = time.monotonic()
        down = {
            "search": client.post("/v1/search", json={"query": JULY5}),
            "ask": client.post("/v1/ask", json={"question": JULY5}),
            "ask/stream": client.post("/v1/ask/stream", json={"question": JULY5}),
            "chat": client.post(
                "/v1/chat/completions", json={"messages": [{"role": "user", "content": JULY5}]}
            ),
            "documents": client.get("/v1/documents"),
            "ingest": client.post("/v1/documents", json={"documents": [{"body": "New text."}]}),
        }
        elapsed = time.monotonic() - started
        for name, response in down.items():
            assert response.status_code == 503, (name, response.text)
            error = response.json()["error"]
            assert error["type"] == "unavailable", name
            assert "Chroma" in error["message"], name
        assert elapsed < 60  # fails fast enough for a client to retry
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["type"] == "not_ready"
        assert client.get("/healthz").status_code == 200

        server.start()  # same port, same data directory
        assert client.get("/readyz").status_code == 200
        after = client.post("/v1/search", json={"query": JULY5})
        assert after.status_code == 200
        assert after.json()["hits"][0]["chunk_id"] == top
        assert client.post("/v1/ask", json={"question": JULY5}).status_code == 200
        # Nothing was half-written while Chroma was down.
        assert {d["source"] for d in client.get("/v1/documents").json()["documents"]} == {
            p.name for p in SEEDS.iterdir()
        }


# ------------------------------------------------------------------ SIGKILL mid-ingestion
def _write_corpus(folder: Path, count: int) -> None:
    folder.mkdir()
    for i in range(count):
        lines = [f"Report {i}: harbour traffic in district {i % 17}", ""]
        lines += [
            f"Ships numbered {i * 3} to {i * 3 + 2} docked at pier {i % 9} on day {i}.",
            f"Inspectors counted {i * 7 % 101} containers and {i % 13} cranes in service.",
            "Officials said the backlog would clear within the week.",
        ]
        (folder / f"doc_{i:04d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ingest_cmd(corpus: Path) -> list[str]:
    return [sys.executable, "-m", "qa.cli", "ingest", str(corpus), "--json"]


def _env(url: str, data_dir: Path, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {
        "QA_CHROMA_URL": url,
        "QA_DATA_DIR": str(data_dir),
        "QA_CHUNKS_COLLECTION": f"{prefix}_chunks",
        "QA_DOCUMENTS_COLLECTION": f"{prefix}_documents",
    }
    return env


def _count(client: Any, name: str) -> int:
    try:
        return int(client.get_collection(name).count())
    except Exception:  # not created yet
        return 0


def _documents_stored(client: Any, prefix: str) -> int:
    return max(0, _count(client, f"{prefix}_documents") - 1)  # minus the __revision__ record


def _snapshot(client: Any, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(documents by id, chunks by id) as stored in Chroma."""
    docs = client.get_collection(f"{prefix}_documents").get(include=["metadatas"])
    chunks = client.get_collection(f"{prefix}_chunks").get(include=["metadatas", "documents"])
    documents = {
        i: m
        for i, m in zip(docs["ids"], docs["metadatas"], strict=True)
        if m.get("kind") == "document"
    }
    stored = {
        i: (m, text)
        for i, m, text in zip(chunks["ids"], chunks["metadatas"], chunks["documents"], strict=True)
    }
    assert len(stored) == len(chunks["ids"])
    return documents, stored


def _assert_consistent(documents: dict[str, Any], chunks: dict[str, Any]) -> None:
    """No orphan chunks, no stale versions, chunk_count as recorded."""
    per_doc: dict[str, list[int]] = {}
    for meta, _ in chunks.values():
        doc = documents.get(meta["doc_id"])
        assert doc is not None, f"orphan chunk of {meta['doc_id']}"
        assert meta["content_hash"] == doc["content_hash"], f"stale chunk of {meta['doc_id']}"
        per_doc.setdefault(meta["doc_id"], []).append(meta["index"])
    for doc_id, doc in documents.items():
        indexes = sorted(per_doc.get(doc_id, []))
        assert indexes == list(range(doc["chunk_count"])), doc_id  # no duplicates, no gaps


def test_ingestion_killed_midway_then_rerun_matches_an_uninterrupted_run(
    chroma_server_factory: ChromaServer, tmp_path: Path
) -> None:
    server = chroma_server_factory.start()
    corpus = tmp_path / "corpus"
    total = 200
    _write_corpus(corpus, total)
    client = chromadb.HttpClient(host="127.0.0.1", port=server.port)

    env = _env(server.url, tmp_path / "killed", "killed")
    process = subprocess.Popen(
        _ingest_cmd(corpus), env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 240
    try:
        while True:
            assert process.poll() is None, "ingestion ended before it could be killed"
            assert time.monotonic() < deadline, "ingestion stored too little in time"
            # One chunk per document: more chunks than document records means a document
            # is between its chunk upsert and its record, the worst moment to die; aim for
            # it (the kill may still land a write later). Chunks are counted first, so the
            # inequality cannot come from a write between the two counts.
            chunks = _count(client, "killed_chunks")
            documents = _documents_stored(client, "killed")
            if documents >= 3 and (chunks > documents or documents >= total // 3):
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    partial = _documents_stored(client, "killed")
    assert 0 < partial < total, partial

    rerun = subprocess.run(
        _ingest_cmd(corpus), check=False, env=env, cwd=tmp_path, capture_output=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    clean = subprocess.run(
        _ingest_cmd(corpus),
        check=False,
        env=_env(server.url, tmp_path / "clean", "clean"),
        cwd=tmp_path,
        capture_output=True,
        timeout=600,
    )
    assert clean.returncode == 0, clean.stderr

    killed_docs, killed_chunks = _snapshot(client, "killed")
    clean_docs, clean_chunks = _snapshot(client, "clean")
    assert len(killed_docs) == len(clean_docs) == total
    assert killed_docs.keys() == clean_docs.keys()
    assert killed_chunks.keys() == clean_chunks.keys()  # same ids: same content, same split
    assert killed_chunks == clean_chunks
    _assert_consistent(killed_docs, killed_chunks)
    _assert_consistent(clean_docs, clean_chunks)


# ------------------------------------------------------------------ concurrency
class _LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture
def served(chroma_server_factory: ChromaServer, tmp_path: Path) -> Iterator[str]:
    server = chroma_server_factory.start()
    service = _service(tmp_path / "api", server.url)
    assert service.ingest_paths([SEEDS]).failed == 0
    with _LiveServer(create_app(service)) as url:
        yield url


def test_concurrent_ingestion_and_queries_all_succeed(served: str) -> None:
    failures: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def record(response: httpx.Response) -> None:
        with lock:
            statuses.append(response.status_code)
            if response.status_code >= 400:
                failures.append(
                    f"{response.request.url.path}: {response.status_code} {response.text}"
                )

    def ingest(writer: int) -> None:
        with httpx.Client(base_url=served, timeout=120) as http:
            for batch in range(4):
                docs = [
                    {
                        "id": f"w{writer}-b{batch}-d{n}",
                        "body": f"Writer {writer} batch {batch} note {n}.\n\n"
                        f"The ferry to island {writer}{batch}{n} left at dawn with supplies.",
                    }
                    for n in range(3)
                ]
                record(http.post("/v1/documents", json={"documents": docs}))

    def query(reader: int) -> None:
        with httpx.Client(base_url=served, timeout=120) as http:
            for i in range(6):
                if i % 2:
                    record(http.post("/v1/ask", json={"question": JULY5}))
                else:
                    record(http.post("/v1/search", json={"query": f"ferry island {reader}"}))
                record(http.get("/v1/documents"))

    def guarded(target: Any, arg: int) -> None:
        try:
            target(arg)
        except Exception as exc:  # a transport error is a failure too
            with lock:
                failures.append(repr(exc))

    threads = [threading.Thread(target=guarded, args=(ingest, w)) for w in range(2)]
    threads += [threading.Thread(target=guarded, args=(query, r)) for r in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures
    assert len(statuses) == 2 * 4 + 3 * 12
    listed = httpx.get(f"{served}/v1/documents", timeout=60).json()["documents"]
    ids = {d["doc_id"] for d in listed}
    assert {f"w{w}-b{b}-d{n}" for w in range(2) for b in range(4) for n in range(3)} <= ids
    hits = httpx.post(
        f"{served}/v1/search", json={"query": "ferry to island 132"}, timeout=60
    ).json()["hits"]
    assert hits[0]["doc_id"] == "w1-b3-d2"


# ------------------------------------------------------------------ two API instances
def test_a_document_ingested_through_one_instance_is_found_by_another(
    chroma_server_factory: ChromaServer, tmp_path: Path
) -> None:
    server = chroma_server_factory.start()
    writer = _service(tmp_path / "one", server.url)
    assert writer.ingest_paths([SEEDS]).failed == 0
    # Lexical only: the hit can come from nowhere but the second instance's BM25 index.
    # It checks Chroma for other processes' writes every 0.2 s.
    reader = _service(tmp_path / "two", server.url, retrieval_mode="lexical", revision_poll_s=0.2)
    query = {"query": "quokka sanctuary on Rottnest"}
    with TestClient(create_app(writer)) as one, TestClient(create_app(reader)) as two:
        first = two.post("/v1/search", json=query)  # builds the reader's index now
        assert first.status_code == 200
        assert all(h["doc_id"] != "quokka-news" for h in first.json()["hits"])

        body = "Quokka news\n\nRangers opened a quokka sanctuary on Rottnest island on Monday."
        added = one.post("/v1/documents", json={"documents": [{"id": "quokka-news", "body": body}]})
        assert added.status_code == 201

        def hits_after_poll(done: Any) -> list[dict[str, Any]]:
            """Search until ``done(hits)``: one poll interval (0.2 s) on a quiet machine,
            longer on a loaded one; give up after 10 s."""
            deadline = time.monotonic() + 10
            while True:
                time.sleep(0.25)
                hits: list[dict[str, Any]] = two.post("/v1/search", json=query).json()["hits"]
                if done(hits) or time.monotonic() > deadline:
                    return hits

        found = hits_after_poll(lambda hits: hits and hits[0]["doc_id"] == "quokka-news")
        assert found[0]["doc_id"] == "quokka-news"
        assert "quokka sanctuary" in found[0]["text"]

        assert one.delete("/v1/documents/quokka-news").status_code == 204
        gone = hits_after_poll(lambda hits: all(h["doc_id"] != "quokka-news" for h in hits))
        assert all(h["doc_id"] != "quokka-news" for h in gone)


# ------------------------------------------------------------------ LLM failures
def test_llm_failures_fall_back_to_degraded_extractive_answers(tmp_path: Path) -> None:
    with ChatServer() as chat:
        settings = Settings(
            data_dir=tmp_path,
            llm_base_url=chat.url,
            llm_max_retries=0,
            llm_timeout_s=1.0,
            _env_file=None,
        )
        service = build_service(settings)
        assert service.ingest_paths([SEEDS]).failed == 0
        chat.script(reply_error(500), reply_error(429), reply_delay(5.0))
        with TestClient(create_app(service)) as client:
            reasons = []
            for _ in range(3):
                response = client.post("/v1/ask", json={"question": JULY5, "conversation": True})
                assert response.status_code == 200, response.text
                answer = response.json()
                assert answer["degraded"] is True
                assert answer["mode"] == "extractive"
                assert answer["citations"], "the extractive fallback still cites the source"
                reasons.append(answer["degraded_reason"])
            assert "HTTP 500" in reasons[0] and "HTTP 429" in reasons[1]
            assert "timed out" in reasons[2]

            # A follow-up: condensing it is one completion (with usage), answering another.
            chat.script(reply_json(JULY5), reply_json("Tajik border guards let them in."))
            follow_up = client.post(
                "/v1/ask",
                json={"question": "And how many?", "conversation_id": answer["conversation_id"]},
            )
            assert follow_up.status_code == 200
            assert follow_up.json()["mode"] == "llm"
            assert follow_up.json()["degraded"] is False
            assert len(chat.requests) == 5

            # A streamed answer: the server sends its usage in the stream's last chunk.
            chat.script(reply_stream("Tajik border guards ", "let them in."))
            streamed = client.post("/v1/ask/stream", json={"question": JULY5})
            assert streamed.status_code == 200
            assert "event: done" in streamed.text
            assert len(chat.requests) == 6
            assert chat.requests[-1].body["stream_options"] == {"include_usage": True}

            metrics = client.get("/metrics").text
        for kind in ("server_error", "rate_limit", "timeout"):
            assert f'qa_llm_errors_total{{kind="{kind}"}} 1.0' in metrics
        # The fake server reports 11 prompt and 7 completion tokens per completion (3 here).
        assert 'qa_llm_tokens_total{kind="prompt"} 33.0' in metrics
        assert 'qa_llm_tokens_total{kind="completion"} 21.0' in metrics
        assert (
            'qa_answers_total{answerable="true",degraded="true",mode="extractive"} 3.0' in metrics
        )
