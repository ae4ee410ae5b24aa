"""The `qa` command line as a user runs it: exit codes, one-line errors, idempotent ingest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from e2e.cli import run_qa

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"


def qa(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_qa(data_dir, *args)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for seed in SEEDS.iterdir():
        (folder / seed.name).write_bytes(seed.read_bytes())
    (folder / "broken.jsonl").write_text(
        '{"id": "ok-1", "title": "Fine", "body": "The river flooded the valley in May."}\n'
        "{not json\n"
        '{"id": "no-body", "title": "Empty"}\n'
    )
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02garbage")
    (folder / "notes.csv").write_text("a,b\n")
    return folder


def test_ingest_reports_bad_files_and_keeps_the_rest(tmp_path: Path, corpus: Path) -> None:
    result = qa(tmp_path, "ingest", str(corpus))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert any("broken.jsonl:2" in line and "JSON" in line for line in errors), errors
    assert any("broken.jsonl:3" in line for line in errors), errors
    skips = [line for line in result.stderr.splitlines() if line.startswith("skipped:")]
    assert "skipped: binary.txt: binary file (contains NUL bytes), not text" in skips, skips
    assert any("notes.csv: unsupported file type" in line for line in skips), skips
    assert "Traceback" not in result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("3 added, 0 updated, 0 unchanged")
    assert "2 skipped" in summary
    assert "2 failed" in summary

    again = qa(tmp_path, "ingest", str(corpus), "--json")
    report = json.loads(again.stdout)
    assert (report["documents"], report["unchanged"], report["chunks"]) == (0, 3, 0)


def test_changed_file_replaces_its_chunks_and_prune_removes_gone_files(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Harbour news\n\nThe ferry carried 120 passengers on Monday.\n")
    (folder / "b.txt").write_text("Mountain news\n\nThe pass closed after 40 cm of snow.\n")
    data = tmp_path / "data"
    assert qa(data, "ingest", str(folder)).returncode == 0
    (folder / "a.txt").write_text("Harbour news\n\nThe ferry carried 95 passengers on Tuesday.\n")
    report = json.loads(qa(data, "ingest", str(folder), "--json").stdout)
    assert (report["documents"], report["unchanged"]) == (1, 1)
    hits = json.loads(qa(data, "search", "ferry passengers", "--json").stdout)["hits"]
    texts = " ".join(h["text"] for h in hits)
    assert "95 passengers" in texts
    assert "120 passengers" not in texts
    (folder / "b.txt").unlink()
    report = json.loads(qa(data, "ingest", str(folder), "--prune", "--json").stdout)
    assert report["pruned"] == 1
    hits = json.loads(qa(data, "search", "snow pass", "--json").stdout)["hits"]
    assert all(h["source"] != "b.txt" for h in hits)


def test_ask_prints_answer_and_citation(tmp_path: Path) -> None:
    assert qa(tmp_path, "ingest", str(SEEDS)).returncode == 0
    result = qa(tmp_path, "ask", "How long is the Tajik-Afghan border in Badakhshan province?")
    assert result.returncode == 0
    assert "910" in result.stdout
    assert "000_4e774364687dacde.txt, lines 7-7" in result.stdout
    data = json.loads(qa(tmp_path, "ask", "Who won the 2022 FIFA World Cup?", "--json").stdout)
    assert data["answerable"] is False
    assert data["citations"] == []
    # As of 5 July 2021 the RT article (6 July) is not out; the undated one still counts.
    soldiers = "How many Afghan soldiers crossed into Tajikistan?"
    for command in ("ask", "search"):
        out = json.loads(qa(tmp_path, command, soldiers, "--as-of", "2021-07-05", "--json").stdout)
        cited = out["citations"] if command == "ask" else out["hits"]
        assert {c["source"] for c in cited} == {"000_4e774364687dacde.txt"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("ingest", "/no/such/path"), "/no/such/path"),
        (("ask", "   "), "question is empty"),
        (("search", "x", "--k", "0"), "top_k"),
        (("eval", "/no/such/questions.jsonl"), "questions.jsonl"),
        (("frobnicate",), "invalid choice"),
        (("ask", "Why?", "--as-of", "2021-13-01"), "--as-of: expected a date as YYYY-MM-DD"),
        (("search", "x", "--as-of", "July 6"), "--as-of: expected a date as YYYY-MM-DD"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    result = qa(tmp_path, *args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    if "--as-of" in args:
        assert len(result.stderr.strip().splitlines()) == 1


def test_eval_exits_non_zero_below_a_threshold(tmp_path: Path) -> None:
    questions = ROOT / "tests" / "data" / "seed-questions.jsonl"
    result = qa(
        tmp_path,
        "eval",
        str(questions),
        "--ingest",
        str(SEEDS),
        "--quiet",
        "--min-precision",
        "1.01",
    )
    assert result.returncode == 1
    assert "below threshold: precision" in result.stdout
    assert "citation precision" in result.stdout


def test_feedback_export_is_json_lines(tmp_path: Path) -> None:
    from qa.store.conversations import ConversationStore
    from qa.types import Feedback

    store = ConversationStore(tmp_path / "qa.sqlite3")
    store.record_feedback(
        Feedback(
            conversation_id="c1",
            question="q?",
            answer="a [1]",
            citations=[],
            verdict="up",
            user="U1",
            source="slack",
        )
    )
    store.close()
    result = qa(tmp_path, "feedback", "export")
    assert result.returncode == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["verdict"] == "up"
    assert rows[0]["question"] == "q?"


def test_slack_without_tokens_fails_at_once_with_one_line(tmp_path: Path) -> None:
    result = run_qa(tmp_path, "slack")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "QA_SLACK_APP_TOKEN" in result.stderr
