"""HTTP latency and throughput of /v1/search and /v1/ask against a real `qa serve` process.

Usage: python bench/latency.py [--sizes 1000,10000] [--clients 1,8,32] [--requests 200]
Stores bigger than the real corpus hold perturbed copies of the real chunks (see
common.populate); the rate limit is switched off (QA_RATE_LIMIT_PER_MINUTE=0) for the run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import common
import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(data_dir: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """`qa serve` on a free loopback port; yields (base url, process, seconds until ready)."""
    port = free_port()
    environ = os.environ | {
        "QA_DATA_DIR": str(data_dir),
        "QA_RATE_LIMIT_PER_MINUTE": "0",
        "QA_LOG_LEVEL": "WARNING",
    }
    environ.update(env)
    environ["PYTHONPATH"] = str(common.ROOT)  # this working tree's qa, like common.py
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
        env=environ,
        cwd=common.ROOT,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        ready = wait_ready(url, proc, started)
        yield url, proc, ready
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_ready(url: str, proc: subprocess.Popen[bytes], started: float) -> float:
    with httpx.Client(base_url=url, timeout=5) as client:
        while True:
            if proc.poll() is not None:
                sys.exit(f"bench: qa serve exited with status {proc.returncode}")
            try:
                if client.get("/readyz").status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.01)


def questions() -> list[str]:
    from qa.eval.scoring import load_questions

    return [q.question for q in load_questions(common.WIKIQA / "questions.jsonl")]


_sent = itertools.count()


def unique(question: str) -> str:
    """``question`` made unique for this run: the service caches question vectors, and a
    repeated question would skip the embedding every real new question pays for."""
    return f"{question} ({next(_sent)})"


def load(url: str, route: str, clients: int, total: int, qs: list[str]) -> dict[str, float]:
    """``total`` requests split over ``clients`` threads; latency percentiles and rate."""
    field = "query" if route == "/v1/search" else "question"
    per_client = max(1, total // clients)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        mine, bad = [], 0
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            for i in range(per_client):
                body = {field: unique(qs[(n * per_client + i) % len(qs)]), "top_k": 5}
                t = time.perf_counter()
                response = client.post(route, json=body)
                mine.append((time.perf_counter() - t) * 1000)
                bad += response.status_code != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "p50": common.pct(latencies, 50),
        "p95": common.pct(latencies, 95),
        "p99": common.pct(latencies, 99),
        "rps": len(latencies) / wall,
        "n": len(latencies),
        "errors": errors[0],
    }


def time_to_ready(data_dir: Path, qs: list[str]) -> tuple[float, float]:
    """Seconds from process start to /readyz 200, and to the first search answered."""
    started = time.perf_counter()
    with server(data_dir) as (url, _, ready):
        httpx.post(f"{url}/v1/search", json={"query": qs[0]}, timeout=60).raise_for_status()
        return ready, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="store sizes in chunks")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--requests", type=int, default=200, help="searches per measurement")
    parser.add_argument("--ask-requests", type=int, default=100, help="asks per measurement")
    parser.add_argument("--ready-size", type=int, default=10000, help="0: skip time-to-ready")
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    qs = questions()
    sizes = [int(s) for s in args.sizes.split(",")]
    clients = [int(c) for c in args.clients.split(",")]
    rows: list[list[object]] = []
    results: dict[tuple[str, int, int], dict[str, float]] = {}
    for size in sizes:
        data_dir = common.scaled_data_dir(size)
        with server(data_dir) as (url, _, _):
            for route, total in (("/v1/search", args.requests), ("/v1/ask", args.ask_requests)):
                load(url, route, 1, 20, qs)  # warm: BM25 index build, caches, connections
                for c in clients:
                    r = load(url, route, c, max(total, 4 * c), qs)
                    results[(route, size, c)] = r
                    rows.append(
                        [
                            route,
                            f"{size:,}",
                            c,
                            r["p50"],
                            r["p95"],
                            r["p99"],
                            r["rps"],
                            r["n"],
                            r["errors"],
                        ]
                    )
                    print(f"  {route} {size:,} chunks, {c} clients: p50 {r['p50']:.1f} ms")
    text = (
        "HTTP latency (ms) and throughput, `qa serve` on 127.0.0.1, extractive answers, "
        f"{os.cpu_count()} CPU cores. Stores above {534} chunks hold perturbed copies of the "
        "real chunks (vectors + noise, written without embedding).\n\n"
        + common.table(
            ["route", "chunks", "clients", "p50", "p95", "p99", "req/s", "requests", "errors"],
            rows,
        )
    )
    if args.ready_size:
        ready, first = time_to_ready(common.scaled_data_dir(args.ready_size), qs)
        text += (
            f"\n\ntime to ready at {args.ready_size:,} chunks: /readyz 200 after {ready:.2f} s, "
            f"first search answered after {first:.2f} s (from process start)"
        )
    common.write_report("latency", text)
    plot(results, sizes, clients)


def plot(
    results: dict[tuple[str, int, int], dict[str, float]], sizes: list[int], clients: list[int]
) -> None:
    plt = common.plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, route in zip(axes, ("/v1/search", "/v1/ask"), strict=True):
        for size in sizes:
            p50 = [results[(route, size, c)]["p50"] for c in clients]
            p95 = [results[(route, size, c)]["p95"] for c in clients]
            line = ax.plot(clients, p50, marker="o", label=f"{size:,} chunks p50")[0]
            ax.plot(clients, p95, marker="x", ls="--", color=line.get_color(), label="p95")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(clients, [str(c) for c in clients])
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("latency (ms)")
        ax.set_title(route)
        ax.legend(fontsize=7)
    common.save_plot(fig, "latency")


if __name__ == "__main__":
    main()
