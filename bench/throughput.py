"""/v1/search throughput against a yardstick measured in the same run, and load shedding.

Usage: python bench/throughput.py [--chunks 10000] [--rounds 2] [--requests 300]
           [--clients 1,8] [--overload 32] [--env QA_X=Y ...]

The yardstick is what the usual LangChain + Chroma pipeline does for a query, in process:
the question embedded through langchain_core's ``Embeddings`` interface (the same local
int8 MiniLM qa uses, so the model is not what is compared) and one ``collection.query`` on a
chromadb PersistentClient asking for documents, metadatas and distances, turned into
LangChain ``Document``s, which is what ``langchain_chroma.Chroma.similarity_search_with_score``
runs. It queries qa's own chunk collection of the same store (same vectors, same HNSW index).
It pays no HTTP and no BM25; qa's figures include both, and the load generator's threads run
on the same cores as the server.

Each round measures the yardstick (1 thread, then 8 threads), then a real `qa serve`
(1 and 8 clients; then ``--overload`` clients with shedding off and on): rounds alternate so
that a machine that slows down mid-run slows both. Clients that get a 503 wait its
Retry-After, as a well-behaved client does, then go on with their next question.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import common
import httpx
import latency

K = 5


class MiniLMEmbeddings:
    """qa's local embedder behind LangChain's ``Embeddings`` interface (made a subclass at
    run time, so that importing this script does not need langchain_core)."""

    def __init__(self) -> None:
        from qa.embeddings.local import LocalMiniLMEmbedder

        self.model = LocalMiniLMEmbedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, v)) for v in self.model.embed(texts)]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.model.embed([text])[0]))


class Yardstick:
    """``similarity_search_with_score`` as langchain_chroma runs it, on one collection."""

    def __init__(self, data_dir: Path, collection: str = "qa_chunks") -> None:
        import chromadb
        from langchain_core.embeddings import Embeddings

        embeddings_type = type("LangChainMiniLM", (MiniLMEmbeddings, Embeddings), {})
        self.embeddings: Any = embeddings_type()
        self.client = chromadb.PersistentClient(
            path=str(data_dir / "chroma"),
            settings=chromadb.config.Settings(anonymized_telemetry=False),
        )
        self.collection = self.client.get_collection(collection, embedding_function=None)

    def search(self, query: str, k: int = K) -> list[tuple[Any, float]]:
        from langchain_core.documents import Document

        vector = self.embeddings.embed_query(query)
        result = self.collection.query(
            query_embeddings=[vector],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (Document(page_content=text or "", metadata=meta or {}, id=chunk_id), distance)
            for chunk_id, text, meta, distance in zip(
                result["ids"][0],
                result["documents"][0],  # type: ignore[index]
                result["metadatas"][0],  # type: ignore[index]
                result["distances"][0],  # type: ignore[index]
                strict=True,
            )
        ]


def run_threads(
    call: Callable[[str], Any], clients: int, total: int, qs: Sequence[str]
) -> dict[str, float]:
    """``total`` calls of ``call`` split over ``clients`` threads (the yardstick's load)."""
    per_client = max(1, total // clients)
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        mine = []
        barrier.wait()
        for i in range(per_client):
            t = time.perf_counter()
            call(latency.unique(qs[(n * per_client + i) % len(qs)]))
            mine.append((time.perf_counter() - t) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return summary(latencies, time.perf_counter() - started, shed=0, errors=0)


def summary(latencies: list[float], wall: float, *, shed: int, errors: int) -> dict[str, float]:
    return {
        "p50": common.pct(latencies, 50),
        "p95": common.pct(latencies, 95),
        "p99": common.pct(latencies, 99),
        "rps": len(latencies) / wall,
        "n": len(latencies),
        "shed": shed,
        "errors": errors,
    }


def http_load(url: str, clients: int, total: int, qs: Sequence[str]) -> dict[str, float]:
    """Like latency.load for /v1/search, but a 503 with Retry-After is counted as shed (its
    latency left out of the percentiles) and its client waits that long before going on."""
    per_client = max(1, total // clients)
    latencies: list[float] = []
    counts = {"shed": 0, "errors": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        mine, shed, bad = [], 0, 0
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            for i in range(per_client):
                body = {"query": latency.unique(qs[(n * per_client + i) % len(qs)]), "top_k": K}
                t = time.perf_counter()
                response = client.post("/v1/search", json=body)
                elapsed = (time.perf_counter() - t) * 1000
                if response.status_code == 200:
                    mine.append(elapsed)
                elif response.status_code == 503 and "retry-after" in response.headers:
                    shed += 1
                    time.sleep(float(response.headers["retry-after"]))
                else:
                    bad += 1
        with lock:
            latencies.extend(mine)
            counts["shed"] += shed
            counts["errors"] += bad

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return summary(latencies, time.perf_counter() - started, **counts)


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) of every thread of ``pid`` so far, in ms."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measure_yardstick(
    data_dir: Path, clients: Sequence[int], total: int, qs: Sequence[str]
) -> dict[int, dict[str, float]]:
    yard = Yardstick(data_dir)
    for q in qs[:20]:  # warm: the index is read from disk on the first query
        yard.search(q)
    out = {}
    for c in clients:
        started = time.process_time()
        out[c] = run_threads(yard.search, c, max(total, 4 * c), qs)
        out[c]["cpu"] = (time.process_time() - started) * 1000 / out[c]["n"]
    yard.client.clear_system_cache()
    return out


def measure_qa(
    data_dir: Path,
    clients: Sequence[int],
    overload: int,
    total: int,
    qs: Sequence[str],
    env: dict[str, str],
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with latency.server(data_dir, **env) as (url, proc, _):
        http_load(url, 1, 30, qs)  # warm: BM25 index, caches, connections
        for c in clients:
            before, client_before = cpu_ms(proc.pid), time.process_time()
            r = http_load(url, c, max(total, 4 * c), qs)
            r["cpu"] = (cpu_ms(proc.pid) - before) / max(1, r["n"] + r["shed"])
            r["client_cpu"] = (time.process_time() - client_before) * 1000 / max(1, r["n"])
            out[str(c)] = r
    if overload:
        for label, extra in (("off", {"QA_MAX_IN_FLIGHT": "0"}), ("on", {})):
            with latency.server(data_dir, **(env | extra)) as (url, proc, _):
                http_load(url, 1, 30, qs)
                before = cpu_ms(proc.pid)
                r = http_load(url, overload, max(total, 8 * overload), qs)
                r["cpu"] = (cpu_ms(proc.pid) - before) / max(1, r["n"] + r["shed"])
                out[f"{overload} shed {label}"] = r
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=10000, help="store size in chunks")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=300, help="searches per measurement")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--overload", type=int, default=32, help="clients; 0: skip shedding")
    parser.add_argument("--env", action="append", default=[], help="QA_X=Y for qa serve")
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    qs = latency.questions()
    clients = [int(c) for c in args.clients.split(",")]
    env = dict(item.split("=", 1) for item in args.env)
    data_dir = common.scaled_data_dir(args.chunks)
    rows: list[list[object]] = []
    ratios: dict[str, list[float]] = {"p50": [], "rps": []}
    for n in range(1, args.rounds + 1):
        load = os.getloadavg()[0]
        yard = measure_yardstick(data_dir, clients, args.requests, qs)
        ours = measure_qa(data_dir, clients, args.overload, args.requests, qs, env)
        for c, r in yard.items():
            rows.append(row(n, load, "yardstick", str(c), r))
        for label, r in ours.items():
            rows.append(row(n, load, "qa /v1/search", label, r))
        ratios["p50"].append(ours["1"]["p50"] / yard[1]["p50"] if 1 in yard else float("nan"))
        top = max(clients)
        ratios["rps"].append(ours[str(top)]["rps"] / yard[top]["rps"])
        print(f"  round {n}: p50 ratio {ratios['p50'][-1]:.2f}, rps ratio {ratios['rps'][-1]:.2f}")
    top = max(clients)
    text = (
        f"/v1/search on a real `qa serve` against the LangChain + Chroma yardstick in process, "
        f"{args.chunks:,} chunks, top_k {K}, {os.cpu_count()} CPU cores; latency in ms, cpu in "
        "ms of CPU per request (the server process, or the yardstick's own), load = 1-minute "
        "load average when the round started.\n\n"
        + common.table(
            [
                "round",
                "load",
                "what",
                "clients",
                "p50",
                "p95",
                "p99",
                "req/s",
                "ok",
                "shed",
                "errors",
                "cpu",
                "client cpu",
            ],
            rows,
        )
        + f"\n\nqa / yardstick, median of {args.rounds} rounds: 1-client p50 "
        f"{statistics.median(ratios['p50']):.2f}x (lower is better), {top}-client req/s "
        f"{statistics.median(ratios['rps']):.2f}x (higher is better)"
    )
    common.write_report("throughput", text)


def row(n: int, load: float, what: str, clients: str, r: dict[str, float]) -> list[object]:
    return [
        n,
        f"{load:.1f}",
        what,
        clients,
        r["p50"],
        r["p95"],
        r["p99"],
        r["rps"],
        r["n"],
        r["shed"],
        r["errors"],
        r.get("cpu", float("nan")),
        r.get("client_cpu", float("nan")),
    ]


if __name__ == "__main__":
    main()
