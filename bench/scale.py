"""Scale: a `chroma run` server with N chunks; search latency, memory, BM25 build cost.

Usage: python bench/scale.py [--chunks 100000] [--requests 200]
The chunks are the real wikiqa-dev + seed chunks, then perturbed copies of them (vectors plus
Gaussian noise, same texts), written straight through ChromaStore (no embedding).
1M chunks takes tens of minutes to write on 2 cores: pass --chunks 1000000 for that.
"""

from __future__ import annotations

import argparse
import itertools
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


def bm25_build(
    chroma_url: str, data_dir: Path, qs: list[str], written_at: float
) -> dict[str, float]:
    """Build the BM25 index from the server's chunks in this process (timed, resident MiB
    added), save it under ``data_dir`` for the API to load, then time an incremental sync
    after one more document and a load of the saved index."""
    from qa.store.lexical import CLOCK_SKEW_S, LexicalIndex
    from qa.types import DocumentWrite

    parts = common.components(data_dir, chroma_url=chroma_url)
    svc = common.service_of(parts)
    store, lexical = parts.store, parts.lexical
    store.ping()
    before = common.rss_mb(os.getpid())
    build_s, _ = common.timed(lambda: lexical.sync(store))
    grown = common.rss_mb(os.getpid()) - before
    indexed = len(lexical)
    doc, chunks, vectors = common.real_chunks()[0]

    def write_one_more(n: int) -> None:  # one more document, as another writer would
        extra = doc.model_copy(update={"doc_id": f"scale-extra-{n}"})
        moved = [
            c.model_copy(update={"doc_id": extra.doc_id, "chunk_id": f"x{n}:{c.index}"})
            for c in chunks
        ]
        store.write([DocumentWrite(extra, tuple(moved), vectors)])

    write_one_more(0)
    # A sync re-lists what was written within CLOCK_SKEW_S of the previous one (a writer's
    # clock or commit may lag): right after the bulk load that is every document.
    recent_s, _ = common.timed(lambda: lexical.sync(store))
    settle = written_at + CLOCK_SKEW_S + 5 - time.time()
    if settle > 0:
        print(f"waiting {settle:.0f} s for the bulk load to age past the clock-skew margin")
        time.sleep(settle)
    write_one_more(1)
    idle_s, _ = common.timed(lambda: lexical.sync(store))  # nothing else running
    write_one_more(2)
    # As in the API: the next search notices the write, starts the sync (in the background
    # above LexicalIndex's inline_max) and answers from the previous snapshot meanwhile.
    started = time.perf_counter()
    notice_s, _ = common.timed(lambda: lexical.sync(store, wait=False))
    during: list[float] = []
    for n in itertools.count():
        if lexical.revision == store.revision():
            break
        during.append(common.timed(lambda n=n: svc.search(qs[n % len(qs)], 5))[0] * 1000)
    sync_s = time.perf_counter() - started
    lexical.wait()  # and its save, which the load below reads
    settings = svc.settings
    load_s, loaded = common.timed(
        lambda: LexicalIndex(settings.store.lexical_cache_dir, cache_key=settings.store.identity)
    )
    load_s += common.timed(lambda: loaded.sync(store))[0]
    return {
        "build_s": build_s,
        "build_mb": grown,
        "indexed": indexed,
        "recent_sync_s": recent_s,
        "idle_sync_s": idle_s,
        "sync_s": sync_s,
        "notice_ms": notice_s * 1000,
        "during_n": len(during),
        "during_p50": common.pct(during, 50) if during else float("nan"),
        "during_p95": common.pct(during, 95) if during else float("nan"),
        "load_s": load_s,
    }


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
            bm25 = bm25_build(url, tmp / "api", qs, time.time())
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
        [
            "BM25 index build (reads every chunk)",
            f"{bm25['indexed']:,} chunks",
            f"{bm25['build_s']:.1f} s, +{bm25['build_mb']:,.0f} MiB",
        ],
        [
            "BM25 sync after one more document",
            "1st, right after the bulk load",
            f"{bm25['recent_sync_s']:.1f} s",
        ],
        [
            "the same, 5 min later",
            "2nd (re-lists the load: it is within 5 min before the 1st)",
            f"{bm25['idle_sync_s']:.1f} s",
        ],
        [
            "the same, with searches running",
            "3rd (steady state: lists only what is new)",
            f"{bm25['sync_s']:.1f} s (the search noticing it returned in "
            f"{bm25['notice_ms']:.0f} ms)",
        ],
        [
            "searches during that sync, in process",
            f"{bm25['during_n']:,} searches",
            f"p50 {bm25['during_p50']:.1f} / p95 {bm25['during_p95']:.1f} ms",
        ],
        ["BM25 load of the saved index", "", f"{bm25['load_s']:.2f} s"],
        ["API ready (/readyz 200)", "", f"{ready:.2f} s"],
        ["first search (saved BM25 index)", "", f"{first:.2f} s"],
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
    ax.bar(labels, [api_mb, chroma_mb, bm25["build_mb"]], color=["#4c72b0", "#55a868", "#c44e52"])
    ax.set_ylabel("MiB")
    ax.set_title(f"Memory at {written:,} chunks; search p95 {one['p95']:.0f} ms (1 client)")
    common.save_plot(fig, f"scale-{args.chunks}")


def _lat(r: dict[str, float]) -> str:
    return f"{r['p50']:.1f} / {r['p95']:.1f} / {r['p99']:.1f} ms"


if __name__ == "__main__":
    main()
