"""Concurrent writes of one document through the real HTTP API: what is left afterwards.

Usage: python bench/race.py [--tree PATH] [--writers 8] [--trials 20] [--json]

Starts ``qa serve`` from ``--tree`` (a checkout of qa; default this one) as a subprocess on
loopback, on embedded Chroma in a fresh directory, with the hashing embedder (the real
MiniLM with ``--local-embedder``: same writes, much slower on a busy machine). Each trial
releases ``--writers`` threads at once (a barrier), each POSTing its own body for one new
id to /v1/documents; a second scenario has half of them POST and half DELETE the id (after
it was first written). The server is then stopped and Chroma is read directly with chromadb
(not through qa, so every tree is judged the same way). Each document ends as one of:

- whole: the record's version, all its chunks, nothing else (or, deleted: no record, no chunks)
- no chunks: a record with none of its version's chunks (listed, unsearchable)
- partial: some of its version's chunks, or chunks of another version beside them
- orphans: no record, but chunks left behind
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# `qa serve`, but with the hashing embedder: the bench measures the store's writes, and the
# real embedder (on a shared 2-core machine) made one trial of 8 writers take minutes.
SERVE_HASHING = """
import sys, uvicorn
from qa.api.app import create_app
from qa.config import get_settings
from qa.embeddings.hashing import HashingEmbedder
from qa.wiring import build_service
settings = get_settings()
service = build_service(settings, embedder=HashingEmbedder(384))
uvicorn.run(create_app(service, settings), host="127.0.0.1", port=int(sys.argv[1]), log_config=None)
"""


def start_server(tree: Path, data_dir: Path, port: int, *, local: bool) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env.update(QA_DATA_DIR=str(data_dir), QA_RATE_LIMIT_PER_MINUTE="0", QA_LLM="off")
    log = (data_dir / "server.log").open("wb")
    serve = (
        ["-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port"]
        if local
        else ["-c", SERVE_HASHING]
    )
    server = subprocess.Popen(
        [sys.executable, *serve, str(port)],
        cwd=tree,  # the tree's qa/ comes first on sys.path
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"qa serve exited; see {data_dir / 'server.log'}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.terminate()
    sys.exit("qa serve did not become healthy in 120 s")


def body(doc_id: str, writer: int) -> dict[str, Any]:
    """Writer ``writer``'s version: its own text, and its own number of chunks."""
    sentences = [
        f"Writer {writer} reports on {doc_id}: the council met on Tuesday evening.",
        *(
            f"In paragraph {n}, writer {writer} says the vote on the harbour plan was "
            f"{n + writer} to 3, and the mayor promised a second reading in {n + 2} weeks."
            for n in range(1 + 2 * writer)
        ),
    ]
    return {"id": doc_id, "title": f"Version {writer}", "body": "\n\n".join(sentences)}


def at_once(calls: list[Any]) -> list[int]:
    """Run ``calls`` (each returns a status) on as many threads released together."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = [0] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        statuses[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def run_trials(url: str, writers: int, trials: int) -> tuple[list[str], list[str], Counter[int]]:
    statuses: Counter[int] = Counter()
    written, mixed = [], []
    with httpx.Client(base_url=url, timeout=300) as client:

        def post(doc_id: str, writer: int) -> int:
            payload = {"documents": [body(doc_id, writer)]}
            return client.post("/v1/documents", json=payload).status_code

        def delete(doc_id: str) -> int:
            return client.delete(f"/v1/documents/{doc_id}").status_code

        for trial in range(trials):
            doc_id = f"race-write-{trial}"
            calls = [lambda d=doc_id, w=w: post(d, w) for w in range(writers)]
            statuses.update(at_once(calls))
            written.append(doc_id)
        for trial in range(trials):
            doc_id = f"race-delete-{trial}"
            statuses[post(doc_id, 0)] += 1
            calls = [lambda d=doc_id, w=w: post(d, w) for w in range(1, 1 + writers // 2)]
            calls += [lambda d=doc_id: delete(d)] * (writers - writers // 2)
            statuses.update(at_once(calls))
            mixed.append(doc_id)
    return written, mixed, statuses


def outcomes(chroma_dir: Path, doc_ids: list[str]) -> Counter[str]:
    """What Chroma holds for each document, read with chromadb alone."""
    import chromadb

    client = chromadb.PersistentClient(
        path=str(chroma_dir), settings=chromadb.config.Settings(anonymized_telemetry=False)
    )
    chunks = client.get_collection("qa_chunks")
    documents = client.get_collection("qa_documents")
    found: Counter[str] = Counter()
    for doc_id in doc_ids:
        records = documents.get(ids=[doc_id], include=["metadatas"])["metadatas"] or []
        metas = chunks.get(where={"doc_id": doc_id}, include=["metadatas"])["metadatas"] or []
        hashes = Counter(str(m["content_hash"]) for m in metas)
        if not records:
            found["orphans" if metas else "whole (deleted)"] += 1
            continue
        record = records[0]
        own = hashes.pop(str(record["content_hash"]), 0)
        if own == 0:
            found["no chunks"] += 1
        elif own != int(record["chunk_count"]) or hashes:
            found["partial"] += 1
        else:
            found["whole"] += 1
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout of qa to serve")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--local-embedder", action="store_true", help="the real MiniLM (default: hashing)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-race-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        server = start_server(args.tree.resolve(), data_dir, port, local=args.local_embedder)
        began = time.monotonic()
        try:
            written, mixed, statuses = run_trials(
                f"http://127.0.0.1:{port}", args.writers, args.trials
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
        seconds = time.monotonic() - began
        result = {
            "tree": str(args.tree),
            "writers": args.writers,
            "trials": args.trials,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "writers_only": dict(outcomes(data_dir / "chroma", written)),
            "writers_and_deleters": dict(outcomes(data_dir / "chroma", mixed)),
            "seconds": round(seconds, 1),
        }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.tree}: {args.writers} concurrent requests x {args.trials} trials")
    print(f"HTTP statuses: {result['statuses']}  ({result['seconds']} s)")
    for scenario in ("writers_only", "writers_and_deleters"):
        print(f"  {scenario}: {result[scenario]}")


if __name__ == "__main__":
    main()
