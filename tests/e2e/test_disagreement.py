"""End to end on the seeds: two outlets giving different figures are both cited, and the
answer says that they differ and who reported which."""

from __future__ import annotations

import json
from pathlib import Path

from e2e.cli import ROOT, run_qa

SEED_A = "000_4e774364687dacde.txt"  # AsiaNews: 1,037 soldiers on July 5
SEED_B = "001_6767eb312ccb9e98.txt"  # rt.com (6 July 2021): at least 134 soldiers last week


def test_seed_sources_that_differ_are_framed(tmp_path: Path) -> None:
    ingested = run_qa(tmp_path, "ingest", str(ROOT / "seeds"))
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    question = "How many Afghan soldiers crossed into Tajikistan?"
    result = run_qa(tmp_path, "ask", question, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout)
    assert answer["sources_differ"] is True
    n = {c["source"]: c["n"] for c in reversed(answer["citations"])}
    assert {SEED_A, SEED_B} <= set(n)
    text = answer["answer"]
    assert text.startswith("Sources differ: ")
    assert f"rt.com (6 July 2021) reports at least 134 soldiers [{n[SEED_B]}]" in text
    assert f"AsiaNews reports 1,037 Afghan soldiers [{n[SEED_A]}]" in text
    # A question about one outlet's figure is answered plainly from it.
    result = run_qa(
        tmp_path,
        "ask",
        "According to RT, how many soldiers loyal to the Kabul "
        "government crossed the border last week?",
        "--json",
    )
    answer = json.loads(result.stdout)
    assert answer["sources_differ"] is False
    assert "134" in answer["answer"] and "differ" not in answer["answer"]
