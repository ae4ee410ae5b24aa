"""Freshness: seconds from the end of a `qa ingest` run in another process to a running
`qa serve` answering from the new document (and to /readyz saying "ready" again).

Two modes, ``--runs`` each: "busy", with a client searching throughout (a filtered search
that meets the lagging index makes the server open a fresh one there and then), and
"quiet", with no other traffic (the follower, polling every ``--poll`` s, reloads).

Two real processes on one data dir, as in the issue: the server (embedded Chroma, the seeds
ingested first) runs throughout; each run ingests one new article with `qa ingest` in a
subprocess while a client thread keeps searching (filtered on the new document, and not)
and reading /readyz, counting any 5xx. Meanwhile /v1/search (unfiltered) is asked every 20
ms until the new document is among the hits, then /readyz until it says "ready". Times are
from the ingest's write (its "stored documents" log line; the process takes ~1 s more to
exit) and from the process's exit (negative: answered before the ingest had even exited).

    python bench/freshness.py [--runs 10] [--poll 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(data_dir: Path, poll: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env.update(
        QA_DATA_DIR=str(data_dir),
        QA_LANGUAGE_CHECK="false",
        QA_REVISION_POLL_S=str(poll),
        QA_LOG_LEVEL="WARNING",
        QA_RATE_LIMIT_PER_MINUTE="0",  # the client thread asks ~50 times a second
    )
    return env


def qa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


STORED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*stored documents=", re.M)


def stored_at(stderr: str) -> float:
    """Wall time of the ingest's last write to the store (its "stored documents" log line):
    the process still takes ~1 s to exit after it."""
    stamps = STORED.findall(stderr)
    if not stamps:
        raise SystemExit(f"no 'stored documents' line in the ingest's log: {stderr[-2000:]}")
    return datetime.strptime(stamps[-1], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def found(response: httpx.Response, doc_id: str) -> bool:
    return response.status_code == 200 and any(
        hit["doc_id"] == doc_id for hit in response.json()["hits"]
    )


TOPICS = [
    ("Volcanologists", "sulphur emissions", "the crater rim of Mount Quillarek"),
    ("Beekeepers", "a collapse of hive numbers", "the orchards of Valdoria"),
    ("Astronomers", "a new comet", "the Tarsin observatory"),
    ("Fishermen", "a record herring catch", "the port of Skellhaven"),
    ("Archaeologists", "a bronze-age hoard", "the Morvenna hills"),
    ("Engineers", "cracks in a suspension bridge", "the Ostrava gorge"),
    ("Vintners", "an early grape harvest", "the Castellane valley"),
    ("Glaciologists", "a retreating ice shelf", "the Brandvik fjord"),
    ("Ornithologists", "the return of white storks", "the Lisker marshes"),
    ("Railway unions", "a strike over night shifts", "the Dunmore depot"),
    ("Seismologists", "a swarm of small earthquakes", "the Ardel basin"),
    ("Botanists", "a flowering of rare orchids", "the Pellan cliffs"),
]


def article(run: int) -> tuple[str, str, str]:
    """A new document per run, on its own topic: its id, a query only it answers, and its
    JSONL record."""
    who, what, where = TOPICS[(run - 1) % len(TOPICS)]
    body = (
        f"{who} at {where} reported {what} this week. "
        f"Officials said {what} at {where} would be studied over the coming months."
    )
    doc_id = f"news-{run}"
    record = {"id": doc_id, "source": "wire", "title": f"{who}: {what}", "body": body}
    return doc_id, f"What did {who.lower()} report at {where}?", json.dumps(record) + "\n"


class Client(threading.Thread):
    """Searches (filtered on the new document, and not) and reads /readyz meanwhile."""

    def __init__(self, url: str, doc_id: str, query: str) -> None:
        super().__init__(daemon=True)
        self.url, self.doc_id, self.query = url, doc_id, query
        self.statuses: Counter[int] = Counter()
        self.readiness: Counter[str] = Counter()
        self.stop = threading.Event()

    def run(self) -> None:
        filters = {"doc_id": [self.doc_id]}
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                for response in (
                    http.post("/v1/search", json={"query": self.query, "filters": filters}),
                    http.post("/v1/search", json={"query": self.query}),
                    http.get("/readyz"),
                ):
                    self.statuses[response.status_code] += 1
                    if response.url.path == "/readyz" and response.status_code == 200:
                        self.readiness[response.json()["status"]] += 1
                time.sleep(0.02)


def one_run(
    http: httpx.Client, env: dict[str, str], tmp: Path, run: int, *, busy: bool
) -> dict[str, Any]:
    doc_id, query, record = article(run)
    path = tmp / f"new-{run}.jsonl"
    path.write_text(record, encoding="utf-8")
    client = Client(str(http.base_url), doc_id, query)
    if busy:
        client.start()
    started = time.time()
    answered: float | None = None
    ready: float | None = None
    exited: float | None = None
    ingest = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "-v", "ingest", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Asked while the ingest runs and after: the write lands ~1 s before it exits.
        while answered is None or ready is None or exited is None:
            if exited is None and ingest.poll() is not None:
                exited = time.time()
            if answered is None and found(http.post("/v1/search", json={"query": query}), doc_id):
                answered = time.time()
            if (
                answered is not None
                and ready is None
                and http.get("/readyz").json()["status"] == "ready"
            ):
                ready = time.time()
            if time.time() - started > 120:
                raise SystemExit(f"run {run}: not answered from the new document in 120 s")
            time.sleep(0.02)
        _, stderr = ingest.communicate()
        if ingest.returncode:
            raise SystemExit(f"run {run}: qa ingest failed: {stderr[-2000:]}")
        stored = stored_at(stderr)
    finally:
        client.stop.set()
        if busy:
            client.join(30)
    return {
        "run": run,
        "busy": busy,
        "answered_after_write_s": round(answered - stored, 3),
        "ready_after_write_s": round(ready - stored, 3),
        "answered_after_exit_s": round(answered - exited, 3),
        "ingest_s": round(exited - started, 2),
        "requests": sum(client.statuses.values()),
        "5xx": sum(n for status, n in client.statuses.items() if status >= 500),
        "statuses": dict(client.statuses),
        "readyz": dict(client.readiness),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--poll", type=float, default=1.0, help="QA_REVISION_POLL_S")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = environment(tmp / "data", args.poll)
        qa(env, "ingest", str(ROOT / "seeds"))
        port = free_port()
        log = (tmp / "serve.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        rows = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                deadline = time.monotonic() + 180
                while True:
                    try:
                        if http.get("/readyz").json().get("status") == "ready":
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("qa serve did not start")
                    time.sleep(0.2)
                for run in range(1, 2 * args.runs + 1):
                    row = one_run(http, env, tmp, run, busy=run <= args.runs)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            server.terminate()
            server.wait(30)
            log.close()
    summary: dict[str, Any] = {"poll_s": args.poll}
    for mode, busy in (("busy", True), ("quiet", False)):
        runs = [r for r in rows if r["busy"] == busy]
        summary[mode] = {"runs": len(runs), "requests": sum(r["requests"] for r in runs)}
        summary[mode]["5xx"] = sum(r["5xx"] for r in runs)
        keys = ("answered_after_write_s", "ready_after_write_s", "answered_after_exit_s")
        for key in keys:
            values = [r[key] for r in runs]
            summary[mode][key] = {
                "median": statistics.median(values),
                "max": max(values),
                "min": min(values),
            }
    print(json.dumps(summary))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "freshness.json").write_text(
        json.dumps({"summary": summary, "runs": rows}, indent=2), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
