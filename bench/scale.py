"""Scale: a `chroma run` server with N chunks; search latency, memory, BM25 build cost.

Usage: python bench/scale.py [--chunks 100000] [--requests 200]
The chunks are the real wikiqa-dev + seed chunks, then perturbed copies of them (vectors plus
Gaussian noise, same texts), written straight through ChromaChunkStore (no embedding).
1M chunks takes tens of minutes to write on 2 cores: pass --chunks 1000000 for that.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import common
import httpx
from latency import free_port, load, questions, server


def chroma_server(path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("bench: `chroma run` did not come up within 60 s")


def bm25_build(chroma_url: str) -> tuple[float, float, int]:
    """Seconds and resident MiB (increase) to build the BM25 index from the server's chunks."""
    svc = common.service(common.OUT / "cache" / "scale-client", chroma_url=chroma_url)
    svc.store.ping()
    before = common.rss_mb(os.getpid())
    seconds, _ = common.timed(lambda: svc.lexical.sync(svc.store))
    return seconds, common.rss_mb(os.getpid()) - before, len(svc.lexical)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    qs = questions()
    with common.temp_dir("scale") as tmp:
        chroma, url = chroma_server(tmp / "chroma")
        try:
            writer = common.service(tmp / "writer", chroma_url=url)
            writer.store.check_embedder(writer.embedder.name, writer.embedder.dimension)
            print(f"writing {args.chunks:,} chunks to `chroma run` (perturbed copies)")
            write_s, written = common.timed(lambda: common.populate(writer.store, args.chunks))
            build_s, build_mb, indexed = bm25_build(url)
            with server(tmp / "api", QA_CHROMA_URL=url) as (api, proc, ready):
                started = time.perf_counter()
                httpx.post(f"{api}/v1/search", json={"query": qs[0]}, timeout=600)
                first = time.perf_counter() - started
                load(api, "/v1/search", 1, 10, qs)
                one = load(api, "/v1/search", 1, args.requests, qs)
                eight = load(api, "/v1/search", 8, args.requests, qs)
                api_mb, chroma_mb = common.rss_mb(proc.pid), common.rss_mb(chroma.pid)
        finally:
            chroma.terminate()
            chroma.wait(timeout=30)
    rows = [
        ["chunks written", f"{written:,}", f"{write_s:.0f} s ({written / write_s:,.0f}/s)"],
        ["BM25 index build", f"{indexed:,} chunks", f"{build_s:.1f} s, +{build_mb:,.0f} MiB"],
        ["API ready (/readyz 200)", "", f"{ready:.2f} s"],
        ["first search (builds BM25)", "", f"{first:.2f} s"],
        ["search, 1 client", "p50 / p95 / p99", _lat(one)],
        ["search, 8 clients", "p50 / p95 / p99", _lat(eight) + f", {eight['rps']:.0f} req/s"],
        ["RSS, API process", "", f"{api_mb:,.0f} MiB"],
        ["RSS, chroma run", "", f"{chroma_mb:,.0f} MiB"],
    ]
    text = (
        f"Scale: {written:,} chunks in a `chroma run` server on 127.0.0.1 (real chunks + "
        "perturbed copies: vectors with Gaussian noise, same texts)\n\n"
        + common.table(["what", "", "value"], rows)
    )
    common.write_report(f"scale-{args.chunks}", text)
    plt = common.plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    labels = ["API RSS", "Chroma RSS", "BM25 +RSS"]
    ax.bar(labels, [api_mb, chroma_mb, build_mb], color=["#4c72b0", "#55a868", "#c44e52"])
    ax.set_ylabel("MiB")
    ax.set_title(f"Memory at {written:,} chunks; search p95 {one['p95']:.0f} ms (1 client)")
    common.save_plot(fig, f"scale-{args.chunks}")


def _lat(r: dict[str, float]) -> str:
    return f"{r['p50']:.1f} / {r['p95']:.1f} / {r['p99']:.1f} ms"


if __name__ == "__main__":
    main()
