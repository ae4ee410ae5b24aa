"""`qa serve` exits within QA_SHUTDOWN_GRACE_S of SIGTERM, even with a request that will
never complete (a client gone quiet mid-body) and an ingestion job running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 2

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, reply.split(b"\r\n\r\n", 1)[1]


@pytest.fixture
def server(tmp_path: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env |= {
        "QA_DATA_DIR": str(tmp_path),
        "QA_SHUTDOWN_GRACE_S": str(GRACE_S),
        "QA_ASYNC_INGEST_BYTES": "0",  # every ingestion is a job
        "QA_LANGUAGE_CHECK": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, "qa serve died at start"
        assert time.monotonic() < deadline, "qa serve did not start"
        time.sleep(0.2)
    process.port = port  # type: ignore[attr-defined]
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_sigterm_with_an_abandoned_request_and_a_running_job_exits_within_the_grace(
    server: subprocess.Popen[bytes],
) -> None:
    port: int = server.port  # type: ignore[attr-defined]
    body = " ".join(f"The council met for session {i} this year." for i in range(3000))
    status, reply = request(
        port,
        "POST",
        "/v1/documents",
        json.dumps({"documents": [{"id": "big", "body": body}]}).encode(),
    )
    assert status == 202, reply
    job_url = json.loads(reply)["status_url"]
    deadline = time.monotonic() + 30
    while json.loads(request(port, "GET", job_url)[1])["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # A request whose body never arrives: it holds its connection open for ever.
    quiet = socket.create_connection(("127.0.0.1", port))
    quiet.sendall(
        b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"query"'
    )
    time.sleep(0.5)
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=GRACE_S + 8)
    finally:
        quiet.close()
    took = time.monotonic() - started
    assert took < GRACE_S + 5, f"took {took:.1f}s to exit"
    # Not before the grace: the quiet request was given its chance.
    assert took >= GRACE_S * 0.9
