"""Where the data is (one per-user folder, whatever the working directory), `qa status`,
an empty store said to be empty, and nothing sent to an LLM unless one is chosen."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from e2e.cli import run_qa

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
QUESTION = "How long is the Tajik-Afghan border in Badakhshan province?"


def qa_in(cwd: Path, data_home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`qa ARGS` run from ``cwd`` with no QA_DATA_DIR: the per-user default is used, under
    ``data_home`` ($XDG_DATA_HOME)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    clean |= {"XDG_DATA_HOME": str(data_home), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=cwd,
        timeout=180,
        check=False,
    )


def test_one_store_from_any_working_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "seeds").symlink_to(SEEDS)

    empty = qa_in(elsewhere, home, "ask", QUESTION)
    assert empty.returncode == 1
    assert empty.stderr.strip().splitlines() == [
        f"qa: no documents ingested yet: run qa ingest PATH (data: {home / 'qa'})"
    ]

    ingested = qa_in(work, home, "ingest", "seeds")
    assert ingested.returncode == 0, ingested.stderr
    assert f"qa: data in {home / 'qa'}" in ingested.stderr
    assert not (work / "data").exists()

    # OPENAI_API_KEY alone chooses nothing: answers stay extractive, on this machine.
    answered = qa_in(elsewhere, home, "ask", QUESTION, "--json", OPENAI_API_KEY="sk-test")
    assert answered.returncode == 0, answered.stderr
    answer = json.loads(answered.stdout)
    assert "910" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == "seeds/000_4e774364687dacde.txt"

    status = json.loads(qa_in(elsewhere, home, "status", "--json", OPENAI_API_KEY="k").stdout)
    assert status["data_dir"] == str(home / "qa")
    assert (status["documents"], status["chunks"]) == (2, 8)
    assert status["last_ingest"] is not None
    assert status["embedder"].startswith("local")
    assert status["answerer"].startswith("extractive")
    chosen = qa_in(elsewhere, home, "status", QA_LLM="openai", OPENAI_API_KEY="k")
    assert "answerer    LLM gpt-4o-mini at https://api.openai.com/v1" in chosen.stdout


def test_status_of_a_fresh_data_dir_creates_nothing(tmp_path: Path) -> None:
    result = run_qa(tmp_path / "data", "status")
    assert result.returncode == 0
    assert "documents   0" in result.stdout
    assert "no documents ingested yet: run qa ingest PATH" in result.stdout
    assert not (tmp_path / "data").exists()


def test_an_old_dot_data_store_is_pointed_out(tmp_path: Path) -> None:
    (tmp_path / "data" / "chroma").mkdir(parents=True)
    result = qa_in(tmp_path, tmp_path / "home", "status")
    assert f"Set QA_DATA_DIR={tmp_path / 'data'} to keep using it" in result.stderr


def test_serve_refuses_bad_ports_and_hosts_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            ("--port", "99999"): "qa: --port must be between 1 and 65535 (got 99999)",
            ("--port", "0"): "qa: --port must be between 1 and 65535 (got 0)",
            ("--host", "not a host"): "qa: --host 'not a host' is not an IP address or a host name",
            ("--host", "203.0.113.7"): "qa: --host 203.0.113.7 is not an address of this machine",
            ("--port", str(port)): f"qa: port {port} on 127.0.0.1 is in use by another program",
        }
        for args, message in cases.items():
            result = run_qa(tmp_path, "serve", *args, timeout=60)
            assert result.returncode == 2, (args, result.stderr)
            [line] = result.stderr.strip().splitlines()
            assert line.startswith(message), (args, line)
