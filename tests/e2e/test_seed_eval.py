"""End to end: `qa eval` ingests seeds/ and answers the labelled seed questions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from e2e.cli import run_qa

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "tests" / "data" / "seed-questions.jsonl"


def run_eval(data_dir: Path, chroma_url: str | None = None) -> dict[str, Any]:
    env: dict[str, str] = {}
    if chroma_url:
        env["QA_CHROMA_URL"] = chroma_url
        env["QA_CHUNKS_COLLECTION"] = f"e2e_chunks_{os.getpid()}"
        env["QA_DOCUMENTS_COLLECTION"] = f"e2e_documents_{os.getpid()}"
    args = ("eval", str(QUESTIONS), "--k", "3", "--ingest", str(ROOT / "seeds"), "--json")
    result = run_qa(data_dir, *args, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def check(report: dict[str, Any]) -> None:
    totals = report["totals"]
    rows = {row["id"]: row for row in report["rows"]}
    assert totals["hit_at_k"] == 1.0, [
        r["id"] for r in rows.values() if r["answerable"] and not r["hit"]
    ]
    assert totals["answer_match"] >= 0.9, [
        (r["id"], r["answer"]) for r in rows.values() if r["answer_match"] is False
    ]
    assert totals["citation_precision"] >= 0.95
    for row in rows.values():
        if not row["answerable"]:
            assert row["abstained"], row
            assert row["citations"] == 0
    assert totals["forbidden_citations"] == 0


def test_seed_questions_embedded_chroma(tmp_path: Path) -> None:
    check(run_eval(tmp_path))


@pytest.mark.server
def test_seed_questions_chroma_server(tmp_path: Path, chroma_server: Any) -> None:
    url = chroma_server if isinstance(chroma_server, str) else chroma_server.url
    check(run_eval(tmp_path, url))


def test_seed_conversations_follow_ups_never_worse_than_alone(tmp_path: Path) -> None:
    """eval/conversations/seeds.jsonl through the service: every self-contained follow-up
    gets the answer it gets alone, and most follow-ups are answered right in conversation
    (48.5% before follow-ups were judged; see bench/README.md)."""
    conversations = ROOT / "eval" / "conversations" / "seeds.jsonl"
    args = ("eval", str(conversations), "--ingest", str(ROOT / "seeds"), "--json")
    result = run_qa(tmp_path, *args, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    follow = report["follow_ups"]
    assert follow["self_contained"] >= 10 and follow["dependent"] >= 20
    assert follow["same_as_alone"] == 1.0, [
        (t["id"], t["in_conversation"]["answer"], t["alone"]["answer"])
        for t in report["turns"]
        if t["same_as_alone"] is False
    ]
    assert follow["in_conversation"] >= 0.65, [
        (t["id"], t["in_conversation"]["answer"]) for t in report["turns"] if not t["correct"]
    ]
    assert report["totals"]["forbidden_citations"] == 0
