"""Ingest progress in embedder tokens (total known up front, moving with every embedder
call) and the run's summary."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fakes.service import ServiceFactory

from qa.ingest.pipeline import EMBED_SLICE
from qa.ingest.progress import token_progress


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ServiceFactory]:
    with ServiceFactory(tmp_path / "services") as factory:
        yield factory


class Recorder:
    """A progress factory that records its total and every step."""

    def __init__(self) -> None:
        self.totals: list[int] = []
        self.steps: list[int] = []

    def __call__(self, total: int) -> Callable[[int], None]:
        self.totals.append(total)
        return self.steps.append


def corpus(folder: Path, files: int) -> Path:
    folder.mkdir()
    for i in range(files):
        (folder / f"{i:03d}.txt").write_text(
            f"Note {i}\n\nThe council approved line {i} of the budget. Work starts soon.\n"
        )
    return folder


def test_progress_counts_tokens_with_the_total_known_before_embedding(
    make: ServiceFactory, tmp_path: Path
) -> None:
    built = make()
    folder = corpus(tmp_path / "news", 120)  # 120 chunks + their sentences: several calls
    recorder = Recorder()

    report = built.service.ingest_paths([folder], progress_factory=recorder)

    assert len(recorder.totals) == 1
    assert recorder.totals[0] == report.tokens == sum(recorder.steps) > 0
    assert len(recorder.steps) >= 120 * 3 // EMBED_SLICE  # it moves, call after call
    assert max(recorder.steps) < recorder.totals[0]
    assert (report.added, report.chunks) == (120, 120)

    again = Recorder()
    unchanged = built.service.ingest_paths([folder], progress_factory=again)
    assert (again.totals, again.steps, unchanged.tokens) == ([0], [], 0)


def test_summary_names_every_outcome_and_the_rate(make: ServiceFactory, tmp_path: Path) -> None:
    service = make().service
    folder = corpus(tmp_path / "news", 3)
    (folder / "skip.csv").write_text("a,b\n")
    report = service.ingest_paths([folder])
    summary = report.summary()
    assert summary.startswith("3 added, 0 updated, 0 unchanged, 1 skipped, 0 failed, 0 removed;")
    assert f"3 chunks in {report.seconds:.1f} s" in summary
    assert f"({report.tokens} tokens embedded at " in summary and "tokens/s)" in summary
    (folder / "000.txt").write_text("Note 0\n\nThe council changed its mind.\n")
    (folder / "002.txt").unlink()
    pruned = service.ingest_paths([folder], prune=True)
    assert pruned.summary().startswith(
        "0 added, 1 updated, 1 unchanged, 1 skipped, 0 failed, 1 removed;"
    )
    assert pruned.as_dict()["removed_ids"] == ["news/002.txt"]


def test_the_bar_is_quiet_off_a_terminal() -> None:
    stream = io.StringIO()
    advance = token_progress(1000, stream=stream)
    advance(500)
    assert stream.getvalue() == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_on_a_terminal_counts_tokens_against_the_total() -> None:
    stream = Terminal()
    advance = token_progress(4000, stream=stream)
    assert "0.00/4.00k" in stream.getvalue()  # the total, before any work
    assert "tok/s" in stream.getvalue()
    advance(4000)  # done: the bar closes (and clears its line)


def test_embed_slices_cover_every_text_once_within_the_budget_short_and_long_in_turn() -> None:
    from qa.ingest.pipeline import EMBED_SLICE_TOKENS, _slices

    tokens = [5] * 900 + [200] * 300  # sentences, then chunks
    order = sorted(range(len(tokens)), key=tokens.__getitem__)
    parts = list(_slices(order, tokens))
    assert sorted(i for part in parts for i in part) == list(range(len(tokens)))
    assert all(len(p) <= EMBED_SLICE for p in parts)
    assert all(sum(tokens[i] for i in p) <= EMBED_SLICE_TOKENS for p in parts)
    # the first two calls: one of short texts, one of long ones (the rate stays even)
    assert {tokens[parts[0][0]], tokens[parts[1][0]]} == {5, 200}
