"""Where one /v1/search spends its time: py-spy on a real `qa serve` under a one-client load.

Usage: python bench/profile_search.py [--chunks 10000] [--seconds 20] [--rate 100] [--clients 1]

Needs py-spy (the dev extra) and permission to attach to a child process (root, or
kernel.yama.ptrace_scope 0). Samples the server's Python threads with their native frames
(``--native``), leaves out samples where a thread waits on a lock or a queue (idle), and
groups the rest of the request path (the event loop thread and the threadpool threads) by
stage; the raw samples stay in bench/out/profile_search.txt (py-spy's collapsed format, for
flame graph tools). Sampling slows the server: read the shares, not the absolute times.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import common
import latency

#: (stage, substrings of a sample's stack), first match wins: deeper stages first.
STAGES = [
    ("question embedding: onnxruntime run", ["Session.run"]),
    (
        "question embedding: tokenizer, pooling, cache",
        ["LocalMiniLMEmbedder", "VectorCache.embed", "BatchingEmbedder"],
    ),
    ("Chroma dense query (ids only)", ["query_ids"]),
    ("Chroma read of the kept passages", ["get_hits"]),
    ("BM25 (sync check, search)", ["LexicalIndex", "lexical.py"]),
    ("fusion, diversity, Hit copies", ["retrieval.py"]),
    (
        "request body: parse, validate",
        ["request_body_to_args", "Request.json", "Request.body", "validate_python"],
    ),
    ("FastAPI dependencies", ["solve_dependencies"]),
    ("response: validate, serialise", ["serialize_response", "dump_json", "jsonable_encoder"]),
    (
        "threadpool handoff (anyio)",
        ["run_sync_in_worker_thread", "run_in_threadpool", "WorkerThread", "Condition.notify"],
    ),
]
#: The rest by the file of the innermost Python frame (every request runs inside the
#: middleware, so a match anywhere in the stack would say nothing).
LEAF_STAGES = [
    ("qa middleware (ids, metrics, auth, limits, shedding)", ["qa/api/", "prometheus_client/"]),
    ("FastAPI, starlette routing", ["starlette/", "fastapi/", "pydantic/", "anyio/"]),
    ("uvicorn, event loop", ["uvicorn/", "asyncio/", "runners.py", "events.py"]),
]
IDLE_LEAVES = ("Condition.wait", "Queue.get", "Event.wait")
REQUEST_THREADS = ("MainThread", "AnyIO worker thread")


def stage_of(stack: str, leaf: str) -> str:
    for name, keys in STAGES:
        if any(k in stack for k in keys):
            return name
    return next((name for name, keys in LEAF_STAGES if any(k in leaf for k in keys)), "other")


def breakdown(raw: Path) -> tuple[collections.Counter[tuple[str, str]], collections.Counter[str]]:
    """Samples by (thread, stage) on the request path, and by thread elsewhere."""
    path: collections.Counter[tuple[str, str]] = collections.Counter()
    others: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        thread = re.sub(r"^thread \(\d+\): ", "", stack.split(";", 1)[0])
        python_frames = [f for f in stack.split(";") if ".py:" in f]
        leaf = python_frames[-1] if python_frames else ""
        if any(idle in leaf for idle in IDLE_LEAVES):
            continue
        if thread in REQUEST_THREADS:
            path[(thread, stage_of(stack, leaf))] += int(count)
        else:
            others[thread] += int(count)
    return path, others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=10000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    common.require_shared()
    common.quiet_logs()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        sys.exit("bench: py-spy is not installed (pip install -e '.[dev]')")
    qs = latency.questions()
    raw = common.OUT / "profile_search.txt"
    common.OUT.mkdir(parents=True, exist_ok=True)
    requests = 0
    with latency.server(common.scaled_data_dir(args.chunks)) as (url, proc, _):
        latency.load(url, "/v1/search", 1, 30, qs)  # warm
        command = [spy, "record", "--native", "--threads", "-r", str(args.rate)]
        command += ["-d", str(args.seconds), "-f", "raw", "-o", str(raw), "-p", str(proc.pid)]
        recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        while recorder.poll() is None:
            requests += int(latency.load(url, "/v1/search", args.clients, 50, qs)["n"])
        if recorder.returncode != 0 or not raw.exists():
            error = recorder.stderr.read().decode() if recorder.stderr else ""
            sys.exit(f"bench: py-spy failed: {error.strip()[:300]}")
    path, others = breakdown(raw)
    total = sum(path.values())
    rows = [[thread, stage, n, 100 * n / total] for (thread, stage), n in path.most_common() if n]
    text = (
        f"py-spy --native at {args.rate} Hz on `qa serve` for {args.seconds} s, {args.clients} "
        f"client(s), {args.chunks:,} chunks, {requests} searches; samples on the request path "
        f"(idle and lock waits left out): {total}\n\n"
        + common.table(["thread", "stage", "samples", "%"], rows)
        + "\n\nother threads (samples): "
        + ", ".join(f"{name} {n}" for name, n in others.most_common(5))
    )
    common.write_report("profile_search", text)


if __name__ == "__main__":
    main()
