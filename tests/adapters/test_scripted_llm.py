"""QA_LLM=scripted: the whole LLM path (prompt, citations, verification) with no server."""

from __future__ import annotations

from pathlib import Path

from qa.config import Settings
from qa.wiring import build_service

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_scripted_llm_answers_through_the_llm_path(tmp_path: Path) -> None:
    service = build_service(Settings(data_dir=tmp_path, llm="scripted", _env_file=None))
    assert service.ingest_paths([SEEDS]).failed == 0
    answer = service.ask("How many Afghan soldiers did Tajik border guards let in on July 5?")
    assert answer.mode == "llm" and answer.answerable and not answer.degraded
    [citation] = answer.citations
    document = service.get_document(citation.doc_id)
    quoted = "\n".join(document.lines[citation.line_start - 1 : citation.line_end])
    assert citation.quote in quoted  # verified against the stored lines
    assert service.readiness()["llm"] == "configured"


def test_off_means_extractive_even_with_a_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, llm="off", llm_api_key="k", _env_file=None)
    assert not settings.llm.enabled
    service = build_service(settings)
    service.ingest_paths([SEEDS])
    assert service.ask("Who is Dmitry Peskov?").mode == "extractive"
