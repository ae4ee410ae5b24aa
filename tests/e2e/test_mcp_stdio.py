"""`qa mcp`: the MCP tools over stdin/stdout of a real subprocess, as desktop chat apps run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from .cli import ROOT, run_qa

pytestmark = pytest.mark.slow

SEEDS = ROOT / "seeds"
QUESTION = "How many Afghan soldiers did Tajik border guards let into Tajikistan on July 5?"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("mcp-stdio")
    done = run_qa(data, "ingest", str(SEEDS))
    assert done.returncode == 0, done.stderr
    return data


def qa_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env["QA_DATA_DIR"] = str(data_dir)
    return env


def rpc(n: int, method: str, params: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params})


def test_stdout_carries_only_protocol_messages(data_dir: Path, tmp_path: Path) -> None:
    """Raw newline-delimited JSON-RPC in and out; with -v the logs are plentiful, and every
    one of them must be on stderr: a single stray line on stdout breaks a client."""
    requests = [
        rpc(
            1,
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        ),
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        rpc(2, "tools/list", {}),
        rpc(3, "tools/call", {"name": "ask", "arguments": {"question": QUESTION}}),
        rpc(
            4,
            "tools/call",
            {"name": "get_lines", "arguments": {"doc_id": "x", "start": 3, "end": 1}},
        ),
    ]
    messages: list[dict[str, Any]] = []
    errlog = tmp_path / "stderr.log"  # a file, not a pipe: -v logs must not fill a buffer
    with (
        errlog.open("w") as stderr_file,
        subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "-v", "mcp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            env=qa_env(data_dir),
            cwd=ROOT,
        ) as process,
    ):
        assert process.stdin is not None and process.stdout is not None
        watchdog = threading.Timer(180, process.kill)
        watchdog.start()
        for request in requests:
            process.stdin.write(request + "\n")
            process.stdin.flush()
            wanted = json.loads(request).get("id")
            # A client waits for each reply (closing stdin early ends the server).
            while wanted is not None and not any(m.get("id") == wanted for m in messages):
                line = process.stdout.readline()
                assert line, "the server closed stdout"
                messages.append(json.loads(line))  # every line on stdout is JSON
        # End of input: the server finishes and exits.
        rest, _ = process.communicate(timeout=60)
        watchdog.cancel()
    stderr = errlog.read_text()
    assert process.returncode == 0, stderr[-2000:]
    messages += [json.loads(line) for line in rest.splitlines()]
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    replies = {m["id"]: m for m in messages if "id" in m}
    assert sorted(replies) == [1, 2, 3, 4]
    assert replies[1]["result"]["serverInfo"]["name"] == "qa"
    tools = {t["name"] for t in replies[2]["result"]["tools"]}
    assert tools == {"ask", "search", "get_lines"}
    answer = replies[3]["result"]["structuredContent"]
    assert "1,037" in answer["answer"]
    assert replies[4]["result"]["isError"] is True
    assert "end (1) must not be before start (3)" in replies[4]["result"]["content"][0]["text"]
    assert "DEBUG" in stderr  # -v logging happened, and went to stderr
