"""Soak: many clients asking a real `qa serve` for minutes; does memory plateau?

Usage: python bench/soak.py [--seconds 600] [--clients 32] [--every 15] [--ttl-days 0.001]
Ingests seeds/ into a fresh data folder, serves it on loopback (rate limit off), and has
``--clients`` threads ask /v1/ask without pause: most questions plain (nothing stored),
one in eight starting a conversation and following it up once. Every ``--every`` seconds it
prints the server's resident memory (VmRSS), the requests answered, and the conversations in
the database; ``--ttl-days`` (QA_CONVERSATION_TTL_DAYS, default about 86 s) lets expiry
happen within the run. Needs no ../shared data (questions from tests/data).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common
import httpx
from latency import server

QUESTIONS = common.ROOT / "tests" / "data" / "seed-questions.jsonl"
FOLLOW_UP = "And what happened next?"


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def conversations(data_dir: Path) -> int:
    db = sqlite3.connect(f"file:{data_dir / 'qa.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return int(db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0])
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--every", type=float, default=15, help="seconds between samples")
    parser.add_argument("--ttl-days", default="0.001", help="QA_CONVERSATION_TTL_DAYS")
    args = parser.parse_args()
    qs = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line]
    data_dir = Path(tempfile.mkdtemp(prefix="qa-soak-"))
    env = {"QA_DATA_DIR": str(data_dir), "PYTHONPATH": str(common.ROOT)}
    subprocess.run(
        [sys.executable, "-m", "qa.cli", "ingest", str(common.SEEDS)],
        check=True,
        cwd=common.ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )
    counter = itertools.count()
    done = [0, 0]  # answered, errors
    lock = threading.Lock()
    stop = threading.Event()

    def worker(url: str, n: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            for i in itertools.count():
                if stop.is_set():
                    return
                question = f"{qs[(n + i) % len(qs)]} ({next(counter)})"
                remember = i % 8 == 0
                response = client.post(
                    "/v1/ask", json={"question": question, "conversation": remember}
                )
                ok = response.status_code == 200
                if ok and remember:
                    conversation = response.json()["conversation_id"]
                    response = client.post(
                        "/v1/ask", json={"question": FOLLOW_UP, "conversation_id": conversation}
                    )
                    ok = response.status_code == 200
                with lock:
                    done[0] += ok
                    done[1] += not ok

    with server(data_dir, QA_CONVERSATION_TTL_DAYS=args.ttl_days) as (url, proc, ready):
        print(f"ready after {ready:.1f} s; RSS {rss_mib(proc.pid):.0f} MiB before load")
        threads = [
            threading.Thread(target=worker, args=(url, n), daemon=True) for n in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        print("| s | requests answered | errors | RSS MiB | conversations stored |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        while (elapsed := time.monotonic() - started) < args.seconds:
            time.sleep(min(args.every, max(0.0, args.seconds - elapsed)))
            elapsed = time.monotonic() - started
            with lock:
                answered, errors = done
            row = (elapsed, answered, errors, rss_mib(proc.pid), conversations(data_dir))
            print("| {:.0f} | {} | {} | {:.0f} | {} |".format(*row), flush=True)
        stop.set()
        for thread in threads:
            thread.join(timeout=130)


if __name__ == "__main__":
    main()
